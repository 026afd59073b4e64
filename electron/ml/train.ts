import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PIXELS, type ImageSet } from '../dataset/fashionMnist.ts';
import { DEFAULT_AUGMENT, seededRandom, shuffledIndices, type AugmentOptions } from './augment.ts';
import { DEFAULT_ARCHITECTURE, type ArchitectureSpec } from './model.ts';
import { evaluatePredictions } from './metrics.ts';
import { removeStaleTemporaries } from '../staleFiles.ts';
import { writeFileAtomic } from './modelFiles.ts';
import type { WorkerReply, WorkerRequest } from './trainProtocol.ts';
import { WorkerClient } from '../workerThreads.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Peak learning rate of the one-cycle schedule (SGD, Nesterov momentum). */
  peakLearningRate: number;
  /** Fraction of all steps spent warming up linearly from 0 to the peak; the rest decays linearly to 0. */
  warmupFraction: number;
  momentum: number;
  weightDecay: number;
  labelSmoothing: number;
  validationFraction: number;
  seed: number;
  workers: number;
  augment: AugmentOptions;
  architecture: ArchitectureSpec;
  /**
   * Decay per step of an exponential moving average of the weights (batch-norm statistics included), which is
   * then what validation scores and the run returns; 0 or absent: none (Polyak and Juditsky 1992; as in
   * Tan and Le's EfficientNet training, decay 0.9999 at their step counts).
   */
  ema?: number;
  /** Train on the first N training images only (quick runs and tests); with a plan's split, on the first N of its training indices. */
  limit?: number;
  backend?: string;
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  epochs: 36,
  batchSize: 128,
  peakLearningRate: 0.1,
  warmupFraction: 0.2,
  momentum: 0.9,
  weightDecay: 5e-4,
  labelSmoothing: 0.1,
  validationFraction: 0.2,
  seed: 20261122,
  workers: Math.min(2, os.availableParallelism()),
  augment: DEFAULT_AUGMENT,
  architecture: DEFAULT_ARCHITECTURE,
};

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Null when the run keeps no validation images (TrainOptions.validationFraction 0: trained on all of them). */
  validationLoss: number | null;
  validationAccuracy: number | null;
  /** With a weight average (TrainOptions.ema): validation accuracy of the weights as trained, before averaging. */
  rawValidationAccuracy?: number;
  /** Accuracy on the plan's guard images, when it has some (fine-tuning: the Fashion-MNIST replay sample). */
  guardAccuracy?: number;
  learningRate: number;
  seconds: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  /** Seconds left for the whole run, from the pace so far. */
  etaSeconds: number;
}

export interface TrainResult {
  history: EpochRecord[];
  options: TrainOptions;
  backend: string;
  backendSkipped: string[];
  trainSeconds: number;
  trainCount: number;
  validationCount: number;
  resumedFromEpoch: number;
  /**
   * Each stretch of the run, from a start or a --resume to the last epoch it finished: when it started, its
   * epochs, wall seconds, and CPU seconds of the whole process (worker threads included; a 2-core machine
   * gives at most 2 per wall second). Absent from checkpoints written before stretches were kept.
   */
  stretches: TrainStretch[];
  /** With early stopping: the epoch whose weights were kept (the best validation accuracy). */
  bestEpoch: number;
}

export interface TrainStretch {
  startedAt: string;
  fromEpoch: number;
  toEpoch: number;
  seconds: number;
  cpuSeconds: number;
}

/** What a run trains on and from, when it is not a fresh training on the seeded split (fine-tuning). */
export interface TrainPlan {
  /** Start from these weights instead of a fresh initialisation. */
  initialWeights?: Float32Array[];
  /** Indices into the data to train and validate on, instead of the seeded split. */
  split?: { train: Int32Array; validation: Int32Array };
  /** Images scored apart from the validation ones after every epoch (fine-tuning: Fashion-MNIST replay, which shows forgetting). */
  guard?: Int32Array;
  /** Stop once validation loss has not fallen for this many epochs, keeping the weights of the epoch with the lowest. */
  patience?: number;
  /**
   * Keep batch norm's running statistics (fine-tuning on a few hundred images: a mixed batch's statistics
   * would shift what the model knew); its scale and offset still learn.
   */
  freezeBatchNorm?: boolean;
  /**
   * The layers that work at full resolution (28×28: the stem and any residual blocks before the first pooling)
   * keep their weights, and the backward pass stops before them (fine-tuning: they detect edges and strokes,
   * which a few hundred photos need not change, and they cost most per image).
   */
  freezeFullResolution?: boolean;
  signal?: AbortSignal;
}

/** The run was cancelled through its signal. */
export class TrainingCancelled extends Error {
  constructor() {
    super('training was cancelled; nothing was changed');
  }
}

/** Training stopped because its loss stopped being a number or exploded; nothing it made is usable. */
export class TrainingDiverged extends Error {}

/** A loss this far above chance level (ln 10 ≈ 2.3) means the weights have blown up. */
const DIVERGED_LOSS = 50;

interface CheckpointState {
  completedEpochs: number;
  history: EpochRecord[];
  options: TrainOptions;
  trainSeconds: number;
  stretches?: TrainStretch[];
  /** The checkpoint's weight and optimizer files (absent in checkpoints from before they were named per epoch), and its weight average's. */
  files?: { weights: string; optimizer: string; ema?: string };
}

const CHECKPOINT_DIR = 'checkpoint';

/** The options a checkpoint in `outDir` was trained with, if there is one. */
export function checkpointOptions(outDir: string): TrainOptions | undefined {
  const file = path.join(outDir, CHECKPOINT_DIR, 'state.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointState).options : undefined;
}

/** The learning rate at a global step: linear warm-up to the peak, then linear decay to zero. */
export function oneCycleLearningRate(step: number, totalSteps: number, peak: number, warmupFraction: number): number {
  const warmup = Math.max(1, Math.round(totalSteps * warmupFraction));
  if (step < warmup) return (peak * (step + 1)) / warmup;
  return (peak * Math.max(0, totalSteps - step)) / Math.max(1, totalSteps - warmup);
}

/** A seeded split of the training images into train and validation indices (the test set is never touched). */
export function splitTrainValidation(
  count: number,
  validationFraction: number,
  seed: number,
): { train: Int32Array; validation: Int32Array } {
  const order = shuffledIndices(count, seededRandom(seed));
  const validationCount = Math.round(count * validationFraction);
  return { validation: order.slice(0, validationCount).sort(), train: order.slice(validationCount).sort() };
}

/** A replica in a worker thread (trainWorker.ts). */
class Replica extends WorkerClient<WorkerRequest, WorkerReply> {
  constructor() {
    super(import.meta.url, 'trainWorker', 'training worker');
  }
}

function toShared(bytes: Uint8Array): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(bytes.byteLength);
  new Uint8Array(shared).set(bytes);
  return shared;
}

/** Splits `indices` into `parts` nearly equal consecutive shards. */
function shards(indices: Int32Array, parts: number): Int32Array[] {
  const size = Math.ceil(indices.length / parts);
  return Array.from({ length: parts }, (_, i) => indices.slice(i * size, (i + 1) * size)).filter((s) => s.length > 0);
}

/**
 * Trains the classifier with data-parallel replicas in worker threads, saving a checkpoint after every
 * epoch in `outDir/checkpoint` (resumable) and the final model in `outDir`.
 */
export class Trainer {
  private replicas: Replica[] = [];

  /** Without `outDir`, no checkpoints are written (short runs such as fine-tuning). */
  constructor(
    private readonly data: ImageSet,
    private readonly outDir: string | undefined,
    private readonly options: TrainOptions,
    private readonly plan: TrainPlan = {},
  ) {}

  private checkpointDir() {
    if (!this.outDir) throw new Error('internal: this run keeps no checkpoints');
    return path.join(this.outDir, CHECKPOINT_DIR);
  }

  /** Reads the replicas' state, averages batch-norm statistics across them, and makes all replicas equal. */
  private async synchronize(): Promise<Extract<WorkerReply, { type: 'state' }>> {
    const states = await Promise.all(this.replicas.map((r) => r.call<'state'>({ type: 'readState' })));
    const weights = states[0]!.weights.map((w, i) => {
      const mean = new Float32Array(w.length);
      for (const s of states) for (let k = 0; k < w.length; k++) mean[k]! += s.weights[i]![k]! / states.length;
      return mean;
    });
    await Promise.all(this.replicas.slice(1).map((r) => r.call<'ok'>({ type: 'writeState', weights })));
    await this.replicas[0]!.call<'ok'>({ type: 'writeState', weights });
    return { ...states[0]!, weights };
  }

  /** Sets every replica's weights (not its optimizer state). */
  private async writeAll(weights: Float32Array[]): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.call<'ok'>({ type: 'writeState', weights })));
  }

  private async predict(indices: Int32Array): Promise<Float32Array> {
    const parts = shards(indices, this.replicas.length);
    const replies = await Promise.all(
      parts.map((part, i) => this.replicas[i]!.call<'predictions'>({ type: 'predict', indices: part })),
    );
    const probs = new Float32Array(indices.length * NUM_CLASSES);
    let offset = 0;
    for (const r of replies) {
      probs.set(r.probs, offset);
      offset += r.probs.length;
    }
    return probs;
  }

  /**
   * Each checkpoint's arrays go to files of their own, named by epoch, and state.json (written last, atomically)
   * names them: a kill at any moment leaves the previous checkpoint or the new one, never one epoch's state
   * with the next one's weights. Older files go once the new state is in place, with what a killed
   * process left half-written.
   */
  private async saveCheckpoint(
    state: CheckpointState,
    weights: Float32Array[],
    optimizer: Float32Array[],
    ema: Float32Array[] | undefined,
  ) {
    const dir = this.checkpointDir();
    fs.mkdirSync(dir, { recursive: true });
    const pack = (arrays: Float32Array[]) => {
      const header = Buffer.from(JSON.stringify(arrays.map((a) => a.length)));
      const size = Buffer.alloc(4);
      size.writeUInt32LE(header.length);
      return Buffer.concat([size, header, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
    };
    const files = {
      weights: `weights-${state.completedEpochs}.bin`,
      optimizer: `optimizer-${state.completedEpochs}.bin`,
      ...(ema ? { ema: `ema-${state.completedEpochs}.bin` } : {}),
    };
    writeFileAtomic(path.join(dir, files.weights), pack(weights));
    writeFileAtomic(path.join(dir, files.optimizer), pack(optimizer));
    if (ema) writeFileAtomic(path.join(dir, files.ema!), pack(ema));
    writeFileAtomic(path.join(dir, 'state.json'), JSON.stringify({ ...state, files }, null, 1));
    const current = new Set(Object.values(files));
    for (const file of fs.readdirSync(dir)) {
      if (/^(weights|optimizer|ema)(-\d+)?\.bin$/.test(file) && !current.has(file))
        fs.rmSync(path.join(dir, file), { force: true });
    }
    removeStaleTemporaries(dir, /\.(\d+)\.tmp$/);
  }

  private loadCheckpoint():
    { state: CheckpointState; weights: Float32Array[]; optimizer: Float32Array[]; ema?: Float32Array[] } | undefined {
    const dir = this.checkpointDir();
    if (!fs.existsSync(path.join(dir, 'state.json'))) return undefined;
    const unpack = (file: string) => {
      const buf = fs.readFileSync(path.join(dir, file));
      const headerLength = buf.readUInt32LE(0);
      const lengths = JSON.parse(buf.subarray(4, 4 + headerLength).toString()) as number[];
      let offset = 4 + headerLength;
      return lengths.map((n) => {
        const arr = new Float32Array(n);
        new Uint8Array(arr.buffer).set(buf.subarray(offset, offset + n * 4));
        offset += n * 4;
        return arr;
      });
    };
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as CheckpointState;
    const files = state.files ?? { weights: 'weights.bin', optimizer: 'optimizer.bin' };
    return {
      state,
      weights: unpack(files.weights),
      optimizer: unpack(files.optimizer),
      ...(files.ema ? { ema: unpack(files.ema) } : {}),
    };
  }

  /** Runs training; returns the history and the final weights (BN statistics averaged over replicas). */
  async run(
    resume: boolean,
    onProgress?: (p: TrainProgress) => void,
    onEpoch?: (r: EpochRecord) => void,
  ): Promise<TrainResult & { weights: Float32Array[] }> {
    let options = this.options;
    const checkpoint = resume ? this.loadCheckpoint() : undefined;
    if (resume && !checkpoint)
      throw new Error(`--resume: no checkpoint in ${this.checkpointDir()}; run train without --resume first`);
    if (checkpoint)
      options = {
        ...checkpoint.state.options,
        epochs: this.options.epochs,
        workers: this.options.workers,
        backend: this.options.backend,
      };

    // A plan's split indexes the whole data, and its validation images stay whole whatever the limit.
    const count = options.limit && !this.plan.split ? Math.min(options.limit, this.data.count) : this.data.count;
    const split = this.plan.split ?? splitTrainValidation(count, options.validationFraction, options.seed);
    const { validation } = split;
    const train = this.plan.split && options.limit ? split.train.subarray(0, options.limit) : split.train;
    if (validation.length === 0 && this.plan.patience !== undefined)
      throw new Error('internal: early stopping needs validation images');
    const validationLabels = Array.from(validation, (i) => this.data.labels[i]!);
    const images = toShared(this.data.images.subarray(0, count * PIXELS));
    const labels = toShared(this.data.labels.subarray(0, count));

    this.replicas = Array.from({ length: Math.max(1, options.workers) }, () => new Replica());
    try {
      const ready = await Promise.all(
        this.replicas.map((r) =>
          r.call<'ready'>({
            type: 'init',
            backend: options.backend,
            spec: options.architecture,
            images,
            labels,
            augment: options.augment,
            labelSmoothing: options.labelSmoothing,
            momentum: options.momentum,
            freezeBatchNorm: this.plan.freezeBatchNorm ?? false,
            freezeFullResolution: this.plan.freezeFullResolution ?? false,
          }),
        ),
      );
      // Every replica starts from the first one's weights (or the checkpoint's).
      const start = checkpoint ?? {
        weights: this.plan.initialWeights ?? (await this.replicas[0]!.call<'state'>({ type: 'readState' })).weights,
        optimizer: undefined,
      };
      await Promise.all(
        this.replicas.map((r) =>
          r.call<'ok'>({ type: 'writeState', weights: start.weights, optimizer: start.optimizer }),
        ),
      );

      const emaDecay = options.ema ?? 0;
      const ema = emaDecay > 0 ? (checkpoint?.ema ?? start.weights.map((w) => w.slice())) : undefined;
      const history = checkpoint?.state.history ?? [];
      let trainSeconds = checkpoint?.state.trainSeconds ?? 0;
      const firstEpoch = checkpoint?.state.completedEpochs ?? 0;
      const stretch: TrainStretch = {
        startedAt: new Date().toISOString(),
        fromEpoch: firstEpoch,
        toEpoch: firstEpoch,
        seconds: 0,
        cpuSeconds: 0,
      };
      const stretches = [...(checkpoint?.state.stretches ?? []), stretch];
      const cpuAtStart = process.cpuUsage();
      const stepsPerEpoch = Math.ceil(train.length / options.batchSize);
      const totalSteps = stepsPerEpoch * options.epochs;
      const runStarted = performance.now();
      let imagesThisRun = 0;
      let best: { epoch: number; loss: number; weights: Float32Array[] } | undefined;

      for (let epoch = firstEpoch; epoch < options.epochs; epoch++) {
        const epochStarted = performance.now();
        const random = seededRandom(options.seed + 7919 * (epoch + 1));
        const order = shuffledIndices(train.length, random).map((i) => train[i]!);
        let lossSum = 0;
        let correct = 0;
        let seen = 0;
        let learningRate = 0;
        for (let step = 0; step < stepsPerEpoch; step++) {
          const batch = order.subarray(step * options.batchSize, (step + 1) * options.batchSize);
          const parts = shards(batch, this.replicas.length);
          const replies = await Promise.all(
            parts.map((part, i) =>
              this.replicas[i]!.call<'grads'>({
                type: 'grads',
                indices: part,
                seed: (options.seed ^ (epoch * 1_000_003 + step * 31 + i)) >>> 0,
              }),
            ),
          );
          const mean = new Float32Array(replies[0]!.grads.length);
          for (const r of replies) {
            const weight = r.count / batch.length;
            for (let k = 0; k < mean.length; k++) mean[k]! += r.grads[k]! * weight;
            lossSum += r.loss * r.count;
            correct += r.correct;
          }
          seen += batch.length;
          imagesThisRun += batch.length;
          const batchLoss = replies.reduce((sum, r) => sum + r.loss * r.count, 0) / batch.length;
          if (!Number.isFinite(batchLoss) || batchLoss > DIVERGED_LOSS) {
            throw new TrainingDiverged(
              `training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${batchLoss}); try a lower learning rate`,
            );
          }
          if (this.plan.signal?.aborted) throw new TrainingCancelled();
          learningRate = oneCycleLearningRate(
            epoch * stepsPerEpoch + step,
            totalSteps,
            options.peakLearningRate,
            options.warmupFraction,
          );
          for (const r of this.replicas)
            r.send({ type: 'apply', grads: mean, learningRate, weightDecay: options.weightDecay });
          if (ema) {
            // A replica answers in order, so this reads the weights after the step just sent.
            const { weights } = await this.replicas[0]!.call<'state'>({ type: 'readState' });
            for (let i = 0; i < ema.length; i++) {
              const average = ema[i]!;
              const current = weights[i]!;
              for (let k = 0; k < average.length; k++)
                average[k] = emaDecay * average[k]! + (1 - emaDecay) * current[k]!;
            }
          }
          if (onProgress) {
            const elapsed = (performance.now() - runStarted) / 1000;
            const rate = imagesThisRun / elapsed;
            const remainingImages = (options.epochs - epoch) * train.length - seen;
            onProgress({
              epoch: epoch + 1,
              epochs: options.epochs,
              step: step + 1,
              steps: stepsPerEpoch,
              loss: lossSum / seen,
              accuracy: correct / seen,
              imagesPerSecond: rate,
              etaSeconds: remainingImages / rate + ((options.epochs - epoch) * validation.length) / (rate * 3),
            });
          }
        }
        const state = await this.synchronize();
        const validate = async () =>
          validation.length > 0 ? evaluatePredictions(await this.predict(validation), validationLabels) : undefined;
        const rawMetrics = ema ? await validate() : undefined;
        if (ema) await this.writeAll(ema);
        const validationMetrics = await validate();
        const guard = this.plan.guard;
        const guardAccuracy = guard
          ? evaluatePredictions(
              await this.predict(guard),
              Array.from(guard, (i) => this.data.labels[i]!),
            ).accuracy
          : undefined;
        if (ema) await this.writeAll(state.weights);
        const seconds = (performance.now() - epochStarted) / 1000;
        trainSeconds += seconds;
        const cpu = process.cpuUsage(cpuAtStart);
        Object.assign(stretch, {
          toEpoch: epoch + 1,
          seconds: stretch.seconds + seconds,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
        });
        const record: EpochRecord = {
          epoch: epoch + 1,
          trainLoss: lossSum / seen,
          trainAccuracy: correct / seen,
          validationLoss: validationMetrics?.loss ?? null,
          validationAccuracy: validationMetrics?.accuracy ?? null,
          ...(rawMetrics ? { rawValidationAccuracy: rawMetrics.accuracy } : {}),
          ...(guard ? { guardAccuracy } : {}),
          learningRate,
          seconds,
        };
        history.push(record);
        if (this.outDir)
          await this.saveCheckpoint(
            { completedEpochs: epoch + 1, history, options, trainSeconds, stretches },
            state.weights,
            state.optimizer,
            ema,
          );
        onEpoch?.(record);
        if (this.plan.patience !== undefined) {
          // The lowest validation loss, not the best accuracy: on a few dozen of the user's photos accuracy
          // moves in steps of several points and ties for epochs on end, and a tie kept the earliest, least
          // changed epoch (docs/model.md, "Learning from corrections, measured").
          const loss = record.validationLoss!;
          if (!best || loss < best.loss) {
            best = { epoch: epoch + 1, loss, weights: ema ? ema.map((w) => w.slice()) : state.weights };
          } else if (epoch + 1 - best.epoch >= this.plan.patience) break;
        }
      }
      const final =
        best ??
        (ema
          ? { weights: ema }
          : checkpoint && firstEpoch >= options.epochs
            ? { weights: checkpoint.weights }
            : await this.synchronize());
      return {
        history,
        options,
        trainSeconds,
        stretches: stretches.filter((s) => s.toEpoch > s.fromEpoch),
        weights: final.weights,
        bestEpoch: best?.epoch ?? history.length,
        backend: ready[0]!.backend,
        backendSkipped: ready[0]!.skipped,
        trainCount: train.length,
        validationCount: validation.length,
        resumedFromEpoch: firstEpoch,
      };
    } finally {
      await Promise.all(this.replicas.map((r) => r.terminate()));
      this.replicas = [];
    }
  }
}
