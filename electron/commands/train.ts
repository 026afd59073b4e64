import os from 'node:os';
import cliProgress from 'cli-progress';
import * as tf from '@tensorflow/tfjs-core';
import { loadFashionMnist, type ImageSet } from '../dataset/fashionMnist.ts';
import { defaultModelDir } from '../appPaths.ts';
import { initBackend } from '../ml/backend.ts';
import { buildModel, multiplyAddsPerImage } from '../ml/model.ts';
import { dataProvenance, readModelCard, writeModelCard } from '../ml/modelCard.ts';
import { writeModelNovelty } from './novelty.ts';
import { hasModel, readArchitecture, readWeights, saveModel } from '../ml/modelFiles.ts';
import {
  checkpointOptions,
  DEFAULT_TRAIN_OPTIONS,
  splitTrainValidation,
  Trainer,
  type EpochRecord,
  type TrainOptions,
  type TrainPlan,
  type TrainProgress,
} from '../ml/train.ts';
import { formatAugment, parseAugment } from '../ml/augment.ts';
import { duration, intOption, pathOption, UsageError, type Values } from './args.ts';
import { evaluateOnTestSet, formatEvaluation } from './evaluate.ts';
import { plural } from '../../contract/plural.ts';

function epochLine(r: EpochRecord): string {
  const validation =
    r.validationAccuracy === null
      ? 'no validation images'
      : `validation loss ${r.validationLoss!.toFixed(4)} acc ${(100 * r.validationAccuracy).toFixed(2)}%${r.rawValidationAccuracy === undefined ? '' : ` (weights as trained ${(100 * r.rawValidationAccuracy).toFixed(2)}%)`}`;
  return `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAccuracy).toFixed(2)}%  ${validation}  (${duration(r.seconds)})`;
}

/** A positive number option (a learning rate), or a usage error naming it. */
function positiveNumber(values: Values, name: string): number {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${values[name]}"`);
  return n;
}

/** --depth: residual blocks at 28, 14 and 7 px, as three counts 0–4 ("1,1,1"), or a usage error. */
function depthOption(values: Values): [number, number, number] {
  const counts = String(values.depth).split(',').map(Number);
  if (counts.length !== 3 || counts.some((n) => !Number.isInteger(n) || n < 0 || n > 4))
    throw new UsageError(
      `--depth takes three block counts 0–4 for 28, 14 and 7 px, such as 0,1,1; got "${values.depth}"`,
    );
  return counts as [number, number, number];
}

/**
 * The recipe's flags, read from the command line and written back into the model card's command: one
 * table, so a flag added here is both parsed and reproduced. `read` is undefined where the flag is not needed.
 */
const RECIPE_FLAGS: {
  name: string;
  read: (o: TrainOptions) => number | string | undefined;
  apply: (o: TrainOptions, values: Values) => TrainOptions;
}[] = [
  { name: 'epochs', read: (o) => o.epochs, apply: (o, v) => ({ ...o, epochs: intOption(v, 'epochs', 0) }) },
  { name: 'workers', read: (o) => o.workers, apply: (o, v) => ({ ...o, workers: intOption(v, 'workers', 0) }) },
  {
    name: 'batch-size',
    read: (o) => o.batchSize,
    apply: (o, v) => ({ ...o, batchSize: intOption(v, 'batch-size', 0) }),
  },
  {
    name: 'width',
    read: (o) => o.architecture.width,
    apply: (o, v) => ({ ...o, architecture: { ...o.architecture, width: intOption(v, 'width', 0) } }),
  },
  {
    name: 'depth',
    read: (o) => o.architecture.depth?.join(','),
    apply: (o, v) => ({ ...o, architecture: { ...o.architecture, depth: depthOption(v) } }),
  },
  {
    name: 'ema',
    read: (o) => o.ema || undefined,
    apply: (o, v) => {
      const decay = Number(v.ema);
      if (!(decay >= 0 && decay < 1))
        throw new UsageError(`--ema is a decay per step from 0 to below 1, got "${v.ema}"`);
      return { ...o, ema: decay };
    },
  },
  {
    name: 'validation-fraction',
    read: (o) => (o.validationFraction === DEFAULT_TRAIN_OPTIONS.validationFraction ? undefined : o.validationFraction),
    apply: (o, v) => {
      const fraction = Number(v['validation-fraction']);
      if (!(fraction >= 0 && fraction < 1))
        throw new UsageError(
          `--validation-fraction is the share of training images kept to validate, from 0 (train on all) to below 1; got "${v['validation-fraction']}"`,
        );
      return { ...o, validationFraction: fraction };
    },
  },
  { name: 'limit', read: (o) => o.limit, apply: (o, v) => ({ ...o, limit: intOption(v, 'limit', 0) }) },
  {
    name: 'lr',
    read: (o) => (o.peakLearningRate === DEFAULT_TRAIN_OPTIONS.peakLearningRate ? undefined : o.peakLearningRate),
    apply: (o, v) => ({ ...o, peakLearningRate: positiveNumber(v, 'lr') }),
  },
  {
    name: 'augment',
    read: (o) => formatAugment(o.augment) || undefined,
    apply: (o, v) => {
      try {
        return { ...o, augment: parseAugment(String(v.augment), o.augment) };
      } catch (err) {
        throw new UsageError(`--augment: ${(err as Error).message}`);
      }
    },
  },
];

/**
 * The command that trains the same model again, for the model card: from scratch, or from the model in `from`.
 * A run continued with --resume keeps the options it was started with; where it was written (--out) is not part of the recipe.
 */
function reproducingCommand(options: TrainOptions, from?: string): string {
  const flags = RECIPE_FLAGS.flatMap((f) => (f.read(options) === undefined ? [] : [`--${f.name} ${f.read(options)}`]));
  return `npm run cli -- train ${[...flags, ...(from ? [`--from ${from}`] : [])].join(' ')}`;
}

/**
 * What continuing from the model in `from` trains on: its weights, and its own seeded split of the training images
 * (from its card), so that the validation images are ones it never trained on; its seed; its architecture (from
 * its model.json, which a folder without a card has too).
 */
function continueFrom(from: string, options: TrainOptions, data: ImageSet): { options: TrainOptions; plan: TrainPlan } {
  if (!hasModel(from)) throw new UsageError(`--from: no model in ${from}`);
  const trained = readModelCard(from)?.training?.options ?? DEFAULT_TRAIN_OPTIONS;
  const count = Math.min(trained.limit ?? data.count, data.count);
  return {
    options: {
      ...options,
      architecture: readArchitecture(from),
      seed: trained.seed,
      validationFraction: trained.validationFraction,
    },
    plan: {
      initialWeights: readWeights(from),
      split: splitTrainValidation(count, trained.validationFraction, trained.seed),
    },
  };
}

export async function runTrain(values: Values): Promise<void> {
  const outDir = pathOption(values, 'out') ?? defaultModelDir();
  // --resume without --epochs finishes the schedule the checkpoint was started with.
  const planned: TrainOptions = {
    ...DEFAULT_TRAIN_OPTIONS,
    epochs: (values.resume && checkpointOptions(outDir)?.epochs) || DEFAULT_TRAIN_OPTIONS.epochs,
  };
  const flagged = RECIPE_FLAGS.reduce((o, f) => (values[f.name] === undefined ? o : f.apply(o, values)), planned);
  const from = pathOption(values, 'from');
  if (from && values.resume)
    throw new UsageError(
      '--from starts a run from a model and --resume continues one from its checkpoint: give one of them',
    );
  const data = await loadFashionMnist({ dataDir: pathOption(values, 'data') });
  const { options, plan } = from ? continueFrom(from, flagged, data.train) : { options: flagged, plan: {} };
  console.log(
    `data: ${data.source} (${data.train.count} training, ${data.test.count} test images${data.official ? ', official checksums' : ''})`,
  );

  const interactive = process.stdout.isTTY;
  const bar = interactive
    ? new cliProgress.SingleBar(
        {
          format: 'epoch {ep} |{bar}| {percentage}% loss {loss} acc {acc} {rate} img/s ETA {etaText}',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let lastLog = 0;
  const onProgress = (p: TrainProgress) => {
    const payload = {
      ep: `${p.epoch}/${p.epochs}`,
      loss: p.loss.toFixed(3),
      acc: `${(100 * p.accuracy).toFixed(1)}%`,
      rate: p.imagesPerSecond.toFixed(0),
      etaText: duration(p.etaSeconds),
    };
    if (bar) {
      if (p.step === 1) bar.start(p.steps, 0, payload);
      bar.update(p.step, payload);
      if (p.step === p.steps) bar.stop();
    } else if (performance.now() - lastLog > 60_000 || p.step === p.steps) {
      lastLog = performance.now();
      console.log(
        `epoch ${payload.ep} step ${p.step}/${p.steps} loss ${payload.loss} acc ${payload.acc} ${payload.rate} img/s ETA ${payload.etaText}`,
      );
    }
  };
  const trainer = new Trainer(data.train, outDir, options, plan);
  const result = await trainer.run(values.resume === true, onProgress, (r) => console.log(epochLine(r)));
  console.log(
    `trained ${plural(result.history.length, 'epoch')} in ${duration(result.trainSeconds)} on ${result.backend} with ${options.workers} worker(s)`,
  );

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
    training: {
      ...training,
      ...(from ? { from } : {}),
      command: reproducingCommand(result.options, from),
      node: process.version,
      cpus: `${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    },
    data: dataProvenance(data),
  });
  await writeModelNovelty(outDir, data.train);
  console.log(`saved ${outDir}\n\n${formatEvaluation(evaluation)}`);
}
