import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { APP_FLIP_AVERAGING, rowsToMirror } from '../electron/ml/flipAveraging.ts';
import { startPredictor, type Predictor } from '../electron/ml/inference.ts';
import { buildModel, logitsModel, DEFAULT_ARCHITECTURE, type ArchitectureSpec } from '../electron/ml/model.ts';
import { DEFAULT_TRAIN_OPTIONS, Trainer } from '../electron/ml/train.ts';
import { NUM_CLASSES } from '../contract/categories.ts';

export interface TrainingBench {
  /** Batch of the wasm vs cpu comparison (small: the cpu backend is slow). */
  batchSize: number;
  /** Batch of the step ÷ forward measurement: one worker's share of a training batch. */
  stepBatchSize: number;
  wasmImagesPerSecond: number;
  cpuImagesPerSecond: number;
  /** wasm with our kernels ÷ the pure-JS cpu backend, training images/s, same model and batch. */
  speedupVsCpu: number;
  stepMs: number;
  forwardMs: number;
  /** One training step ÷ one forward pass of the same batch (wasm). */
  stepToForward: number;
}

export interface DataParallelBench {
  images: number;
  oneWorkerImagesPerSecond: number;
  twoWorkersImagesPerSecond: number;
  /** Two data-parallel worker threads ÷ one, whole training epochs (validation included). */
  speedup: number;
}

export interface InferenceBench {
  backend: string;
  /** Images per call, as the import sends them (its prediction batch). */
  batchSize: number;
  /** Test images classified per run. */
  images: number;
  /** Worker threads the app's predictor starts on this machine. */
  workers: number;
  /** As the app classifies (the unsure images mirrored too, novelty scored), through its predictor. */
  imagesPerSecond: number;
  /** The same with one worker thread. */
  oneWorkerImagesPerSecond: number;
  /** One worker thread, each image classified once. */
  onceEachImagesPerSecond: number;
  /** Share of the images the app mirrors, 0..1. */
  mirroredShare: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function elapsedMs(f: () => void): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

/** Times one SGD step and one forward pass of the same model and batch on the current backend. */
function stepAndForward(
  spec: ArchitectureSpec,
  weights: tf.Tensor[],
  batchSize: number,
  runs: number,
  warmup: number,
): { stepMs: number; forwardMs: number } {
  const model = buildModel(spec);
  model.setWeights(weights);
  const logits = logitsModel(model);
  const variables = model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const optimizer = tf.train.momentum(0.01, 0.9, true);
  const x = tf.randomUniform([batchSize, IMAGE_SIZE, IMAGE_SIZE, 1], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([batchSize], 0, NUM_CLASSES, 'int32', 2) as tf.Tensor1D, NUM_CLASSES);
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, logits.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
        variables,
      );
      optimizer.applyGradients(variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      value.dataSync();
    });
  // One pass over the whole batch: predict's default would split it into batches of 32, a slower forward.
  const forward = () => tf.tidy(() => (model.predict(x, { batchSize }) as tf.Tensor).dataSync());
  for (let i = 0; i < warmup; i++) {
    step();
    forward();
  }
  // Interleaved, so that a slow spell of this noisy machine hits both sides alike.
  const steps: number[] = [];
  const forwards: number[] = [];
  for (let i = 0; i < runs; i++) {
    steps.push(elapsedMs(step));
    forwards.push(elapsedMs(forward));
  }
  const stepMs = median(steps);
  const forwardMs = median(forwards);
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return { stepMs, forwardMs };
}

/** Training speed: wasm (with our kernels) against the pure-JS cpu backend, side by side in one run. */
export async function benchTraining(
  options: {
    batchSize?: number;
    stepBatchSize?: number;
    wasmRuns?: number;
    cpuRuns?: number;
    spec?: ArchitectureSpec;
  } = {},
): Promise<TrainingBench> {
  const batchSize = options.batchSize ?? 16;
  const stepBatchSize = options.stepBatchSize ?? DEFAULT_TRAIN_OPTIONS.batchSize / DEFAULT_TRAIN_OPTIONS.workers;
  const spec = options.spec ?? DEFAULT_ARCHITECTURE;
  await initBackend('wasm');
  const weights = tf.tidy(() =>
    buildModel(spec)
      .getWeights()
      .map((w) => tf.keep(w.clone())),
  );
  // wasm gets a longer warm-up: its first steps also create and cache XNNPACK operators.
  const wasm = stepAndForward(spec, weights, batchSize, options.wasmRuns ?? 9, 3);
  const ratio = stepAndForward(spec, weights, stepBatchSize, options.wasmRuns ?? 9, 3);
  await tf.setBackend('cpu');
  const cpu = stepAndForward(spec, weights, batchSize, options.cpuRuns ?? 1, 1);
  await tf.setBackend('wasm');
  tf.dispose(weights);
  return {
    batchSize,
    stepBatchSize,
    wasmImagesPerSecond: (1000 * batchSize) / wasm.stepMs,
    cpuImagesPerSecond: (1000 * batchSize) / cpu.stepMs,
    speedupVsCpu: cpu.stepMs / wasm.stepMs,
    stepMs: ratio.stepMs,
    forwardMs: ratio.forwardMs,
    stepToForward: ratio.stepMs / ratio.forwardMs,
  };
}

/**
 * Inference throughput of a model (the shipped one by default) on the best backend here, as the app predicts:
 * Fashion-MNIST test images through one forward pass giving probabilities and features, the unsure ones
 * mirrored too (APP_FLIP_AVERAGING), and the novelty scored on the features; side by side with the same
 * images classified once each. Images/s, median of `runs` after one warm-up.
 */
export async function benchInference(
  test: ImageSet,
  modelDir: string,
  options: { batchSize?: number; images?: number; runs?: number } = {},
): Promise<InferenceBench> {
  const batchSize = options.batchSize ?? 256;
  const count = Math.min(test.count, options.images ?? 8 * batchSize);
  const inputs = Array.from({ length: count }, (_, i) => test.images.subarray(i * PIXELS, (i + 1) * PIXELS));
  /** Median images/s of calls of `batchSize` images, one after another as the import makes them, after one warm-up run. */
  const imagesPerSecond = async (predictor: Predictor) => {
    const seconds: number[] = [];
    for (let run = -1; run < (options.runs ?? 3); run++) {
      const start = performance.now();
      for (let at = 0; at < count; at += batchSize) await predictor.assess(inputs.slice(at, at + batchSize));
      if (run >= 0) seconds.push((performance.now() - start) / 1000);
    }
    return count / median(seconds);
  };
  /** The rate of a predictor started with `options`; with `probabilities`, also what it says of the images. */
  const timed = async (options: Parameters<typeof startPredictor>[1], probabilities = false) => {
    const predictor = await startPredictor(modelDir, options);
    try {
      return {
        predictor: { backend: predictor.backend, workers: predictor.workers },
        rate: await imagesPerSecond(predictor),
        probabilities: probabilities ? await predictor.predictEach(inputs) : undefined,
      };
    } finally {
      await predictor.close();
    }
  };
  // Side by side: the app's predictor, then one worker as the app classifies, then one worker classifying once,
  // whose probabilities say which images the app mirrors.
  const app = await timed({});
  const oneWorker = await timed({ workers: 1 });
  const onceEach = await timed({ workers: 1, flipAverage: false }, true);
  return {
    backend: app.predictor.backend,
    batchSize,
    images: count,
    workers: app.predictor.workers,
    imagesPerSecond: app.rate,
    oneWorkerImagesPerSecond: oneWorker.rate,
    onceEachImagesPerSecond: onceEach.rate,
    mirroredShare: rowsToMirror(onceEach.probabilities!, count, APP_FLIP_AVERAGING).length / count,
  };
}

/** Does training on both cores pay? One short epoch with one worker thread, then with two. */
export async function benchDataParallel(train: ImageSet, images = 2000): Promise<DataParallelBench> {
  const rate = async (workers: number) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bench-'));
    try {
      const result = await new Trainer(train, out, { ...DEFAULT_TRAIN_OPTIONS, epochs: 1, limit: images, workers }).run(
        false,
      );
      return (result.trainCount + result.validationCount) / result.trainSeconds;
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  };
  const one = await rate(1);
  const two = await rate(2);
  return { images, oneWorkerImagesPerSecond: one, twoWorkersImagesPerSecond: two, speedup: two / one };
}
