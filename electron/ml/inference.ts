import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PIXELS } from '../dataset/fashionMnist.ts';
import { WorkerClient } from '../workerThreads.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { APP_FLIP_AVERAGING, type FlipAveraging } from './flipAveraging.ts';
import { hasModel, PROTOTYPES_JSON } from './modelFiles.ts';
import { readModelCard, type ModelCard } from './modelCard.ts';
import type { NoveltyStats } from './novelty.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

/** What the model says of some images: count × 10 probabilities, and each one's novelty (novelty.ts; null without statistics). */
export interface Assessment {
  probabilities: Float32Array;
  novelty: Float32Array | null;
}

/** A model ready to classify, running in worker threads of its own. */
export interface Predictor {
  readonly modelDir: string;
  readonly name: string;
  /** sha256 of the weights: the model version stored with every prediction. */
  readonly version: string;
  readonly card: ModelCard | undefined;
  readonly backend: string;
  /** Worker threads classifying in parallel. */
  readonly workers: number;
  /** Probabilities (count × 10) for `count` 28×28 inputs back to back. */
  predict(pixels: Uint8Array, count: number): Promise<Float32Array>;
  /** Probabilities (inputs.length × 10) for some photos' 28×28 inputs, one array each. */
  predictEach(inputs: readonly Uint8Array[]): Promise<Float32Array>;
  /** Probabilities and novelty for some photos' 28×28 inputs, from one forward pass each. */
  assess(inputs: readonly Uint8Array[]): Promise<Assessment>;
  /** Penultimate features (count × the network's feature size) for `count` 28×28 inputs back to back. */
  features(pixels: Uint8Array, count: number): Promise<Float32Array>;
  /** Scores novelty with these statistics from now on (the ones just fitted for this model). */
  useNovelty(stats: NoveltyStats): Promise<void>;
  close(): Promise<void>;
}

/**
 * Images per message to the worker (800 kB). A whole test set in one message is a 7.8 MB copy in the worker,
 * and freeing a block that large raises glibc's dynamic mmap and trim thresholds: from then on every thread's
 * malloc arena keeps up to twice that much freed memory resident.
 */
const IMAGES_PER_MESSAGE = 1024;

/** Some photos' 28×28 model inputs back to back, as `Predictor.predict` takes them. */
function stackInputs(inputs: readonly Uint8Array[]): Uint8Array {
  const stacked = new Uint8Array(inputs.length * PIXELS);
  inputs.forEach((pixels, i) => stacked.set(pixels, i * PIXELS));
  return stacked;
}

/** sha256 of a model's weight files, then of its prototypes file when it has one (both decide its predictions). */
export function modelVersion(modelDir: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).weightsManifest as {
    paths: string[];
  }[];
  const hash = crypto.createHash('sha256');
  for (const file of manifest.flatMap((group) => group.paths)) hash.update(fs.readFileSync(path.join(modelDir, file)));
  const prototypes = path.join(modelDir, PROTOTYPES_JSON);
  if (fs.existsSync(prototypes)) hash.update(fs.readFileSync(prototypes));
  return hash.digest('hex');
}

/**
 * Inference worker threads a predictor starts unless told: two where there are two cores. wasm runs one thread
 * per worker in Node, so two workers classify 1.97× as fast as one on two idle cores (bench `inference`,
 * 2026-12-01). Each holds about 270 MB once it has classified batches of 256 (its wasm heap does not shrink;
 * scratch measurement of the process's RSS with 1, 2 and 4 workers: +281, +536, +1,095 MB), so more than two
 * would cost a laptop more memory than the speed is worth while the import's conversion wants cores too.
 */
function defaultInferenceWorkers(): number {
  return Math.max(1, Math.min(2, os.availableParallelism()));
}

/**
 * Fewest images one worker is given of a call's images: smaller batches cost more per image on wasm
 * (64 at a time ran at 0.8× the speed of 128: 335 against 420 images/s, one thread, a scratch loop over the
 * shipped model, 2026-12-01), so a short call uses fewer workers.
 */
const MIN_IMAGES_PER_WORKER = 128;

/**
 * Loads the model in `modelDir` into `workers` inference worker threads (default `defaultInferenceWorkers()`)
 * on the best backend (or `backend`). A call's images are split among the workers, each classifying its part
 * in batches; every image is classified alone, so the split never changes a result.
 */
export async function startPredictor(
  modelDir: string,
  options: { backend?: string; flipAverage?: FlipAveraging; workers?: number } = {},
): Promise<Predictor> {
  if (!hasModel(modelDir))
    throw new Error(
      `no model at ${modelDir} (model.json and weights.bin are needed); pass --model DIR or reinstall the app`,
    );
  const card = readModelCard(modelDir);
  const workers = Array.from(
    { length: Math.max(1, options.workers ?? defaultInferenceWorkers()) },
    () => new WorkerClient<InferenceRequest, InferenceReply>(import.meta.url, 'inferenceWorker', 'inference worker'),
  );
  const terminate = async () => {
    await Promise.all(workers.map((worker) => worker.terminate()));
  };
  try {
    const [loaded] = await Promise.all(
      workers.map((worker) =>
        worker.call<'loaded'>({
          type: 'load',
          modelDir,
          backend: options.backend,
          flipAverage: options.flipAverage ?? APP_FLIP_AVERAGING,
        }),
      ),
    );
    /**
     * Everything the workers answer for `count` inputs, put back together: the inputs go out in parts of at most
     * IMAGES_PER_MESSAGE, shared so that each worker gets about as many, and each worker takes the next part when
     * it is free.
     */
    const run = async (pixels: Uint8Array, count: number, withFeatures = false) => {
      if (pixels.length !== count * PIXELS) throw new Error(`internal: ${pixels.length} bytes for ${count} images`);
      const probabilities = new Float32Array(count * NUM_CLASSES);
      const novelty = new Float32Array(count);
      let hasNovelty = true;
      const features: Float32Array[] = [];
      const part = Math.min(IMAGES_PER_MESSAGE, Math.max(MIN_IMAGES_PER_WORKER, Math.ceil(count / workers.length)));
      const starts = Array.from({ length: Math.ceil(count / part) }, (_, i) => i * part);
      let next = 0;
      const serve = async (worker: (typeof workers)[number]) => {
        while (next < starts.length) {
          const index = next++;
          const start = starts[index]!;
          const n = Math.min(part, count - start);
          // A copy of just this slice (a view would send its whole buffer; Buffer#slice is a view), transferred.
          const slice = new Uint8Array(pixels.subarray(start * PIXELS, (start + n) * PIXELS));
          const reply = await worker.call<'probabilities'>(
            { type: 'predict', pixels: slice, count: n, features: withFeatures },
            [slice.buffer],
          );
          if (reply.probabilities.length !== n * NUM_CLASSES)
            throw new Error('internal: wrong number of probabilities');
          probabilities.set(reply.probabilities, start * NUM_CLASSES);
          if (reply.novelty) novelty.set(reply.novelty, start);
          else hasNovelty = false;
          if (reply.features) features[index] = reply.features;
        }
      };
      // A failed part stops the others taking more: the call fails as a whole.
      await Promise.all(
        workers.map((worker) =>
          serve(worker).catch((err: unknown) => {
            next = starts.length;
            throw err;
          }),
        ),
      );
      return { probabilities, novelty: hasNovelty ? novelty : null, features };
    };
    const predict = async (pixels: Uint8Array, count: number) => (await run(pixels, count)).probabilities;
    return {
      modelDir,
      card,
      backend: loaded!.backend,
      workers: workers.length,
      name: card?.name ?? path.basename(modelDir),
      version: modelVersion(modelDir),
      predict,
      predictEach: (inputs) => predict(stackInputs(inputs), inputs.length),
      assess: async (inputs) => {
        const { probabilities, novelty } = await run(stackInputs(inputs), inputs.length);
        return { probabilities, novelty };
      },
      features: async (pixels, count) => {
        const { features } = await run(pixels, count, true);
        const all = new Float32Array(features.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const f of features) {
          all.set(f, at);
          at += f.length;
        }
        return all;
      },
      useNovelty: async (stats) => {
        await Promise.all(workers.map((worker) => worker.call<'usingNovelty'>({ type: 'useNovelty', stats })));
      },
      close: terminate,
    };
  } catch (err) {
    await terminate();
    throw err;
  }
}
