/** Runs the active model off the main thread: one model (with its prototypes, if any), batches of 28×28 inputs in, probabilities or features out. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { serveRequests } from '../workerThreads.ts';
import { initBackend } from './backend.ts';
import { inferenceNetwork, type InferenceNetwork } from './classifier.ts';
import type { InferenceReply, InferenceRequest } from './inferenceProtocol.ts';
import { loadModel, readPrototypes } from './modelFiles.ts';

// The weights never change here, so the batch norms are folded once per model, not once per batch.
let loaded: { model: tfl.LayersModel; network: InferenceNetwork; flipAverage: boolean } | undefined;

serveRequests<InferenceRequest, InferenceReply>(async (request) => {
  if (request.type === 'load') {
    const backend = await initBackend(request.backend);
    const model = await loadModel(request.modelDir);
    loaded?.network.dispose();
    loaded?.model.dispose();
    loaded = { model, network: inferenceNetwork(model, readPrototypes(request.modelDir)), flipAverage: request.flipAverage };
    return { type: 'loaded', backend: backend.name, skipped: backend.skipped };
  }
  if (!loaded) throw new Error('no model loaded');
  if (request.type === 'features') return { type: 'features', features: loaded.network.features(request.pixels, request.count) };
  const probabilities = loaded.network.probabilities(request.pixels, request.count, { flipAverage: loaded.flipAverage });
  return { type: 'probabilities', probabilities };
}, { serial: true });
