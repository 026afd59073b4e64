import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../electron/ml/backend.ts';

/** Deterministic, non-trivial values (no ties, so max-pool argmax is unambiguous). */
const values = (shape: number[], phase: number) =>
  Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.731 + phase) + 0.001 * i);

/** Runs `f` on a backend and returns the gradients of sum(f(...)²) w.r.t. every input. */
function gradsOn(backend: string, f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][]): Float32Array[] {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const inputs = shapes.map((s, i) => tf.tensor(values(s, i), s));
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.square(f(...xs))))(inputs);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / scale;
    if (err > 1e-4)
      assert.fail(
        `${what}: element ${i} is ${actual[i]} where ${expected[i]} is expected (relative error ${err.toExponential(2)})`,
      );
  }
}

function compare(name: string, f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][]) {
  const expected = gradsOn('cpu', f, shapes);
  const actual = gradsOn('wasm', f, shapes);
  expected.forEach((e, i) => assertClose(actual[i]!, e, `${name}, gradient ${i}`));
}

before(async () => {
  await initBackend('wasm');
});

describe('wasm convolution gradients equal the cpu backend', () => {
  const cases: { x: number[]; w: number[]; stride: number | [number, number]; pad: 'same' | 'valid' | number }[] = [
    { x: [2, 9, 9, 3], w: [3, 3, 3, 4], stride: 1, pad: 'same' },
    { x: [2, 9, 9, 3], w: [3, 3, 3, 4], stride: 2, pad: 'same' },
    { x: [1, 10, 8, 2], w: [5, 3, 2, 3], stride: 2, pad: 'valid' },
    { x: [3, 7, 7, 4], w: [3, 3, 4, 5], stride: 1, pad: 'valid' },
    { x: [2, 11, 6, 3], w: [3, 2, 3, 2], stride: [2, 1], pad: 'same' },
    { x: [2, 8, 8, 1], w: [1, 1, 1, 6], stride: 1, pad: 'valid' },
    { x: [2, 6, 6, 2], w: [3, 3, 2, 2], stride: 1, pad: 1 },
    { x: [4, 14, 14, 16], w: [3, 3, 16, 8], stride: 1, pad: 'same' },
    // Uneven 'same' padding (an even kernel), explicit padding while widening, one input channel (the stem).
    { x: [2, 7, 6, 2], w: [2, 2, 2, 5], stride: 1, pad: 'same' },
    { x: [2, 6, 6, 2], w: [3, 3, 2, 3], stride: 1, pad: 1 },
    { x: [3, 10, 10, 1], w: [3, 3, 1, 8], stride: 1, pad: 'same' },
  ];
  for (const c of cases) {
    test(`conv2d x${JSON.stringify(c.x)} filter${JSON.stringify(c.w)} stride ${c.stride} pad ${c.pad}`, () => {
      compare('conv2d', (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), [c.x, c.w]);
    });
  }
});

describe('wasm max-pool gradient equals the cpu backend', () => {
  const cases: { x: number[]; size: number; stride: number; pad: 'same' | 'valid' }[] = [
    { x: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' },
    { x: [1, 7, 7, 2], size: 3, stride: 2, pad: 'same' },
    { x: [2, 5, 6, 4], size: 2, stride: 1, pad: 'same' },
  ];
  for (const c of cases) {
    test(`maxPool x${JSON.stringify(c.x)} size ${c.size} stride ${c.stride} pad ${c.pad}`, () => {
      compare('maxPool', (x) => tf.maxPool(x as tf.Tensor4D, c.size, c.stride, c.pad), [c.x]);
    });
  }
});

describe('wasm sum and mean (leading axes replaced) equal the cpu backend', () => {
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [4, 5, 6, 7], axis: [0, 1, 2], keepDims: false },
    { shape: [4, 5, 6, 7], axis: [2, 0, 1], keepDims: true },
    { shape: [4, 5, 6, 7], axis: [0, 1], keepDims: false },
    { shape: [9, 3], axis: 0, keepDims: true },
    { shape: [4, 5, 6, 7], axis: [1, 2], keepDims: false },
    { shape: [4, 5, 6, 7], axis: -1, keepDims: false },
    { shape: [4, 5], axis: [0, 1], keepDims: false },
  ];
  for (const c of cases) {
    test(`x${JSON.stringify(c.shape)} axis ${JSON.stringify(c.axis)}${c.keepDims ? ' keepDims' : ''}`, () => {
      for (const reduce of [tf.sum, tf.mean]) {
        const on = (backend: string) => {
          tf.setBackend(backend);
          return tf.tidy(() => {
            const y = reduce(tf.tensor(values(c.shape, 1), c.shape), c.axis, c.keepDims);
            return { shape: y.shape, data: y.dataSync() as Float32Array };
          });
        };
        const expected = on('cpu');
        const actual = on('wasm');
        assert.deepEqual(actual.shape, expected.shape);
        assertClose(actual.data, expected.data, `${reduce === tf.sum ? 'sum' : 'mean'}`);
      }
    });
  }
});

test('wasm identity and same-type cast share the data: each copy outlives the original and none leaks', () => {
  tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const before = backend.numDataIds();
  const original = tf.tensor([1.5, -2, 3]);
  const copies = [original.clone(), tf.cast(original, 'float32')];
  const converted = tf.cast(original, 'int32');
  original.dispose();
  for (const copy of copies) assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2, 3]);
  assert.deepEqual(Array.from(converted.dataSync()), [1, -2, 3]);
  tf.dispose([...copies, converted]);
  assert.equal(backend.numDataIds(), before);
});

/** Training-mode batch norm over [0, 1, 2] by its closed form: output, gradients for the loss Σ y·dy, batch statistics. */
function batchNormReference(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, dy: tf.Tensor) {
  const axes = [0, 1, 2];
  const { mean, variance } = tf.moments(x, axes);
  const std = tf.sqrt(tf.add(variance, 1e-3));
  const xhat = tf.div(tf.sub(x, mean), std);
  return {
    y: tf.add(tf.mul(xhat, gamma), beta),
    dx: tf.mul(
      tf.div(gamma, std),
      tf.sub(tf.sub(dy, tf.mean(dy, axes)), tf.mul(xhat, tf.mean(tf.mul(dy, xhat), axes))),
    ),
    dGamma: tf.sum(tf.mul(dy, xhat), axes),
    dBeta: tf.sum(dy, axes),
    mean,
    variance,
  };
}

const data = (t: tf.Tensor) => t.dataSync() as Float32Array;

describe('batch-norm gradient (replaced for every backend) equals the reference formula', () => {
  test('training-mode batch norm: gradients w.r.t. x, scale and offset match the analytic result', () => {
    // tf.moments + tf.batchNorm differentiated through our registered FusedBatchNorm gradient, on wasm.
    const shape = [4, 3, 3, 5];
    tf.setBackend('wasm');
    tf.tidy(() => {
      const x = tf.tensor(values(shape, 0), shape);
      const gamma = tf.tensor1d([0.5, 1, 1.5, 2, -1]);
      const beta = tf.tensor1d([0, 0.1, 0.2, 0.3, 0.4]);
      const dy = tf.tensor(values(shape, 3), shape);
      const bn = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(xs, [0, 1, 2]);
        return tf.batchNorm(xs, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
      };
      const [dx, dg, db] = tf.grads((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(bn(xs, g, b), dy)))([
        x,
        gamma,
        beta,
      ]);
      const expected = batchNormReference(x, gamma, beta, dy);
      assertClose(data(dx!), data(expected.dx), 'dx');
      assertClose(data(dg!), data(expected.dGamma), 'dγ');
      assertClose(data(db!), data(expected.dBeta), 'dβ');
    });
  });

  for (const backend of ['wasm', 'cpu']) {
    test(`the BatchNormalization layer in training (one fused op) on ${backend}: output, gradients and moving averages`, () => {
      tf.setBackend(backend);
      const shape = [6, 4, 3, 5];
      const momentum = 0.9;
      const layer = tfl.layers.batchNormalization({
        momentum,
        gammaInitializer: tfl.initializers.randomUniform({ minval: -2, maxval: 2, seed: 1 }),
        betaInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 2 }),
      });
      layer.build(shape);
      // Copies: the layer's variables change under the training call.
      const [gamma, beta, movingMean, movingVariance] = layer.getWeights().map((w) => w.clone()) as tf.Tensor1D[];
      tf.tidy(() => {
        // Activations off zero, as a convolution's are, so the statistics matter.
        const x = tf.variable(tf.add(tf.mul(tf.tensor(values(shape, 0), shape), 3), 2));
        const dy = tf.tensor(values(shape, 5), shape);
        const expected = batchNormReference(x, gamma!, beta!, dy);
        let y: tf.Tensor | undefined;
        const variables = [x, ...layer.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val)];
        const { grads } = tf.variableGrads(() => {
          y = tf.keep(layer.apply(x, { training: true }) as tf.Tensor);
          return tf.sum(tf.mul(y, dy));
        }, variables);
        assertClose(data(y!), data(expected.y), 'y');
        assertClose(data(grads[x.name]!), data(expected.dx), 'dx');
        assertClose(data(grads[variables[1]!.name]!), data(expected.dGamma), 'dγ');
        assertClose(data(grads[variables[2]!.name]!), data(expected.dBeta), 'dβ');
        const [newMean, newVariance] = layer.getWeights().slice(2);
        assertClose(
          data(newMean!),
          data(tf.add(tf.mul(movingMean!, momentum), tf.mul(expected.mean, 1 - momentum))),
          'moving mean',
        );
        assertClose(
          data(newVariance!),
          data(tf.add(tf.mul(movingVariance!, momentum), tf.mul(expected.variance, 1 - momentum))),
          'moving variance',
        );
        // Inference still uses the moving statistics.
        const inference = layer.apply(x, { training: false }) as tf.Tensor;
        assertClose(
          data(inference),
          data(tf.batchNorm(x, newMean!, newVariance!, beta, gamma, 1e-3)),
          'inference output',
        );
      });
      tf.dispose([gamma!, beta!, movingMean!, movingVariance!]);
      for (const weight of layer.weights) weight.dispose();
      tf.setBackend('wasm');
    });
  }
});
