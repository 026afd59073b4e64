import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // also registers every op's gradient
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerGradients } from './gradients.ts';
import { registerWasmTrainingKernels } from './wasmKernels.ts';
import { selfCheck } from './selfCheck.ts';

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

/** Loads a native package by name; importing it registers its backend as 'tensorflow'. */
export type NativeLoader = (pkg: string) => Promise<unknown>;

let current: BackendInfo | undefined;

/** Sets up a rung and makes it tf's backend; returns why it cannot be used, or undefined. */
function tryBackend(name: BackendName, load: NativeLoader): Promise<string | undefined> {
  const pkg = NATIVE_PACKAGES[name];
  return pkg ? tryNative(pkg, load) : tryBuiltIn(name);
}

async function tryBuiltIn(name: BackendName): Promise<string | undefined> {
  try {
    if (!(await tf.setBackend(name))) return `${name} backend did not start`;
    if (name === 'wasm') registerWasmTrainingKernels();
    await tf.ready();
    registerGradients();
    return undefined;
  } catch (err) {
    return `${name}: ${firstLine(err)}`;
  }
}

/**
 * Loads `pkg`, starts the 'tensorflow' backend it registers and runs the self-check against wasm (cpu
 * where wasm cannot start). On success tf is left on 'tensorflow'; on failure that backend is removed,
 * since the next native package registers under the same name.
 */
async function tryNative(pkg: string, load: NativeLoader): Promise<string | undefined> {
  try {
    await load(pkg);
  } catch (err) {
    return `${pkg} is not installed or cannot load (${firstLine(err)})`;
  }
  let problem: string | undefined;
  try {
    if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but its backend did not start`;
    const reference = (await tryBuiltIn('wasm')) ? 'cpu' : 'wasm';
    const mismatch = await selfCheck('tensorflow', reference);
    if (mismatch) problem = `${pkg} failed its self-check: ${mismatch}`;
  } catch (err) {
    problem = `${pkg} failed its self-check: ${firstLine(err)}`;
  }
  if (problem) {
    removeTensorflowBackend();
    return problem;
  }
  registerGradients();
  return undefined;
}

/**
 * Forgets the 'tensorflow' backend and its kernels, so that the next native package can register both
 * (tfjs refuses a backend name registered twice, and would keep the first package's).
 */
function removeTensorflowBackend(): void {
  tf.removeBackend('tensorflow');
  for (const kernel of tf.getKernelsForBackend('tensorflow')) tf.unregisterKernel(kernel.kernelName, 'tensorflow');
}

function firstLine(err: unknown): string {
  return (err as Error).message.split('\n')[0]!;
}

/**
 * Picks the best backend that starts here, once per process or worker thread (later calls return the
 * first answer). FASHION_SORTER_BACKEND (or `preferred`) names a rung to start from, e.g. `wasm` skips
 * the native ones, `cpu` forces the pure-JS backend. A native rung, named or not, is used only if its
 * self-check passes (see selfCheck.ts). `load` imports a native package (tests pass stand-ins). Throws
 * for an unknown rung name, or when no rung from the named one down can start.
 */
export async function initBackend(
  preferred: string | undefined = process.env.FASHION_SORTER_BACKEND,
  load: NativeLoader = (pkg) => import(pkg),
): Promise<BackendInfo> {
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
    const problem = await tryBackend(name, load);
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
