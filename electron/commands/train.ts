import os from 'node:os';
import cliProgress from 'cli-progress';
import * as tf from '@tensorflow/tfjs-core';
import { loadFashionMnist } from '../dataset/fashionMnist.ts';
import { defaultModelDir } from '../appPaths.ts';
import { initBackend } from '../ml/backend.ts';
import { buildModel, multiplyAddsPerImage } from '../ml/model.ts';
import { dataProvenance, writeModelCard } from '../ml/modelCard.ts';
import { writeModelNovelty } from './novelty.ts';
import { saveModel } from '../ml/modelFiles.ts';
import { checkpointOptions, DEFAULT_TRAIN_OPTIONS, Trainer, type EpochRecord, type TrainOptions, type TrainProgress } from '../ml/train.ts';
import { duration, intOption, pathOption, type Values } from './args.ts';
import { evaluateOnTestSet, formatEvaluation } from './evaluate.ts';

function epochLine(r: EpochRecord): string {
  return `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAccuracy).toFixed(2)}%  validation loss ${r.validationLoss.toFixed(4)} acc ${(100 * r.validationAccuracy).toFixed(2)}%  (${duration(r.seconds)})`;
}

/**
 * The recipe's flags, read from the command line and written back into the model card's command: one
 * table, so a flag added here is both parsed and reproduced.
 */
const RECIPE_FLAGS: { name: string; read: (o: TrainOptions) => number | undefined; apply: (o: TrainOptions, n: number) => TrainOptions }[] = [
  { name: 'epochs', read: (o) => o.epochs, apply: (o, epochs) => ({ ...o, epochs }) },
  { name: 'workers', read: (o) => o.workers, apply: (o, workers) => ({ ...o, workers }) },
  { name: 'batch-size', read: (o) => o.batchSize, apply: (o, batchSize) => ({ ...o, batchSize }) },
  { name: 'width', read: (o) => o.architecture.width, apply: (o, width) => ({ ...o, architecture: { ...o.architecture, width } }) },
  { name: 'limit', read: (o) => o.limit, apply: (o, limit) => ({ ...o, limit }) },
];

/**
 * The command that trains the same model again from scratch, for the model card. A run continued with
 * --resume keeps the options it was started with; where it was written (--out) is not part of the recipe.
 */
function reproducingCommand(options: TrainOptions): string {
  const flags = RECIPE_FLAGS.flatMap((f) => (f.read(options) === undefined ? [] : [`--${f.name} ${f.read(options)}`]));
  return `npm run cli -- train ${flags.join(' ')}`;
}

export async function runTrain(values: Values): Promise<void> {
  const outDir = pathOption(values, 'out') ?? defaultModelDir();
  // --resume without --epochs finishes the schedule the checkpoint was started with.
  const planned: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, epochs: (values.resume && checkpointOptions(outDir)?.epochs) || DEFAULT_TRAIN_OPTIONS.epochs };
  const options = RECIPE_FLAGS.reduce((o, f) => (values[f.name] === undefined ? o : f.apply(o, intOption(values, f.name, 0))), planned);
  const data = await loadFashionMnist({ dataDir: pathOption(values, 'data') });
  console.log(`data: ${data.source} (${data.train.count} training, ${data.test.count} test images${data.official ? ', official checksums' : ''})`);

  const interactive = process.stdout.isTTY;
  const bar = interactive
    ? new cliProgress.SingleBar({ format: 'epoch {ep} |{bar}| {percentage}% loss {loss} acc {acc} {rate} img/s ETA {etaText}', hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  let lastLog = 0;
  const onProgress = (p: TrainProgress) => {
    const payload = { ep: `${p.epoch}/${p.epochs}`, loss: p.loss.toFixed(3), acc: `${(100 * p.accuracy).toFixed(1)}%`, rate: p.imagesPerSecond.toFixed(0), etaText: duration(p.etaSeconds) };
    if (bar) {
      if (p.step === 1) bar.start(p.steps, 0, payload);
      bar.update(p.step, payload);
      if (p.step === p.steps) bar.stop();
    } else if (performance.now() - lastLog > 60_000 || p.step === p.steps) {
      lastLog = performance.now();
      console.log(`epoch ${payload.ep} step ${p.step}/${p.steps} loss ${payload.loss} acc ${payload.acc} ${payload.rate} img/s ETA ${payload.etaText}`);
    }
  };
  const trainer = new Trainer(data.train, outDir, options);
  const result = await trainer.run(values.resume === true, onProgress, (r) => console.log(epochLine(r)));
  console.log(`trained ${result.history.length} epochs in ${duration(result.trainSeconds)} on ${result.backend} with ${options.workers} worker(s)`);

  // Assemble the final model here, save it, and evaluate it once on the test set for the model card.
  const backend = await initBackend(options.backend);
  const model = buildModel(result.options.architecture);
  model.setWeights(result.weights.map((w, i) => tf.tensor(w, model.weights[i]!.shape as number[])));
  await saveModel(model, outDir);
  // The card names the model, not the folder it was trained in: the folder is copied to where it ships.
  const evaluation = evaluateOnTestSet(model, data.test, model.name, backend.name);
  const macs = multiplyAddsPerImage(model);
  const { weights: _weights, ...training } = result;
  writeModelCard(outDir, {
    ...evaluation,
    name: model.name,
    createdAt: new Date().toISOString(),
    parameters: model.countParams(),
    multiplyAddsPerImage: macs,
    flopsPerImage: 2 * macs,
    training: { ...training, command: reproducingCommand(result.options), node: process.version, cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'unknown'}` },
    data: dataProvenance(data),
  });
  await writeModelNovelty(outDir, data.train);
  console.log(`saved ${outDir}\n\n${formatEvaluation(evaluation)}`);
}
