import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NUM_CLASSES, PIXELS } from '../dataset/fashionMnist.ts';
import { WorkerClient } from '../workerThreads.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { hasModel, PROTOTYPES_JSON } from './modelFiles.ts';
import { readModelCard, type ModelCard } from './modelCard.ts';

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
  /** Penultimate features (count × the network's width) for `count` 28×28 inputs back to back. */
  features(pixels: Uint8Array, count: number): Promise<Float32Array>;
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
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).weightsManifest as { paths: string[] }[];
  const hash = crypto.createHash('sha256');
  for (const file of manifest.flatMap((group) => group.paths)) hash.update(fs.readFileSync(path.join(modelDir, file)));
  const prototypes = path.join(modelDir, PROTOTYPES_JSON);
  if (fs.existsSync(prototypes)) hash.update(fs.readFileSync(prototypes));
  return hash.digest('hex');
}

/** Loads the model in `modelDir` into an inference worker on the best backend (or `backend`). */
export async function startPredictor(modelDir: string, options: { backend?: string; flipAverage?: boolean } = {}): Promise<Predictor> {
  if (!hasModel(modelDir)) throw new Error(`no model at ${modelDir} (model.json and weights.bin are needed); pass --model DIR or reinstall the app`);
  const card = readModelCard(modelDir);
  const worker = new WorkerClient<InferenceRequest, InferenceReply>(import.meta.url, 'inferenceWorker', 'inference worker');
  try {
    const loaded = await worker.call<'loaded'>({ type: 'load', modelDir, backend: options.backend, flipAverage: options.flipAverage ?? false });
    /** Sends the inputs a message's worth at a time; `get` picks the reply's `width` floats per image. */
    const perImage = async (type: 'predict' | 'features', get: (reply: InferenceReply) => Float32Array, pixels: Uint8Array, count: number) => {
      if (pixels.length !== count * PIXELS) throw new Error(`internal: ${pixels.length} bytes for ${count} images`);
      let out = new Float32Array(0);
      for (let start = 0; start < count; start += IMAGES_PER_MESSAGE) {
        const n = Math.min(IMAGES_PER_MESSAGE, count - start);
        // A copy of just this slice (a view would send its whole buffer; Buffer#slice is a view), transferred.
        const slice = new Uint8Array(pixels.subarray(start * PIXELS, (start + n) * PIXELS));
        const values = get(await worker.call({ type, pixels: slice, count: n }, [slice.buffer]));
        const width = values.length / n;
        if (!Number.isInteger(width) || (type === 'predict' && width !== NUM_CLASSES)) throw new Error(`internal: ${values.length} values for ${n} images`);
        if (start === 0) out = new Float32Array(count * width);
        out.set(values, start * width);
      }
      return out;
    };
    const predict = (pixels: Uint8Array, count: number) => perImage('predict', (r) => (r as { probabilities: Float32Array }).probabilities, pixels, count);
    return {
      modelDir, card, backend: loaded.backend,
      name: card?.name ?? path.basename(modelDir),
      version: modelVersion(modelDir),
      predict,
      predictEach: (inputs) => predict(stackInputs(inputs), inputs.length),
      features: (pixels, count) => perImage('features', (r) => (r as { features: Float32Array }).features, pixels, count),
      close: () => worker.terminate(),
    };
  } catch (err) {
    await worker.terminate();
    throw err;
  }
}
