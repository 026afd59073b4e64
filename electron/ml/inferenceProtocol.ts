/** Messages between the app and the inference worker (inferenceWorker.ts). */
import type { FlipAveraging } from './flipAveraging.ts';
import type { NoveltyStats } from './novelty.ts';

export type InferenceRequest =
  | { type: 'load'; modelDir: string; backend?: string; flipAverage: FlipAveraging }
  /** With `features`, the penultimate features come back too (for fitting novelty statistics). */
  | { type: 'predict'; pixels: Uint8Array; count: number; features?: boolean }
  | { type: 'useNovelty'; stats: NoveltyStats };

export type InferenceReply =
  | { type: 'loaded'; backend: string; skipped: string[] }
  /** `novelty` is null where the model has no novelty statistics. */
  | { type: 'probabilities'; probabilities: Float32Array; novelty: Float32Array | null; features?: Float32Array }
  | { type: 'usingNovelty' };
