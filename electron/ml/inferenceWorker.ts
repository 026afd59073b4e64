/** Runs the active model off the main thread: one model (with its prototypes, if any), batches of 28×28 inputs in, probabilities and novelty out. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { serveRequests } from '../workerThreads.ts';
import { initBackend } from './backend.ts';
import { inferenceNetwork, type InferenceNetwork } from './classifier.ts';
import type { FlipAveraging } from './flipAveraging.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { loadModel, readPrototypes } from './modelFiles.ts';
import { noveltyScores, readNovelty, type NoveltyStats } from './novelty.ts';

// The weights never change here, so the batch norms are folded once per model, not once per batch.
let loaded:
  | { model: tfl.LayersModel; network: InferenceNetwork; flipAverage: FlipAveraging; novelty: NoveltyStats | undefined }
  | undefined;

serveRequests<InferenceRequest, InferenceReply>(
  async (request) => {
    if (request.type === 'load') {
      const backend = await initBackend(request.backend);
      const model = await loadModel(request.modelDir);
      loaded?.network.dispose();
      loaded?.model.dispose();
      loaded = {
        model,
        network: inferenceNetwork(model, readPrototypes(request.modelDir)),
        flipAverage: request.flipAverage,
        novelty: readNovelty(request.modelDir),
      };
      return { type: 'loaded', backend: backend.name, skipped: backend.skipped };
    }
    if (!loaded) throw new Error('no model loaded');
    if (request.type === 'useNovelty') {
      loaded.novelty = request.stats;
      return { type: 'usingNovelty' };
    }
    // One forward pass gives both: the features are what the novelty is measured on.
    const { probabilities, features } = loaded.network.classify(request.pixels, request.count, {
      flipAverage: loaded.flipAverage,
      features: true,
    });
    const novelty = loaded.novelty ? noveltyScores(loaded.novelty, features!, request.pixels, request.count) : null;
    return { type: 'probabilities', probabilities, novelty, ...(request.features ? { features } : {}) };
  },
  { serial: true },
);
