/** Messages between the app and the inference worker (inferenceWorker.ts). */
export type InferenceRequest =
  | { type: 'load'; modelDir: string; backend?: string; flipAverage: boolean }
  | { type: 'predict' | 'features'; pixels: Uint8Array; count: number };

export type InferenceReply =
  | { type: 'loaded'; backend: string; skipped: string[] }
  | { type: 'probabilities'; probabilities: Float32Array }
  | { type: 'features'; features: Float32Array };
