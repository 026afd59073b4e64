import crypto from 'node:crypto';
import fs from 'node:fs';
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

/** A model ready to classify, running in its own worker thread. */
export interface Predictor {
  readonly modelDir: string;
  readonly name: string;
  /** sha256 of the weights: the model version stored with every prediction. */
  readonly version: string;
  readonly card: ModelCard | undefined;
  readonly backend: string;
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

/** Loads the model in `modelDir` into an inference worker on the best backend (or `backend`). */
export async function startPredictor(
  modelDir: string,
  options: { backend?: string; flipAverage?: FlipAveraging } = {},
): Promise<Predictor> {
  if (!hasModel(modelDir))
    throw new Error(
      `no model at ${modelDir} (model.json and weights.bin are needed); pass --model DIR or reinstall the app`,
    );
  const card = readModelCard(modelDir);
  const worker = new WorkerClient<InferenceRequest, InferenceReply>(
    import.meta.url,
    'inferenceWorker',
    'inference worker',
  );
  try {
    const loaded = await worker.call<'loaded'>({
      type: 'load',
      modelDir,
      backend: options.backend,
      flipAverage: options.flipAverage ?? APP_FLIP_AVERAGING,
    });
    /** Everything the worker answers for `count` inputs, a message of IMAGES_PER_MESSAGE at a time, put back together. */
    const run = async (pixels: Uint8Array, count: number, withFeatures = false) => {
      if (pixels.length !== count * PIXELS) throw new Error(`internal: ${pixels.length} bytes for ${count} images`);
      const probabilities = new Float32Array(count * NUM_CLASSES);
      let novelty: Float32Array | null = new Float32Array(count);
      const features: Float32Array[] = [];
      for (let start = 0; start < count; start += IMAGES_PER_MESSAGE) {
        const n = Math.min(IMAGES_PER_MESSAGE, count - start);
        // A copy of just this slice (a view would send its whole buffer; Buffer#slice is a view), transferred.
        const slice = new Uint8Array(pixels.subarray(start * PIXELS, (start + n) * PIXELS));
        const reply = await worker.call<'probabilities'>(
          { type: 'predict', pixels: slice, count: n, features: withFeatures },
          [slice.buffer],
        );
        if (reply.probabilities.length !== n * NUM_CLASSES) throw new Error('internal: wrong number of probabilities');
        probabilities.set(reply.probabilities, start * NUM_CLASSES);
        if (reply.novelty) novelty?.set(reply.novelty, start);
        else novelty = null;
        if (reply.features) features.push(reply.features);
      }
      return { probabilities, novelty, features };
    };
    const predict = async (pixels: Uint8Array, count: number) => (await run(pixels, count)).probabilities;
    return {
      modelDir,
      card,
      backend: loaded.backend,
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
        await worker.call<'usingNovelty'>({ type: 'useNovelty', stats });
      },
      close: () => worker.terminate(),
    };
  } catch (err) {
    await worker.terminate();
    throw err;
  }
}
