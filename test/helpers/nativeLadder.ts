/**
 * Runs initBackend in a fresh process with stand-ins for the native packages and prints, as JSON, the
 * BackendInfo, tf's active backend, the start-up time in ms and whether that backend trains like cpu.
 * Usage: node --import tsx nativeLadder.ts <tfjs-node-gpu flavour | absent> <tfjs-node flavour | absent>;
 * FASHION_SORTER_BACKEND applies as in the app.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/ml/backend.ts';
import { selfCheck } from '../../electron/ml/selfCheck.ts';
import { FLAVOURS, registerStandIn, type Flavour } from './standInBackend.ts';

const [gpu, node] = process.argv.slice(2);
const standIns: Record<string, string | undefined> = {
  '@tensorflow/tfjs-node-gpu': gpu,
  '@tensorflow/tfjs-node': node,
};

const started = performance.now();
const info = await initBackend(undefined, async (pkg) => {
  const flavour = standIns[pkg];
  if (!FLAVOURS.includes(flavour as Flavour)) throw new Error(`Cannot find package '${pkg}'`);
  registerStandIn('tensorflow', flavour as Flavour);
});
const ms = performance.now() - started;
const active = tf.getBackend();
const trains = (await selfCheck(active, 'cpu')) ?? 'like cpu';
console.log(JSON.stringify({ ...info, active, ms, trains }));
