/** Runs the active model off the main thread: one model, batches of 28×28 inputs in, probabilities out. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { serveRequests } from '../workerThreads.ts';
import { initBackend } from './backend.ts';
import { predictProbabilities } from './classifier.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { loadModel } from './modelFiles.ts';

let loaded: { model: tfl.LayersModel; flipAverage: boolean } | undefined;

serveRequests<InferenceRequest, InferenceReply>(async (request) => {
  if (request.type === 'load') {
    const backend = await initBackend(request.backend);
    loaded?.model.dispose();
    loaded = { model: await loadModel(request.modelDir), flipAverage: request.flipAverage };
    return { type: 'loaded', backend: backend.name, skipped: backend.skipped };
  }
  if (!loaded) throw new Error('no model loaded');
  const probabilities = predictProbabilities(loaded.model, request.pixels, request.count, { flipAverage: loaded.flipAverage });
  return { type: 'probabilities', probabilities };
}, { serial: true });
