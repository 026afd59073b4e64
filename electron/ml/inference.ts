import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NUM_CLASSES, PIXELS } from '../dataset/fashionMnist.ts';
import { WorkerClient } from '../workerThreads.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { hasModel } from './modelFiles.ts';
import { readModelCard, type ModelCard } from './modelCard.ts';

/** A model ready to classify, running in its own worker thread. */
export interface Predictor {
  readonly modelDir: string;
  readonly name: string;
  /** sha256 of the weights: the model version stored with every prediction. */
  readonly version: string;
  readonly card: ModelCard | undefined;
  readonly backend: string;
  /** Probabilities (count × 10) for `count` 28×28 inputs. */
  predict(pixels: Uint8Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** sha256 of a model's weight files. */
export function modelVersion(modelDir: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')).weightsManifest as { paths: string[] }[];
  const hash = crypto.createHash('sha256');
  for (const file of manifest.flatMap((group) => group.paths)) hash.update(fs.readFileSync(path.join(modelDir, file)));
  return hash.digest('hex');
}

/** Loads the model in `modelDir` into an inference worker on the best backend (or `backend`). */
export async function startPredictor(modelDir: string, options: { backend?: string; flipAverage?: boolean } = {}): Promise<Predictor> {
  if (!hasModel(modelDir)) throw new Error(`no model at ${modelDir} (model.json and weights.bin are needed); pass --model DIR or reinstall the app`);
  const card = readModelCard(modelDir);
  const worker = new WorkerClient<InferenceRequest, InferenceReply>(import.meta.url, 'inferenceWorker', 'inference worker');
  try {
    const loaded = await worker.call<'loaded'>({ type: 'load', modelDir, backend: options.backend, flipAverage: options.flipAverage ?? false });
    return {
      modelDir, card, backend: loaded.backend,
      name: card?.name ?? path.basename(modelDir),
      version: modelVersion(modelDir),
      async predict(pixels, count) {
        if (pixels.length !== count * PIXELS) throw new Error(`internal: ${pixels.length} bytes for ${count} images`);
        const reply = await worker.call<'probabilities'>({ type: 'predict', pixels, count });
        if (reply.probabilities.length !== count * NUM_CLASSES) throw new Error('internal: wrong number of probabilities');
        return reply.probabilities;
      },
      close: () => worker.terminate(),
    };
  } catch (err) {
    await worker.terminate();
    throw err;
  }
}
