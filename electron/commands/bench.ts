import { loadFashionMnist } from '../dataset/fashionMnist.ts';
import { benchDataParallel, benchInference, benchTraining } from '../ml/bench.ts';
import type { Values } from './args.ts';

/** `bench`: speeds measured side by side in one run; the ratios are what to compare across machines. */
export async function runBench(values: Values): Promise<void> {
  const quick = values.quick === true;
  const training = await benchTraining(quick ? { batchSize: 8, wasmRuns: 2, cpuRuns: 1 } : {});
  const inference = await benchInference(quick ? { batchSize: 64, runs: 2 } : {});
  const dataParallel = quick ? undefined : await benchDataParallel((await loadFashionMnist()).train);
  const result = { training: { ...training, dataParallel }, inference };
  if (values.json) {
    console.log(JSON.stringify(result, null, 1));
    return;
  }
  console.log([
    `training (batch ${training.batchSize}, shipped architecture, one thread):`,
    `  wasm + our kernels ${training.wasmImagesPerSecond.toFixed(1)} img/s, pure-JS cpu ${training.cpuImagesPerSecond.toFixed(2)} img/s`,
    `  speedup vs cpu        ${training.speedupVsCpu.toFixed(1)}×`,
    `  step ÷ forward pass   ${training.stepToForward.toFixed(2)}  (${training.stepMs.toFixed(0)} ms ÷ ${training.forwardMs.toFixed(0)} ms)`,
    ...(dataParallel ? [`  two worker threads ÷ one  ${dataParallel.speedup.toFixed(2)}×  (${dataParallel.twoWorkersImagesPerSecond.toFixed(0)} vs ${dataParallel.oneWorkerImagesPerSecond.toFixed(0)} img/s, one epoch of ${dataParallel.images} images)`] : []),
    `inference (${inference.backend}, batch ${inference.batchSize}): ${inference.imagesPerSecond.toFixed(0)} img/s`,
  ].join('\n'));
}
