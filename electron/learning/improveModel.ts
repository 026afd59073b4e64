/**
 * Learning from the reviewers' corrections: fine-tune the active model on the catalog's human labels, publish
 * the result as a new, inactive model version, and compare it honestly with the active one before anything
 * changes (labels it never trained on, the Fashion-MNIST test set, and the catalog predictions it would
 * change). Activating a version (new or earlier) re-predicts every photo without a human label.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { makePrivateDir } from '../appPaths.ts';
import type { Catalog, CatalogWait } from '../catalog/catalog.ts';
import type { ModelRow } from '../catalog/models.ts';
import { predictionRows, type PredictionRow } from '../catalog/predictions.ts';
import { PIXELS, type FashionMnist, type ImageSet } from '../dataset/fashionMnist.ts';
import {
  checkLabels,
  DEFAULT_FINETUNE_OPTIONS,
  fineTune,
  fineTunedFiles,
  type FineTuneHooks,
  type FineTuneOptions,
  type FineTuneResult,
} from '../ml/fineTune.ts';
import { APP_FLIP_AVERAGING } from '../ml/flipAveraging.ts';
import { modelVersion, startPredictor, type Predictor } from '../ml/inference.ts';
import { calibrateNovelty, NOVELTY_FILE, NOVELTY_SAMPLE, readNovelty, writeNovelty } from '../ml/novelty.ts';
import { evaluatePredictions, type Evaluation } from '../ml/metrics.ts';
import { MODEL_CARD, readModelCard, writeModelCard } from '../ml/modelCard.ts';
import { hasModel, PROTOTYPES_JSON, publishModel } from '../ml/modelFiles.ts';
import type { EpochRecord } from '../ml/train.ts';
import { removeStaleTemporaries } from '../staleFiles.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

/** One model's scores in a comparison. */
export interface Scores {
  accuracy: number;
  f1: number[];
  confusion: number[][];
}

export interface ModelComparison {
  /** Reviewed photos held out of fine-tuning (stratified): neither model trained on them. */
  heldOut: { count: number; current: Scores; candidate: Scores };
  /** Reviewed photos that chose the epoch (early stopping), not trained on: a little optimistic for the new model. */
  validation: { count: number; current: Scores; candidate: Scores };
  /**
   * Fashion-MNIST training images replayed for validation: the best epoch's accuracy on them before the old
   * weights were mixed back (a guard against forgetting; none of them is a reviewed photo).
   */
  replay: { count: number; accuracy: number | null };
  testSet: { count: number; current: Scores; candidate: Scores };
  /** Photos without a human label whose predicted category would change: from × to counts. */
  changes: { photos: number; changed: number; matrix: number[][] };
}

export interface Candidate {
  model: ModelRow;
  parent: ModelRow;
  comparison: ModelComparison;
  fineTune: {
    epochs: EpochRecord[];
    bestEpoch: number;
    seconds: number;
    backend: string;
    labels: number;
    /**
     * What each epoch trained on: the reviewed photos in the training part, each `copies` times, beside `replay`
     * Fashion-MNIST training images, in `stepsPerEpoch` optimiser steps.
     */
    trainedOn: { photos: number; copies: number; replay: number; stepsPerEpoch: number };
    categoriesWithoutLabels: number[];
  };
}

export type ImprovePhase = 'fine-tuning' | 'saving' | 'comparing';

export interface ImproveHooks extends FineTuneHooks {
  onPhase?: (phase: ImprovePhase) => void;
  /** While comparing: images scored so far (by either model, the catalog's photos included) of the total. */
  onComparing?: (done: number, total: number) => void;
  /** A predictor already running the active model (the importer's), used instead of starting another worker. */
  activePredictor?: Predictor;
  /** How long each write waits for a catalog another program is writing to, and whom it tells (see Catalog.writeWhenFree). */
  catalogWait?: CatalogWait;
}

const scores = (evaluation: Evaluation): Scores => ({
  accuracy: evaluation.accuracy,
  f1: evaluation.perClass.map((c) => c.f1),
  confusion: evaluation.confusion,
});

const subset = (set: ImageSet, indices: Int32Array): ImageSet => {
  const images = new Uint8Array(indices.length * PIXELS);
  indices.forEach((i, n) => images.set(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), n * PIXELS));
  return { images, labels: Uint8Array.from(indices, (i) => set.labels[i]!), count: indices.length };
};

/** Images per predictor call while comparing: small enough for the progress bar to move every second or so. */
const EVALUATION_CHUNK = 1000;
const CANCELLED = 'cancelled; nothing was changed';

/** Scores `predictor` on `set`, a chunk at a time, telling `onImages` how many images each chunk held. */
async function evaluateOn(
  predictor: Predictor,
  set: ImageSet,
  onImages: (n: number) => void = () => undefined,
  signal?: AbortSignal,
): Promise<Evaluation> {
  const probabilities = new Float32Array(set.count * NUM_CLASSES);
  for (let from = 0; from < set.count; from += EVALUATION_CHUNK) {
    // A cancel acts within a chunk (a second or two), not after the whole test set.
    if (signal?.aborted) throw new Error(CANCELLED);
    const n = Math.min(EVALUATION_CHUNK, set.count - from);
    probabilities.set(
      await predictor.predict(set.images.subarray(from * PIXELS, (from + n) * PIXELS), n),
      from * NUM_CLASSES,
    );
    onImages(n);
  }
  return evaluatePredictions(probabilities, set.labels);
}

/** The active model's test-set scores from its card, when the card has them for this test set, classified as the app does. */
function cardTestScores(predictor: Predictor, test: ImageSet): Scores | undefined {
  const card = predictor.card;
  return card?.confusion && card.count === test.count && isDeepStrictEqual(card.flipAverage, APP_FLIP_AVERAGING)
    ? scores(card)
    : undefined;
}

/** Every photo without a human label, a page at a time (with this model's stored probabilities, if any). */
function* unlabeledPages(catalog: Catalog, modelId: number) {
  for (let after = 0; ;) {
    const rows = catalog.predictions.unlabeledInputs(modelId, after, 256);
    if (rows.length === 0) return;
    after = rows.at(-1)!.id;
    yield rows;
  }
}

/**
 * Predicts every unlabeled photo with the candidate (stored as the candidate's, not made current) and
 * counts how the current predictions would change. Each page is written once the catalog accepts it.
 */
async function predictCatalog(
  catalog: Catalog,
  candidate: Predictor,
  modelId: number,
  signal: AbortSignal | undefined,
  wait: CatalogWait,
  onPhotos: (n: number) => void,
): Promise<ModelComparison['changes']> {
  const matrix = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  let photos = 0;
  let changed = 0;
  for (const rows of unlabeledPages(catalog, modelId)) {
    // The candidate is registered by now: the message says it was kept (wait.soFar words it).
    if (signal?.aborted) throw new Error(`cancelled. ${wait.soFar?.() ?? ''}`.trimEnd());
    const predictions = predictionRows(
      rows.map((row) => row.id),
      await candidate.assess(rows.map((row) => row.pixels)),
    );
    await catalog.writeWhenFree(() => catalog.predictions.storePredictions(modelId, predictions, false), wait);
    for (const { photoId, probabilities: p } of predictions) {
      const before = catalog.predictions.predictedLabel(photoId);
      const after = p.indexOf(Math.max(...p));
      photos++;
      if (before === null) continue;
      matrix[before]![after]!++;
      if (before !== after) changed++;
    }
    onPhotos(predictions.length);
  }
  return { photos, changed, matrix };
}

/**
 * The folder of the model that classifies for a catalog: its active version while that version has its
 * files, else `fallback` (the shipped model). `onMissing` hears of an active version whose files are gone,
 * unless `fallback` holds the same weights (the shipped model of a checkout that moved, or of the installed
 * app, for a catalog another one made): that is the same model, found elsewhere.
 */
export function classifyingModelDir(
  catalog: Catalog,
  fallback: string,
  onMissing?: (active: ModelRow) => void,
): string {
  const active = catalog.models.activeModel();
  if (active && hasModel(active.dir)) return active.dir;
  if (active && !(hasModel(fallback) && modelVersion(fallback) === active.version)) onMissing?.(active);
  return fallback;
}

/**
 * Fine-tunes the catalog's active model on its human labels and publishes the result under `modelsRoot`
 * as a new, inactive version (its parent the active one), compared with the active model.
 */
export async function improveModel(
  catalog: Catalog,
  data: FashionMnist,
  modelsRoot: string,
  options: FineTuneOptions = DEFAULT_FINETUNE_OPTIONS,
  hooks: ImproveHooks = {},
): Promise<Candidate> {
  const parent = catalog.models.activeModel();
  if (!parent) throw new Error('the catalog has no active model; classify some photos first');
  if (!hasModel(parent.dir)) {
    throw new Error(
      `the active model ${parent.name} has no files at ${parent.dir} (moved or deleted); make another version active (Model, Versions) and try again`,
    );
  }
  const labeled = catalog.labels.labeledInputs();
  const labels: ImageSet = { images: labeled.pixels, labels: labeled.labels, count: labeled.photoIds.length };
  checkLabels(labels, options);
  // A catalog that another program keeps busy is waited for (and reported) now, before minutes of training.
  const wait: CatalogWait = { ...hooks.catalogWait, signal: hooks.signal };
  await catalog.writeWhenFree(() => undefined, wait);

  hooks.onPhase?.('fine-tuning');
  const started = performance.now();
  const tuned: FineTuneResult = await fineTune(parent.dir, labels, data.train, options, hooks);
  const seconds = (performance.now() - started) / 1000;
  if (hooks.signal?.aborted) throw new Error(CANCELLED);

  hooks.onPhase?.('saving');
  const files = fineTunedFiles(tuned);
  // As modelVersion hashes the published folder: the weights, then the prototypes.
  const version = crypto
    .createHash('sha256')
    .update(Buffer.concat(tuned.weights.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength))))
    .update(files[PROTOTYPES_JSON] ?? '')
    .digest('hex');
  // The same labels give the same weights: a version already registered keeps its name and folder.
  const known = catalog.models.modelByVersion(version);
  const name = known?.name ?? `${parent.name.replace(/-ft\d+$/, '')}-ft${catalog.models.all().length}`;
  const dir = known && hasModel(known.dir) ? known.dir : path.join(modelsRoot, `${name}-${version.slice(0, 8)}`);
  const photoIds = (indices: Int32Array) => Array.from(indices, (i) => labeled.photoIds[i]!);
  const parentCard = readModelCard(parent.dir);
  const provenance = {
    parent: { name: parent.name, version: parent.version },
    labels: {
      train: photoIds(tuned.split.train),
      validation: photoIds(tuned.split.validation),
      heldOut: photoIds(tuned.split.heldOut),
    },
    replay: tuned.replay,
    options,
    history: tuned.history,
    bestEpoch: tuned.bestEpoch,
    seconds,
    backend: tuned.training.backend,
    // The label log's last entry it learned from: reviews after it are new to this version.
    labelLogId: labeled.logId,
  };
  // The card starts as the parent's with the fine-tuning record; its test scores replace the parent's below.
  const card = { ...parentCard, name, createdAt: new Date().toISOString(), fineTune: provenance };
  /**
   * Publishes the weights, the prototypes and `more` files as `to` (atomically: a complete folder or none),
   * saying where and why when it cannot.
   */
  const publish = (to: string, text: object, more: Record<string, string> = {}) => {
    try {
      publishModel(parent.dir, tuned.weights, to, {
        [MODEL_CARD]: `${JSON.stringify(text, null, 1)}\n`,
        ...files,
        ...more,
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOSPC'
          ? 'the disk is full; free some space'
          : code === 'EACCES' || code === 'EPERM'
            ? "permission denied; check the folder's permissions"
            : (err as Error).message;
      throw new Error(
        `the new model version could not be saved in ${path.dirname(to)} (${why}) and was dropped; the active model is unchanged`,
        { cause: err },
      );
    }
  };
  // The candidate is compared from a scratch copy: the models folder gets the new version together with its
  // registration, in one write made once the catalog accepts it, so a busy catalog leaves no folder behind.
  // Named by the process, so that a run killed meanwhile leaves nothing for long: the next run removes it.
  removeStaleTemporaries(os.tmpdir(), /^fashion-sorter-candidate-(\d+)-/);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `fashion-sorter-candidate-${process.pid}-`));
  try {
    const candidateDir = path.join(scratch, path.basename(dir));
    publish(candidateDir, card);

    hooks.onPhase?.('comparing');
    const reuse = hooks.activePredictor?.modelDir === parent.dir ? hooks.activePredictor : undefined;
    const [current, candidate] = await Promise.all([reuse ?? startPredictor(parent.dir), startPredictor(candidateDir)]);
    try {
      const heldOut = subset(labels, tuned.split.heldOut);
      // Its own feature statistics, so that photos unlike its training images go to review under it too.
      const stored = dir === known?.dir ? readNovelty(dir) : undefined;
      const validation = subset(labels, tuned.split.validation);
      const currentTestFromCard = cardTestScores(current, data.test);
      // The work to do, in images through a model: what the progress bar and its estimate count.
      const total =
        (stored ? 0 : 2 * NOVELTY_SAMPLE) +
        2 * (heldOut.count + validation.count) +
        data.test.count * (currentTestFromCard ? 1 : 2) +
        catalog.predictions.unlabeledCount();
      let done = 0;
      const scored = (n: number) => hooks.onComparing?.((done += n), Math.max(total, done));
      hooks.onComparing?.(0, total);
      if (stored) await candidate.useNovelty(stored);
      const novelty = stored ?? (await calibrateNovelty(candidate, data.train, undefined, scored));
      const [currentHeldOut, candidateHeldOut, currentValidation, candidateValidation, currentTest, candidateTest] =
        await Promise.all([
          evaluateOn(current, heldOut, scored, hooks.signal),
          evaluateOn(candidate, heldOut, scored, hooks.signal),
          evaluateOn(current, validation, scored, hooks.signal),
          evaluateOn(candidate, validation, scored, hooks.signal),
          currentTestFromCard ?? evaluateOn(current, data.test, scored, hooks.signal).then(scores),
          evaluateOn(candidate, data.test, scored, hooks.signal),
        ]);
      // On how many of the user's own photos each number rests, kept with the version.
      const yourPhotos = {
        heldOut: { count: heldOut.count, accuracy: candidateHeldOut.accuracy, parentAccuracy: currentHeldOut.accuracy },
        validation: {
          count: validation.count,
          accuracy: candidateValidation.accuracy,
          parentAccuracy: currentValidation.accuracy,
        },
        train: tuned.split.train.length,
        replay: { count: tuned.replay.validation, accuracy: tuned.history[tuned.bestEpoch - 1]?.guardAccuracy ?? null },
      };
      const record = { ...provenance, yourPhotos };
      const finalCard = parentCard
        ? {
            ...parentCard,
            name: card.name,
            createdAt: card.createdAt,
            ...candidateTest,
            backend: candidate.backend,
            model: dir,
            flipAverage: APP_FLIP_AVERAGING,
            fineTune: record,
          }
        : card;
      // Cancelled while comparing: nothing is registered or published yet.
      if (hooks.signal?.aborted) throw new Error(CANCELLED);
      const model = await catalog.writeWhenFree(() => {
        makePrivateDir(modelsRoot);
        if (dir !== known?.dir) publish(dir, finalCard, { [NOVELTY_FILE]: JSON.stringify(novelty) });
        else {
          if (parentCard) writeModelCard(dir, finalCard as typeof parentCard);
          writeNovelty(dir, novelty);
        }
        return catalog.models.registerModel({
          name,
          version: candidate.version,
          dir,
          parentId: parent.id,
          card: { ...candidateTest, fineTune: record },
        });
      }, wait);
      const changes = await predictCatalog(
        catalog,
        candidate,
        model.id,
        hooks.signal,
        {
          ...wait,
          soFar: () =>
            `The new version ${name} was saved (not active) and nothing else changed; improve the model again to compare it`,
        },
        scored,
      );
      return {
        model,
        parent,
        comparison: {
          heldOut: { count: heldOut.count, current: scores(currentHeldOut), candidate: scores(candidateHeldOut) },
          validation: {
            count: validation.count,
            current: scores(currentValidation),
            candidate: scores(candidateValidation),
          },
          replay: yourPhotos.replay,
          testSet: { count: data.test.count, current: currentTest, candidate: scores(candidateTest) },
          changes,
        },
        fineTune: {
          epochs: tuned.history,
          bestEpoch: tuned.bestEpoch,
          seconds,
          backend: tuned.training.backend,
          labels: labels.count,
          trainedOn: {
            photos: tuned.split.train.length,
            copies: tuned.copies,
            replay: tuned.replay.train,
            stepsPerEpoch: tuned.stepsPerEpoch,
          },
          // Categories no reviewer labeled: the replay sample alone keeps what the model knew of them.
          categoriesWithoutLabels: Array.from({ length: NUM_CLASSES }, (_, k) => k).filter(
            (k) => !labels.labels.includes(k),
          ),
        },
      };
    } finally {
      await Promise.all([current === reuse ? undefined : current.close(), candidate.close()]);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export interface RepredictProgress {
  done: number;
  total: number;
}

/**
 * Makes a model version the active one and re-predicts every photo without a human label with it (human
 * labels are never touched). Predictions it already made (as a candidate, or while active before) are reused:
 * `repredicted` counts the photos that now carry its prediction, `predictedNow` those it predicted here. Cancelling leaves
 * the new model active and the photos not yet reached with their earlier predictions; activating again
 * finishes the job.
 */
export async function activateModel(
  catalog: Catalog,
  modelId: number,
  hooks: { signal?: AbortSignal; onProgress?: (p: RepredictProgress) => void; catalogWait?: CatalogWait } = {},
): Promise<{ repredicted: number; predictedNow: number; status: 'done' | 'cancelled' }> {
  const model = catalog.models.model(modelId);
  if (!model) throw new Error(`no model version ${modelId} in the catalog`);
  const wait: CatalogWait = { ...hooks.catalogWait, signal: hooks.signal };
  // Each write is made once the catalog accepts it: a catalog another program keeps busy changes nothing here.
  await catalog.writeWhenFree(() => catalog.models.activateModel(modelId), wait);
  const total = catalog.predictions.unlabeledCount();
  let predictor: Predictor | undefined;
  let done = 0;
  /** Of `done`, the photos this model had not predicted before (the others take its stored predictions). */
  let predictedNow = 0;
  try {
    for (const rows of unlabeledPages(catalog, modelId)) {
      if (hooks.signal?.aborted) return { repredicted: done, predictedNow, status: 'cancelled' };
      const missing = rows.filter((row) => row.probabilities === null);
      let fresh: PredictionRow[] = [];
      if (missing.length > 0) {
        predictor ??= await startPredictor(model.dir);
        fresh = predictionRows(
          missing.map((row) => row.id),
          await predictor.assess(missing.map((row) => row.pixels)),
        );
      }
      let next = 0;
      const predictions = rows.map((row) =>
        row.probabilities
          ? {
              photoId: row.id,
              probabilities: new Float32Array(
                row.probabilities.buffer.slice(
                  row.probabilities.byteOffset,
                  row.probabilities.byteOffset + row.probabilities.byteLength,
                ),
              ),
              novelty: row.novelty,
            }
          : fresh[next++]!,
      );
      await catalog.writeWhenFree(() => catalog.predictions.storePredictions(modelId, predictions), {
        ...wait,
        soFar: () =>
          `${model.name} is active, and ${done} of ${total} photos are re-predicted (the others keep their earlier predictions); make it active again to finish`,
      });
      done += rows.length;
      predictedNow += fresh.length;
      hooks.onProgress?.({ done, total });
    }
    return { repredicted: done, predictedNow, status: 'done' };
  } finally {
    await predictor?.close();
  }
}
