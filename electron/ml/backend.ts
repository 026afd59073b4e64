import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // also registers every op's gradient
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerGradients } from './gradients.ts';
import { registerWasmTrainingKernels } from './wasmKernels.ts';

/** The rungs of the backend ladder, best first. */
export const BACKENDS = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  name: BackendName;
  /** Why the better rungs were skipped, for the log and the model card. */
  skipped: string[];
}

const NATIVE_PACKAGES: Partial<Record<BackendName, string>> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

let current: BackendInfo | undefined;

async function tryBackend(name: BackendName): Promise<string | undefined> {
  const pkg = NATIVE_PACKAGES[name];
  try {
    if (pkg) {
      await import(pkg);
      if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but its backend did not start`;
    } else {
      if (!(await tf.setBackend(name))) return `${name} backend did not start`;
      if (name === 'wasm') registerWasmTrainingKernels();
    }
    await tf.ready();
    registerGradients();
    return undefined;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    return pkg ? `${pkg} is not installed or cannot load (${msg})` : `${name}: ${msg}`;
  }
}

/**
 * Picks the best backend that starts here. FASHION_SORTER_BACKEND (or `preferred`) names a rung to
 * start from, e.g. `wasm` skips the native ones, `cpu` forces the pure-JS backend.
 */
export async function initBackend(preferred: string | undefined = process.env.FASHION_SORTER_BACKEND): Promise<BackendInfo> {
  if (current) return current;
  // Production mode: skips debug checks and the cpu backend's "install tfjs-node" banner (we report the backend ourselves).
  tf.enableProdMode();
  let start = 0;
  if (preferred && preferred !== 'auto') {
    start = BACKENDS.indexOf(preferred as BackendName);
    if (start < 0) throw new Error(`unknown backend "${preferred}"; use one of auto, ${BACKENDS.join(', ')}`);
  }
  const skipped: string[] = [];
  for (const name of BACKENDS.slice(start)) {
    const problem = await tryBackend(name);
    if (!problem) {
      current = { name, skipped };
      return current;
    }
    skipped.push(problem);
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

export function backendInfo(): BackendInfo | undefined {
  return current;
}
