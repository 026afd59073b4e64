/**
 * Zero-shot accuracy on real shop photos (`../shared/real-photos` beside the project, when present): each
 * photo converted by the photo pipeline and classified by the model, accuracy per folder, the conversion's
 * CPU time per photo, and a contact sheet of the photos beside their 28×28 inputs to look at.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES } from '../dataset/fashionMnist.ts';
import type { Predictor } from '../ml/inference.ts';
import { convertPhoto, decodeUpright, garmentInput, toFashionMnist, type ConversionOptions } from './photoPipeline.ts';

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
  /** CPU milliseconds of the app's `convertPhoto` on this photo (decode, isolation, conversion, thumbnail), sharp's threads included. */
  cpuMs: number;
  /**
   * CPU milliseconds isolation adds to it: the input from the decoded pixels as the app makes it (the mask, its
   * widening, the tone lift, the closer decode of a small product) less the paper's conversion of the same pixels.
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
  /** Photos right with the paper's conversion alone (no isolation, no tone lift). */
  correctWithoutIsolation: number;
  /** Photos right with area averaging instead of nearest neighbour for the reduction to 28 px (the choice's measure). */
  correctWithAreaAveraging: number;
  /** The contact sheet written (PNG), when one was asked for. */
  sheet?: string;
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

/** Tile side of the contact sheet, pixels: the photo and its 28×28 input upscaled 4×. */
const TILE = 4 * IMAGE_SIZE;

/**
 * A contact sheet: per photo its thumbnail, then its 28×28 input as the model sees it (4× nearest), with
 * a green or red bar under the input for right or wrong. Pairs are laid out `columns` to a row.
 */
async function contactSheet(files: Buffer[], inputs: Uint8Array[], right: boolean[], out: string, columns = 8): Promise<void> {
  const rows = Math.ceil(files.length / columns);
  const composites: sharp.OverlayOptions[] = [];
  for (let i = 0; i < files.length; i++) {
    const left = (i % columns) * 2 * TILE;
    const top = Math.floor(i / columns) * (TILE + 6);
    const photo = await sharp(files[i]).flatten({ background: '#ffffff' }).resize(TILE, TILE, { fit: 'contain', background: '#ffffff' }).png().toBuffer();
    const input = await sharp(inputs[i]!, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).resize(TILE, TILE, { kernel: 'nearest' }).png().toBuffer();
    const bar = await sharp({ create: { width: TILE, height: 4, channels: 3, background: right[i] ? '#00c000' : '#e00000' } }).png().toBuffer();
    composites.push({ input: photo, left, top }, { input, left: left + TILE, top }, { input: bar, left: left + TILE, top: top + TILE + 1 });
  }
  await sharp({ create: { width: columns * 2 * TILE, height: rows * (TILE + 6), channels: 3, background: '#808080' } }).composite(composites).png().toFile(out);
}

/**
 * Converts and classifies every photo listed in `dir`/labels.csv (columns `path,label`; a label `a|b` means
 * either is right), as the app converts them. Photos are converted one at a time so that each one's CPU time is
 * its own, the least of REPEATS runs. Writes the contact sheet to `sheet` when given.
 */
export async function benchRealPhotos(dir: string, predictor: Predictor, sheet?: string): Promise<RealPhotosBench> {
  const rows = parse(await fs.readFile(path.join(dir, 'labels.csv'), 'utf8'), { columns: true, skip_empty_lines: true }) as { path: string; label: string }[];
  const files = await Promise.all(rows.map((row) => fs.readFile(path.join(dir, row.path))));
  const inputs: Uint8Array[] = [];
  const cpuMs: number[] = [];
  const isolationCpuMs: number[] = [];
  await convertPhoto(files[0]!); // sharp's first call loads its codecs: not a photo's cost
  for (const bytes of files) {
    inputs.push((await convertPhoto(bytes)).pixels);
    cpuMs.push(await leastCpuMs(() => convertPhoto(bytes)));
    const { raw, width, height } = await decodeUpright(bytes);
    isolationCpuMs.push(await leastCpuMs(() => garmentInput(bytes, raw, { width, height })) - await leastCpuMs(async () => toFashionMnist(raw, PAPER_ONLY)));
  }
  const paperInputs = await Promise.all(files.map(async (bytes) => (await convertPhoto(bytes, PAPER_ONLY)).pixels));
  const probabilities = await predictor.predictEach(inputs);
  const areaInputs = await Promise.all(files.map(async (bytes) => (await convertPhoto(bytes, { reduce: 'area' })).pixels));
  const areaProbabilities = await predictor.predictEach(areaInputs);
  const paperProbabilities = await predictor.predictEach(paperInputs);
  const argmax = (p: Float32Array, i: number) => {
    const row = p.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    return row.indexOf(Math.max(...row));
  };
  const results = rows.map((row, i): RealPhoto => {
    const predicted = argmax(probabilities, i);
    return { path: row.path, labels: row.label.split('|').map(Number), predicted, confidence: probabilities[i * NUM_CLASSES + predicted]!, cpuMs: cpuMs[i]!, isolationCpuMs: isolationCpuMs[i]! };
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
  return {
    photos: results.length, correct, accuracy: correct / results.length, folders,
    correctWithAreaAveraging: results.filter((r, i) => r.labels.includes(argmax(areaProbabilities, i))).length,
    correctWithoutIsolation: results.filter((r, i) => r.labels.includes(argmax(paperProbabilities, i))).length,
    cpuMsPerPhoto: { mean: mean(cpuMs), max: Math.max(...cpuMs), isolationMean: mean(isolationCpuMs), isolationMax: Math.max(...isolationCpuMs) },
    results, sheet,
  };
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
    `  the paper's conversion alone (no isolation, no tone lift): ${r.correctWithoutIsolation}/${r.photos}`,
    `  with area averaging instead of nearest neighbour to 28 px: ${r.correctWithAreaAveraging}/${r.photos}`,
    ...(r.sheet ? [`  contact sheet of photos and 28×28 inputs: ${r.sheet}`] : []),
    ...r.results.filter((p) => !p.labels.includes(p.predicted)).map((p) =>
      `  wrong: ${p.path}: ${CLASS_NAMES[p.predicted]} ${pct(p.confidence)} (is ${p.labels.map((l) => CLASS_NAMES[l]).join(' or ')})`),
  ];
}
