import type { AugmentOptions } from './augment.ts';
import type { ArchitectureSpec } from './model.ts';

/** Messages between the trainer and its replicas (see trainWorker.ts). */
export type WorkerRequest =
  | {
      type: 'init';
      backend?: string;
      spec: ArchitectureSpec;
      images: SharedArrayBuffer;
      labels: SharedArrayBuffer;
      augment: AugmentOptions;
      labelSmoothing: number;
      momentum: number;
      freezeBatchNorm: boolean;
      freezeFullResolution: boolean;
    }
  | { type: 'grads'; indices: Int32Array; seed: number }
  | { type: 'apply'; grads: Float32Array; learningRate: number; weightDecay: number }
  | { type: 'predict'; indices: Int32Array }
  | { type: 'readState' }
  | { type: 'writeState'; weights: Float32Array[]; optimizer?: Float32Array[] };

export type WorkerReply =
  | { type: 'ready'; backend: string; skipped: string[] }
  | { type: 'grads'; grads: Float32Array; loss: number; correct: number; count: number }
  | { type: 'predictions'; probs: Float32Array }
  | { type: 'state'; weights: Float32Array[]; optimizer: Float32Array[] }
  | { type: 'ok' };
