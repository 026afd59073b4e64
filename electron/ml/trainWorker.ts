/**
 * One data-parallel training replica. Every replica holds the same weights and optimizer state;
 * the trainer sends each a shard of the batch, averages their gradients and sends the average back,
 * so the replicas stay identical step after step (batch-norm statistics are per replica and averaged
 * when the weights are read).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PIXELS, IMAGE_SIZE } from '../dataset/fashionMnist.ts';
import { augmentBatch, type AugmentOptions } from './augment.ts';
import { predictProbabilities } from './classifier.ts';
import { initBackend } from './backend.ts';
import { buildModel, fullResolutionLayers, logitsModel, type ArchitectureSpec } from './model.ts';
import type { WorkerRequest, WorkerReply } from './trainProtocol.ts';
import { serveRequests } from '../workerThreads.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

interface Replica {
  model: tfl.LayersModel;
  logits: tfl.LayersModel;
  variables: tf.Variable[];
  optimizer: tf.MomentumOptimizer;
  images: Uint8Array;
  labels: Uint8Array;
  augment: AugmentOptions;
  labelSmoothing: number;
  /** Normalise with the model's running statistics instead of the batch's, and leave them as they are. */
  freezeBatchNorm: boolean;
}

let replica: Replica | undefined;

function flatten(tensors: tf.Tensor[]): Float32Array {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}

function unflatten(flat: Float32Array, shapes: number[][]): tf.Tensor[] {
  let offset = 0;
  return shapes.map((shape) => {
    const size = tf.util.sizeFromShape(shape);
    const t = tf.tensor(flat.subarray(offset, offset + size), shape);
    offset += size;
    return t;
  });
}

async function init(msg: Extract<WorkerRequest, { type: 'init' }>): Promise<WorkerReply> {
  const backend = await initBackend(msg.backend);
  const model = buildModel(msg.spec as ArchitectureSpec);
  const logits = logitsModel(model);
  // Gradients are taken only for these; tfjs prunes the backward pass of layers none of them depends on.
  const frozen = new Set(
    msg.freezeFullResolution ? fullResolutionLayers(model).flatMap((l) => l.trainableWeights) : [],
  );
  const variables = model.trainableWeights
    .filter((w) => !frozen.has(w))
    .map((w) => (w as unknown as { val: tf.Variable }).val);
  replica = {
    model,
    logits,
    variables,
    optimizer: tf.train.momentum(0.01, msg.momentum, true) as tf.MomentumOptimizer,
    images: new Uint8Array(msg.images),
    labels: new Uint8Array(msg.labels),
    augment: msg.augment,
    labelSmoothing: msg.labelSmoothing,
    freezeBatchNorm: msg.freezeBatchNorm,
  };
  return { type: 'ready', backend: backend.name, skipped: backend.skipped };
}

function computeGrads(indices: Int32Array, seed: number): WorkerReply {
  const r = replica!;
  const batch = new Float32Array(indices.length * PIXELS);
  augmentBatch(r.images, indices, batch, r.augment, seed, r.labels);
  const labelArray = Int32Array.from(indices, (i) => r.labels[i]!);
  return tf.tidy(() => {
    const x = tf.tensor4d(batch, [indices.length, IMAGE_SIZE, IMAGE_SIZE, 1]);
    const labels = tf.tensor1d(labelArray, 'int32');
    const onehot = tf.oneHot(labels, NUM_CLASSES);
    let correct = 0;
    const { value, grads } = tf.variableGrads(() => {
      const logits = r.logits.apply(x, { training: !r.freezeBatchNorm }) as tf.Tensor2D;
      correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')).dataSync()[0]!;
      return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, r.labelSmoothing) as tf.Scalar;
    }, r.variables);
    const flat = flatten(r.variables.map((v) => grads[v.name]!));
    return { type: 'grads', grads: flat, loss: value.dataSync()[0]!, correct, count: indices.length } as WorkerReply;
  });
}

function applyGrads(flat: Float32Array, learningRate: number, weightDecay: number): void {
  const r = replica!;
  r.optimizer.setLearningRate(learningRate);
  tf.tidy(() => {
    const grads = unflatten(
      flat,
      r.variables.map((v) => v.shape),
    );
    // L2 weight decay on convolution and dense kernels only (not batch-norm or biases).
    r.optimizer.applyGradients(
      r.variables.map((v, i) => ({
        name: v.name,
        tensor: v.name.endsWith('kernel') ? tf.add(grads[i]!, tf.mul(v, weightDecay)) : grads[i]!,
      })),
    );
  });
}

function predict(indices: Int32Array): WorkerReply {
  const r = replica!;
  const gathered = new Uint8Array(indices.length * PIXELS);
  indices.forEach((image, n) => gathered.set(r.images.subarray(image * PIXELS, (image + 1) * PIXELS), n * PIXELS));
  return { type: 'predictions', probs: predictProbabilities(r.model, gathered, indices.length) };
}

async function readState(): Promise<WorkerReply> {
  const r = replica!;
  // The accumulators are the optimizer's own variables; only the iteration count is a fresh tensor.
  const [iterations, ...accumulators] = await r.optimizer.getWeights();
  const state = {
    type: 'state',
    weights: r.model.getWeights().map((w) => w.dataSync() as Float32Array),
    optimizer: [iterations!, ...accumulators].map((w) => w.tensor.dataSync() as Float32Array),
  } as WorkerReply;
  iterations!.tensor.dispose();
  return state;
}

async function writeState(weights: Float32Array[], optimizer: Float32Array[] | undefined): Promise<void> {
  const r = replica!;
  tf.tidy(() => r.model.setWeights(weights.map((w, i) => tf.tensor(w, r.model.weights[i]!.shape as number[]))));
  if (optimizer) {
    // Momentum state: the iteration count first, then one accumulator per trainable variable.
    const shapes = [[], ...r.variables.map((v) => v.shape)];
    const names = ['iter', ...r.variables.map((v) => `${v.name}/momentum`)];
    const tensors = optimizer.map((w, i) => ({ name: names[i]!, tensor: tf.tensor(w, shapes[i]) }));
    await r.optimizer.setWeights(tensors);
    tf.dispose(tensors.map((t) => t.tensor));
  }
}

// Requests run strictly in arrival order, so an 'apply' always lands before the next 'grads'.
serveRequests<WorkerRequest, WorkerReply>(
  async (msg) => {
    switch (msg.type) {
      case 'init':
        return init(msg);
      case 'grads':
        return computeGrads(msg.indices, msg.seed);
      case 'apply':
        applyGrads(msg.grads, msg.learningRate, msg.weightDecay);
        return undefined;
      case 'predict':
        return predict(msg.indices);
      case 'readState':
        return readState();
      case 'writeState':
        await writeState(msg.weights, msg.optimizer);
        return { type: 'ok' };
    }
  },
  { serial: true },
);
