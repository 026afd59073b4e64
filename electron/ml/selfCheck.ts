/**
 * The start-up self-check that a native TensorFlow backend must pass before the engine uses it.
 *
 * tfjs-node and tfjs-node-gpu bring their own kernels (libtensorflow, cuDNN). They are optional and
 * platform-dependent, so they are trusted only after one small training step, computed on them and on a
 * backend whose kernels the test suite checks (wasm with our training kernels, or cpu), agrees.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Elementwise tolerance: |candidate − reference| ≤ TOLERANCE · (|reference| + max |reference|), the max
 * taken over the quantity (output, loss, one gradient). The relative part follows each value; the part
 * relative to the quantity's scale covers values that cancel towards zero.
 *
 * Why 1e-3: a faithful backend only rounds differently. In float32 (ε = 1.2e-7) a sum of n terms taken in
 * another order moves by at most about n·ε of its terms' magnitude; the longest sum here (the filter
 * gradient, over 2·12·12 = 288 positions) stays below 4e-5, and cpu against wasm measures 2e-7.
 * tfjs-node-gpu's convolutions may run in TF32 (TensorFlow's default on Ampere and newer GPUs), which keeps
 * 10 mantissa bits of each factor (2^-11 ≈ 4.9e-4 relative); a stand-in that rounds so measures 1.7e-4
 * (test/backend.test.ts). A kernel that is wrong rather than rounded (padding, stride, a dropped bias, a
 * gradient 1 % off) moves values by 5e-3 of the scale or more.
 */
export const SELF_CHECK_TOLERANCE = 1e-3;

const INPUT_SHAPE = [2, 12, 12, 3] as const;
const FILTER_SHAPE = [3, 3, 3, 4] as const;
/** After the 'same' convolution and the 2×2 max pool. */
const OUTPUT_SHAPE = [2, 6, 6, 4] as const;

/** Deterministic values in [-amplitude, amplitude]: a sine of the index. */
function wave(shape: readonly number[], seed: number, amplitude: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: size }, (_, i) => amplitude * Math.sin(i * 0.731 + seed * 1.9));
}

/**
 * The step's input, filter, bias and target. Relu and max pooling are kinks: should rounding decide a
 * window's max, or its sign, differently on the two backends, a gradient would move by its own size. So
 * the top-left pixel of every 2×2 window carries a spike and every filter's centre tap is large: each
 * window's max sits there, at least 0.55 of the scale above zero and 0.32 above the window's other values
 * (whose gradient is zero either way), so no decision is near a tie.
 */
function probeTensors() {
  const x = wave(INPUT_SHAPE, 1, 0.3);
  const [, height, width, channels] = INPUT_SHAPE;
  for (let i = 0; i < x.length; i++) {
    const column = Math.floor(i / channels) % width;
    const row = Math.floor(i / (channels * width)) % height;
    if (row % 2 === 0 && column % 2 === 0) x[i]! += 1;
  }
  const w = wave(FILTER_SHAPE, 2, 0.3);
  // The centre taps w[1][1][ci][co] are the in·out values from the flat index of w[1][1][0][0].
  const taps = FILTER_SHAPE[2] * FILTER_SHAPE[3];
  const centre = (FILTER_SHAPE[1] + 1) * taps;
  for (let i = centre; i < centre + taps; i++) w[i]! += 0.6;
  return {
    x: tf.tensor4d(x, [...INPUT_SHAPE]),
    w: tf.tensor4d(w, [...FILTER_SHAPE]),
    b: tf.tensor1d(wave([FILTER_SHAPE[3]], 3, 0.1)),
    target: tf.tensor4d(wave(OUTPUT_SHAPE, 4, 1), [...OUTPUT_SHAPE]),
  };
}

/** What one training step computes, in the order the check compares it. */
const QUANTITIES = ['output', 'loss', 'input gradient', 'filter gradient', 'bias gradient'] as const;

/**
 * One training step of a convolution layer on the active backend: y = maxPool2×2(relu(conv2d(x, w) + b))
 * with x [2,12,12,3], w [3,3,3,4] ('same' padding, stride 1), b [4]; loss = mean((y − t)²) against a fixed
 * target t [2,6,6,4]; and the loss's gradients w.r.t. x, w and b. The output comes from the FusedConv2D
 * kernel; under the gradient tape tfjs unfuses the relu and runs Conv2D, then Conv2DBackpropInput,
 * Conv2DBackpropFilter and MaxPoolGrad: the kernels a model's convolution layers train with. Returns the
 * five quantities as plain arrays, in QUANTITIES' order.
 */
function trainingStep(): Float32Array[] {
  return tf.tidy(() => {
    const { x, w, b, target } = probeTensors();
    const forward = (x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) =>
      tf.maxPool(
        tf.fused.conv2d({ x, filter: w, bias: b, strides: 1, pad: 'same', activation: 'relu' }),
        2,
        2,
        'valid',
      );
    const lossOf = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.mean(tf.square(tf.sub(forward(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D), target)));
    const { value: loss, grads } = tf.valueAndGrads(lossOf)([x, w, b]);
    return [forward(x, w, b), loss, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

/**
 * The element of `actual` farthest from `expected` measured against its allowance: its absolute error
 * and that allowance. A NaN, or a missing element, is the worst.
 */
function worstError(actual: Float32Array, expected: Float32Array): { error: number; allowed: number } {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = { error: 0, allowed: SELF_CHECK_TOLERANCE * scale, excess: -Infinity };
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!);
    const allowed = SELF_CHECK_TOLERANCE * (Math.abs(expected[i]!) + scale);
    const excess = Number.isNaN(error) ? Infinity : error - allowed;
    if (excess > worst.excess) worst = { error, allowed, excess };
  }
  return worst;
}

/**
 * Runs one small training step (see trainingStep) on the registered backends `candidate` and `reference`
 * and compares the output, the loss and every gradient elementwise within SELF_CHECK_TOLERANCE. With wasm
 * on both sides the whole check takes about 10 ms, 30 ms as a fresh process's first. Both backends must be
 * registered and able to start; tf is left on `candidate`. Returns undefined when all agree, else a line
 * naming the first quantity that does not, its worst absolute error and what was allowed there. Throws
 * what a backend throws while computing.
 */
export async function selfCheck(candidate: string, reference: string): Promise<string | undefined> {
  await tf.setBackend(reference);
  const expected = trainingStep();
  await tf.setBackend(candidate);
  const actual = trainingStep();
  for (const [i, what] of QUANTITIES.entries()) {
    const { error, allowed } = worstError(actual[i]!, expected[i]!);
    if (!(error <= allowed)) {
      return `the ${what} differs from ${reference}'s by up to ${error.toExponential(2)} where ${allowed.toExponential(2)} is allowed`;
    }
  }
  return undefined;
}
