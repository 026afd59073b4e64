/**
 * Zero-shot accuracy on real shop photos (`../shared/real-photos` beside the project, when present): each
 * photo converted by the photo pipeline and classified by the model, accuracy per folder, the conversion's
 * CPU time per photo, and a contact sheet of the photos beside their 28×28 inputs to look at.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { adaptBatchNorm } from './adaptBatchNorm.ts';
import { seededRandom, shuffledIndices } from '../electron/ml/augment.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { inferenceNetwork } from '../electron/ml/classifier.ts';
import { APP_FLIP_AVERAGING } from '../electron/ml/flipAveraging.ts';
import { DEFAULT_FINETUNE_OPTIONS, fineTune, fineTunedFiles } from '../electron/ml/fineTune.ts';
import { startPredictor, type Predictor } from '../electron/ml/inference.ts';
import { loadModel, publishModel } from '../electron/ml/modelFiles.ts';
import {
  convertPhoto,
  decodeUpright,
  garmentInput,
  toFashionMnist,
  type ConversionOptions,
} from '../electron/photos/photoPipeline.ts';
import { NOVELTY_LIMIT } from '../contract/review.ts';
import { CLASS_NAMES, NUM_CLASSES } from '../contract/categories.ts';

/** The paper's conversion alone: no isolation, nearest neighbour, no tone lift. */
const PAPER_ONLY: ConversionOptions = { isolate: false, reduce: 'nearest', tones: false };
/**
 * CPU times are the least of this many runs of the same work: on a shared machine a single run swings by several
 * milliseconds with the load (a difference of two single runs read 3–10 ms of isolation), the least does not.
 */
const REPEATS = 5;

export interface RealPhoto {
  /** Relative to the folder of real photos: `folder/…/name.png`. */
  path: string;
  /** The labels that count as right (`0|6`: a polo shirt is a T-shirt or a Shirt). */
  labels: number[];
  predicted: number;
  confidence: number;
  /** How unlike Fashion-MNIST its input is (ml/novelty.ts; 1 and above goes to review), null without statistics. */
  novelty: number | null;
  /** CPU milliseconds of the app's `convertPhoto` on this photo (decode, isolation, conversion, thumbnail), sharp's threads included. */
  cpuMs: number;
  /**
   * CPU milliseconds isolation adds to it: the input from the decoded pixels as the app makes it (the mask, its
   * widening, the soft shadow left out, the tone lift, the closer decode of a small product) less the same
   * conversion of the same pixels with isolation off (the same reduction to 28 px, so its cost is not counted).
   */
  isolationCpuMs: number;
}

export interface RealPhotosBench {
  photos: number;
  correct: number;
  accuracy: number;
  folders: { folder: string; photos: number; correct: number; accuracy: number }[];
  /** Mean and largest CPU milliseconds per photo of the whole conversion, and of what isolation adds to it (RealPhoto). */
  cpuMsPerPhoto: { mean: number; max: number; isolationMean: number; isolationMax: number };
  results: RealPhoto[];
  /** Photos whose novelty sends them to review (NOVELTY_LIMIT and above), among the wrong and among the right ones. */
  unusual: { wrong: number; right: number };
  /** Photos right with the paper's conversion alone (no isolation, no tone lift). */
  correctWithoutIsolation: number;
  /** Photos right with area averaging throughout for the reduction to 28 px (the default, 'auto', averages only where the garment has detail finer than that). */
  correctWithAreaAveraging: number;
  /** Photos right when the reduction picks the pixel at each output pixel's centre throughout ('nearest', the paper's). */
  correctPickingPixels: number;
  /**
   * Photos right zero-shot after adapting the model's batch norm to all the photos' inputs, no labels used
   * (adaptBatchNorm: `alpha` of their statistics blended with the model's own).
   */
  zeroShotAdapted: { alpha: number; correct: number }[];
  /** The contact sheet written (PNG), when one was asked for. */
  sheet?: string;
  /** Fine-tuning on a seeded half of the photos (with isolation), tested on the other half; absent without replay data. */
  fineTuned?: RealPhotosFineTune;
}

export interface RealPhotosFineTune {
  seed: number;
  /** Photos fine-tuned on (split into training and validation by fineTune) and photos tested. */
  trained: number;
  tested: number;
  /** Right on the tested half: the shipped model zero-shot, and the fine-tuned version (its prototypes blended in, as the app classifies). */
  zeroShotCorrect: number;
  correct: number;
  /** The same fine-tuned weights without the prototypes. */
  correctWithoutPrototypes: number;
  /**
   * Batch norm adapted first (ADAPT_BEFORE_FINE_TUNING of all the photos' statistics, no labels), then fine-tuned
   * the same way: right on the tested half zero-shot after adapting, and after fine-tuning (with its prototypes).
   */
  adaptedFirst: { alpha: number; zeroShotCorrect: number; correct: number };
  /** The fine-tuning's own numbers: its validation photos (from the trained half) and the replay guard, at the best epoch. */
  validation: { count: number; accuracy: number | null };
  replay: { count: number; accuracy: number | null };
  seconds: number;
}

/** The folder of real photos beside the project (`../shared/real-photos`), or undefined when it is not there. */
export async function findRealPhotos(projectRoot: string): Promise<string | undefined> {
  const dir = path.resolve(projectRoot, '..', 'shared', 'real-photos');
  try {
    await fs.access(path.join(dir, 'labels.csv'));
    return dir;
  } catch {
    return undefined;
  }
}

/** The most probable class of row `i` of `p` (rows of NUM_CLASSES probabilities). */
function argmax(p: Float32Array, i: number): number {
  const row = p.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
  return row.indexOf(Math.max(...row));
}

/** Inputs back to back, as a predictor takes them: `inputs[indices]`. */
function stack(inputs: Uint8Array[], indices: number[]): Uint8Array {
  const images = new Uint8Array(indices.length * PIXELS);
  indices.forEach((i, n) => images.set(inputs[i]!, n * PIXELS));
  return images;
}

/** The shares of the photos' own batch statistics the bench adapts with (adaptBatchNorm's `alpha`). */
const ADAPT_ALPHAS = [0.25, 0.5, 1];
/** The share adapted with before fine-tuning: the method as published (Li et al. 2016), the photos' statistics alone. */
const ADAPT_BEFORE_FINE_TUNING = 1;

/**
 * The model in `modelDir` with its batch norm adapted to all of `inputs` (28×28 each), in this thread:
 * its weights, and its probabilities for each input (inputs.length × NUM_CLASSES).
 */
async function adaptToPhotos(
  modelDir: string,
  inputs: Uint8Array[],
  alpha: number,
): Promise<{ weights: Float32Array[]; probabilities: Float32Array }> {
  await initBackend();
  const model = await loadModel(modelDir);
  const images = stack(
    inputs,
    inputs.map((_, i) => i),
  );
  try {
    const weights = adaptBatchNorm(model, images, inputs.length, alpha);
    const network = inferenceNetwork(model);
    try {
      return {
        weights,
        probabilities: network.probabilities(images, inputs.length, { flipAverage: APP_FLIP_AVERAGING }),
      };
    } finally {
      network.dispose();
    }
  } finally {
    model.dispose();
  }
}

/** Tile side of the contact sheet, pixels: the photo and its 28×28 input upscaled 4×. */
const TILE = 4 * IMAGE_SIZE;

/**
 * A contact sheet: per photo its thumbnail, then its 28×28 input as the model sees it (4× nearest), with
 * a green or red bar under the input for right or wrong. Pairs are laid out `columns` to a row.
 */
async function contactSheet(
  files: Buffer[],
  inputs: Uint8Array[],
  right: boolean[],
  out: string,
  columns = 8,
): Promise<void> {
  const rows = Math.ceil(files.length / columns);
  const composites: sharp.OverlayOptions[] = [];
  for (let i = 0; i < files.length; i++) {
    const left = (i % columns) * 2 * TILE;
    const top = Math.floor(i / columns) * (TILE + 6);
    const photo = await sharp(files[i])
      .flatten({ background: '#ffffff' })
      .resize(TILE, TILE, { fit: 'contain', background: '#ffffff' })
      .png()
      .toBuffer();
    const input = await sharp(inputs[i]!, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
      .resize(TILE, TILE, { kernel: 'nearest' })
      .png()
      .toBuffer();
    const bar = await sharp({
      create: { width: TILE, height: 4, channels: 3, background: right[i] ? '#00c000' : '#e00000' },
    })
      .png()
      .toBuffer();
    composites.push(
      { input: photo, left, top },
      { input, left: left + TILE, top },
      { input: bar, left: left + TILE, top: top + TILE + 1 },
    );
  }
  await sharp({ create: { width: columns * 2 * TILE, height: rows * (TILE + 6), channels: 3, background: '#808080' } })
    .composite(composites)
    .png()
    .toFile(out);
}

/**
 * Converts and classifies every photo listed in `dir`/labels.csv (columns `path,label`; a label `a|b` means
 * either is right), as the app converts them. Photos are converted one at a time so that each one's CPU time is
 * its own, the least of REPEATS runs. Writes the contact sheet to `sheet` when given.
 */
export async function benchRealPhotos(
  dir: string,
  predictor: Predictor,
  sheet?: string,
  replay?: ImageSet,
): Promise<RealPhotosBench> {
  const rows = parse(await fs.readFile(path.join(dir, 'labels.csv'), 'utf8'), {
    columns: true,
    skip_empty_lines: true,
  }) as { path: string; label: string }[];
  const files = await Promise.all(rows.map((row) => fs.readFile(path.join(dir, row.path))));
  const inputs: Uint8Array[] = [];
  const cpuMs: number[] = [];
  const isolationCpuMs: number[] = [];
  await convertPhoto(files[0]!); // sharp's first call loads its codecs: not a photo's cost
  for (const bytes of files) {
    inputs.push((await convertPhoto(bytes)).pixels);
    cpuMs.push(await leastCpuMs(() => convertPhoto(bytes)));
    const { raw, cutout, shape } = await decodeUpright(bytes);
    isolationCpuMs.push(
      (await leastCpuMs(() => garmentInput(bytes, raw, shape, {}, cutout))) -
        (await leastCpuMs(async () => toFashionMnist(raw, { isolate: false }))),
    );
  }
  const paperInputs = await Promise.all(files.map(async (bytes) => (await convertPhoto(bytes, PAPER_ONLY)).pixels));
  const { probabilities, novelty } = await predictor.assess(inputs);
  const areaInputs = await Promise.all(
    files.map(async (bytes) => (await convertPhoto(bytes, { reduce: 'area' })).pixels),
  );
  const areaProbabilities = await predictor.predictEach(areaInputs);
  const nearestProbabilities = await predictor.predictEach(
    await Promise.all(files.map(async (bytes) => (await convertPhoto(bytes, { reduce: 'nearest' })).pixels)),
  );
  const paperProbabilities = await predictor.predictEach(paperInputs);
  const results = rows.map((row, i): RealPhoto => {
    const predicted = argmax(probabilities, i);
    return {
      path: row.path,
      labels: row.label.split('|').map(Number),
      predicted,
      confidence: probabilities[i * NUM_CLASSES + predicted]!,
      novelty: novelty?.[i] ?? null,
      cpuMs: cpuMs[i]!,
      isolationCpuMs: isolationCpuMs[i]!,
    };
  });
  const right = results.map((r) => r.labels.includes(r.predicted));
  const folderNames = [...new Set(results.map((r) => r.path.split('/')[0]!))];
  const folders = folderNames.map((folder) => {
    const inFolder = results.filter((r) => r.path.startsWith(`${folder}/`));
    const correct = inFolder.filter((r) => r.labels.includes(r.predicted)).length;
    return { folder, photos: inFolder.length, correct, accuracy: correct / inFolder.length };
  });
  if (sheet) await contactSheet(files, inputs, right, sheet);
  const correct = right.filter(Boolean).length;
  const unusual = results.map((r) => r.novelty !== null && r.novelty >= NOVELTY_LIMIT);
  const zeroShotAdapted: RealPhotosBench['zeroShotAdapted'] = [];
  for (const alpha of ADAPT_ALPHAS) {
    const { probabilities: adapted } = await adaptToPhotos(predictor.modelDir, inputs, alpha);
    zeroShotAdapted.push({ alpha, correct: results.filter((r, i) => r.labels.includes(argmax(adapted, i))).length });
  }
  return {
    unusual: {
      wrong: unusual.filter((u, i) => u && !right[i]).length,
      right: unusual.filter((u, i) => u && right[i]).length,
    },
    photos: results.length,
    correct,
    accuracy: correct / results.length,
    folders,
    correctWithAreaAveraging: results.filter((r, i) => r.labels.includes(argmax(areaProbabilities, i))).length,
    correctPickingPixels: results.filter((r, i) => r.labels.includes(argmax(nearestProbabilities, i))).length,
    correctWithoutIsolation: results.filter((r, i) => r.labels.includes(argmax(paperProbabilities, i))).length,
    cpuMsPerPhoto: {
      mean: mean(cpuMs),
      max: Math.max(...cpuMs),
      isolationMean: mean(isolationCpuMs),
      isolationMax: Math.max(...isolationCpuMs),
    },
    results,
    sheet,
    zeroShotAdapted,
    fineTuned: replay && (await fineTuneOnHalf(predictor, results, inputs, replay)),
  };
}

/**
 * Fine-tunes the predictor's model on a seeded half of the photos (splitByProduct; the first of a photo's
 * labels is trained on) with the app's fine-tuning options, none held out (the other half is), and counts
 * the photos right on the other half before and after; then the same from the model with its batch norm
 * adapted to all the photos first (no labels).
 */
async function fineTuneOnHalf(
  predictor: Predictor,
  photos: RealPhoto[],
  inputs: Uint8Array[],
  replay: ImageSet,
  seed = 1,
): Promise<RealPhotosFineTune> {
  const { train, test } = splitByProduct(photos, seed);
  const testImages = stack(inputs, test);
  const right = (probabilities: Float32Array) =>
    test.filter((i, n) => photos[i]!.labels.includes(argmax(probabilities, n))).length;
  const labeled: ImageSet = {
    images: stack(inputs, train),
    labels: Uint8Array.from(train, (i) => photos[i]!.labels[0]!),
    count: train.length,
  };
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-bench-real-'));
  try {
    /** Fine-tunes the model in `baseDir` on the trained half and counts the tested half right, with and without its prototypes. */
    const tuneAndTest = async (baseDir: string, name: string) => {
      const started = performance.now();
      const result = await fineTune(baseDir, labeled, replay, {
        ...DEFAULT_FINETUNE_OPTIONS,
        heldOutFraction: 0,
        seed,
      });
      const seconds = (performance.now() - started) / 1000;
      const tested = async (files: Record<string, string>, to: string) => {
        publishModel(baseDir, result.weights, path.join(workDir, to), files);
        const p = await startPredictor(path.join(workDir, to));
        try {
          return right(await p.predict(testImages, test.length));
        } finally {
          await p.close();
        }
      };
      return {
        result,
        seconds,
        correct: await tested(fineTunedFiles(result), name),
        correctWithoutPrototypes: await tested({}, `${name}-plain`),
      };
    };
    const tuned = await tuneAndTest(predictor.modelDir, 'tuned');
    const adapted = await adaptToPhotos(predictor.modelDir, inputs, ADAPT_BEFORE_FINE_TUNING);
    publishModel(predictor.modelDir, adapted.weights, path.join(workDir, 'adapted'));
    const adaptedTuned = await tuneAndTest(path.join(workDir, 'adapted'), 'adapted-tuned');
    const best = tuned.result.history[tuned.result.bestEpoch - 1]!;
    return {
      seed,
      trained: train.length,
      tested: test.length,
      seconds: tuned.seconds,
      zeroShotCorrect: right(await predictor.predict(testImages, test.length)),
      correct: tuned.correct,
      correctWithoutPrototypes: tuned.correctWithoutPrototypes,
      adaptedFirst: {
        alpha: ADAPT_BEFORE_FINE_TUNING,
        zeroShotCorrect: test.filter((i) => photos[i]!.labels.includes(argmax(adapted.probabilities, i))).length,
        correct: adaptedTuned.correct,
      },
      validation: { count: tuned.result.split.validation.length, accuracy: best.validationAccuracy },
      replay: { count: tuned.result.replay.validation, accuracy: best.guardAccuracy ?? null },
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** A product's name: the file name without extension, view suffix (-front, -back) or number suffix (-1, -2, …). */
export function productOf(file: string): string {
  return file.replace(/\.[^./]+$/, '').replace(/-(front|back|\d+)$/, '');
}

/**
 * Splits photos into two halves, seeded, keeping every product's photos together (productOf) and putting
 * each folder-and-label group's products alternately into either half, the first to the half with fewer
 * photos so far. Returns indices into `photos`.
 */
export function splitByProduct(
  photos: readonly { path: string; labels: number[] }[],
  seed: number,
): { train: number[]; test: number[] } {
  const products = new Map<string, number[]>();
  photos.forEach((photo, i) => {
    const key = productOf(photo.path);
    products.set(key, [...(products.get(key) ?? []), i]);
  });
  const strata = new Map<string, number[][]>();
  for (const members of products.values()) {
    const first = photos[members[0]!]!;
    const stratum = `${first.path.split('/')[0]}:${first.labels.join('|')}`;
    strata.set(stratum, [...(strata.get(stratum) ?? []), members]);
  }
  const random = seededRandom(seed);
  const halves = { train: [] as number[], test: [] as number[] };
  for (const groups of strata.values()) {
    let side: 'train' | 'test' = halves.train.length <= halves.test.length ? 'train' : 'test';
    for (const g of shuffledIndices(groups.length, random)) {
      halves[side].push(...groups[g]!);
      side = side === 'train' ? 'test' : 'train';
    }
  }
  return { train: halves.train.sort((a, b) => a - b), test: halves.test.sort((a, b) => a - b) };
}

function describeFineTune(f: RealPhotosFineTune): string[] {
  const of = (n: number) => `${n}/${f.tested} (${((100 * n) / f.tested).toFixed(0)}%)`;
  return [
    `  fine-tuned on ${f.trained} of the photos (seed ${f.seed}, products kept together) in ${f.seconds.toFixed(0)} s, tested on the other ${f.tested}:`,
    `    zero-shot ${of(f.zeroShotCorrect)}, fine-tuned ${of(f.correct)} (without its prototypes ${of(f.correctWithoutPrototypes)})`,
    `    batch norm adapted to all ${f.trained + f.tested} photos first (alpha ${f.adaptedFirst.alpha}, no labels): zero-shot ${of(f.adaptedFirst.zeroShotCorrect)}, fine-tuned ${of(f.adaptedFirst.correct)}`,
    `    its validation: ${f.validation.accuracy === null ? '–' : `${(100 * f.validation.accuracy).toFixed(0)}%`} of ${f.validation.count} trained-half photos; Fashion-MNIST replay ${f.replay.accuracy === null ? '–' : `${(100 * f.replay.accuracy).toFixed(0)}%`} of ${f.replay.count}`,
  ];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The least CPU milliseconds (all threads of the process) of REPEATS runs of `f`. */
async function leastCpuMs(f: () => Promise<unknown>): Promise<number> {
  let least = Infinity;
  for (let run = 0; run < REPEATS; run++) {
    const before = process.cpuUsage();
    await f();
    const used = process.cpuUsage(before);
    least = Math.min(least, (used.user + used.system) / 1000);
  }
  return least;
}

/** The lines that report a run: accuracy overall and per folder, CPU time, and each wrong photo. */
export function describeRealPhotos(r: RealPhotosBench): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  return [
    `real shop photos, zero-shot, as the app converts them (isolation on): ${r.correct}/${r.photos} (${pct(r.accuracy)}); ${r.folders.map((f) => `${f.folder} ${f.correct}/${f.photos} (${pct(f.accuracy)})`).join(', ')}`,
    `  CPU per photo, least of ${REPEATS} runs: whole conversion mean ${r.cpuMsPerPhoto.mean.toFixed(1)} ms (max ${r.cpuMsPerPhoto.max.toFixed(1)}); isolation adds mean ${r.cpuMsPerPhoto.isolationMean.toFixed(1)} ms (max ${r.cpuMsPerPhoto.isolationMax.toFixed(1)})`,
    `  unlike Fashion-MNIST (novelty >= ${NOVELTY_LIMIT}, to review whatever the softmax says): ${r.unusual.wrong} of ${r.photos - r.correct} wrong, ${r.unusual.right} of ${r.correct} right`,
    `  the paper's conversion alone (no isolation, no tone lift): ${r.correctWithoutIsolation}/${r.photos}`,
    `  reduced to 28 px by area averaging throughout: ${r.correctWithAreaAveraging}/${r.photos}; by picking pixels throughout (the paper's reduction): ${r.correctPickingPixels}/${r.photos}`,
    `  batch norm adapted to these photos (AdaBN, no labels; alpha = share of their statistics): ${r.zeroShotAdapted.map((a) => `alpha ${a.alpha} ${a.correct}/${r.photos}`).join(', ')}`,
    ...(r.sheet ? [`  contact sheet of photos and 28×28 inputs: ${r.sheet}`] : []),
    ...(r.fineTuned ? describeFineTune(r.fineTuned) : []),
    ...r.results
      .filter((p) => !p.labels.includes(p.predicted))
      .map(
        (p) =>
          `  wrong: ${p.path}: ${CLASS_NAMES[p.predicted]} ${pct(p.confidence)}, novelty ${p.novelty?.toFixed(2) ?? '—'} (is ${p.labels.map((l) => CLASS_NAMES[l]).join(' or ')})`,
      ),
  ];
}
