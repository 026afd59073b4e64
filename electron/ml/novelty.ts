/**
 * How unlike the training images a photo's 28×28 input is, from the network's penultimate features: the
 * Mahalanobis distance, with one covariance shared by all classes, to the nearest class mean (Lee, Lee, Lee
 * and Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks",
 * NeurIPS 2018). The statistics are fitted per model version on a seeded sample of Fashion-MNIST's training
 * split and kept beside its weights (novelty.json); the distance is reported relative to the threshold that
 * flags 5 % of the validation split, so 1 means "as unusual as the 5 % least usual Fashion-MNIST images".
 */
import fs from 'node:fs';
import path from 'node:path';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../dataset/fashionMnist.ts';
import { NOVELTY_LIMIT } from '../../contract/review.ts';
import { seededRandom, shuffledIndices } from './augment.ts';
import type { Predictor } from './inference.ts';
import { DEFAULT_TRAIN_OPTIONS, splitTrainValidation } from './train.ts';
import { writeFileAtomic } from './modelFiles.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

export const NOVELTY_FILE = 'novelty.json';

/** Share of the validation images the threshold flags. */
export const FLAGGED_SHARE = 0.05;

/** A model's feature statistics, whitened so that scoring is one matrix-vector product and ten distances. */
export interface NoveltyStats {
  featureSize: number;
  /** L⁻¹ for the Cholesky factor L of the shared covariance (featureSize², row-major, lower triangular). */
  whitening: number[];
  /** Each class mean multiplied by L⁻¹ (NUM_CLASSES × featureSize). */
  means: number[][];
  /** The distance at the (1 − FLAGGED_SHARE) quantile of the validation images. */
  threshold: number;
  /** What it was fitted on: training images sampled (seeded) and validation images scored. */
  fitted: { train: number; validation: number; seed: number };
}

/**
 * Ridge added to the covariance's diagonal, as a share of its mean variance: features after a ReLU and an
 * average pool include some that are nearly constant, whose tiny variances would otherwise dominate.
 */
const RIDGE = 1e-3;

/** Lower-triangular Cholesky factor of a symmetric positive-definite n×n matrix (row-major). */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(sum > 0)) throw new Error('internal: the feature covariance is not positive definite');
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** The inverse of a lower-triangular n×n matrix (row-major), itself lower triangular. */
function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / l[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum -= l[i * n + k]! * inv[k * n + j]!;
      inv[i * n + j] = sum / l[i * n + i]!;
    }
  }
  return inv;
}

/** The Mahalanobis distance of each of `count` feature vectors to its nearest class mean (unscaled). */
function distances(
  stats: Omit<NoveltyStats, 'threshold' | 'fitted'>,
  features: Float32Array,
  count: number,
): Float32Array {
  const d = stats.featureSize;
  const out = new Float32Array(count);
  const z = new Float64Array(d);
  for (let i = 0; i < count; i++) {
    const f = features.subarray(i * d, (i + 1) * d);
    for (let r = 0; r < d; r++) {
      let sum = 0;
      for (let c = 0; c <= r; c++) sum += stats.whitening[r * d + c]! * f[c]!;
      z[r] = sum;
    }
    let best = Infinity;
    for (const mean of stats.means) {
      let sum = 0;
      for (let r = 0; r < d; r++) sum += (z[r]! - mean[r]!) ** 2;
      best = Math.min(best, sum);
    }
    out[i] = Math.sqrt(best);
  }
  return out;
}

/**
 * Each input's novelty: its features' distance over the model's threshold (NOVELTY_LIMIT and above is
 * flagged), raised to NOVELTY_LIMIT where the input fills its own outline (filledOutline). `pixels` holds the
 * `count` 28×28 inputs the `features` (count × featureSize) were computed from.
 */
export function noveltyScores(
  stats: NoveltyStats,
  features: Float32Array,
  pixels: Uint8Array,
  count: number,
): Float32Array {
  return distances(stats, features, count).map((x, i) =>
    filledOutline(pixels.subarray(i * PIXELS, (i + 1) * PIXELS))
      ? Math.max(NOVELTY_LIMIT, x / stats.threshold)
      : x / stats.threshold,
  );
}

/** Gray level (0–255, garment bright) above which an input pixel is garment rather than background. */
const GARMENT_LEVEL = 10;
/** Share of background on an input's outline below which it counts as filled. */
const FILLED_SHARE = 0.02;

/**
 * True when the garment in a 28×28 input (784 bytes, garment bright) fills the box around it to the box's own
 * edge: under 2 % of the box's outline pixels are background (at most GARMENT_LEVEL). A photo with no
 * background the conversion could find (a fabric close-up, colour noise, a frame-filling shot whose isolation
 * failed) becomes such a rectangle, which the network's features do not tell from a bag. Fashion-MNIST's
 * garments leave background on their outline: 34 of its 60,000 training images are filled so (0.06 %, 18 of
 * them bags, 12 trousers; a scratch script over train-images-idx3-ubyte, 2026-11-30).
 */
export function filledOutline(input: Uint8Array): boolean {
  let [top, bottom, left, right] = [IMAGE_SIZE, -1, IMAGE_SIZE, -1];
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      if (input[y * IMAGE_SIZE + x]! <= GARMENT_LEVEL) continue;
      [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
    }
  }
  if (bottom < 0) return false;
  let outline = 0;
  let background = 0;
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      if (y !== top && y !== bottom && x !== left && x !== right) continue;
      outline++;
      if (input[y * IMAGE_SIZE + x]! <= GARMENT_LEVEL) background++;
    }
  }
  return background < FILLED_SHARE * outline;
}

/**
 * Fits the statistics: class means and the shared covariance of `train`'s features (count × featureSize,
 * labels 0–9), then the threshold from `validation`'s features. Throws when a class has no images.
 */
export function fitNovelty(
  train: { features: Float32Array; labels: Uint8Array },
  validation: Float32Array,
  featureSize: number,
  fitted: NoveltyStats['fitted'],
): NoveltyStats {
  const d = featureSize;
  const n = train.labels.length;
  const sums = Array.from({ length: NUM_CLASSES }, () => new Float64Array(d));
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (let i = 0; i < n; i++) {
    const k = train.labels[i]!;
    counts[k]!++;
    for (let j = 0; j < d; j++) sums[k]![j]! += train.features[i * d + j]!;
  }
  if (counts.some((c) => c === 0)) throw new Error('internal: novelty statistics need training images of every class');
  const means = sums.map((s, k) => s.map((v) => v / counts[k]!));
  const covariance = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const mean = means[train.labels[i]!]!;
    for (let j = 0; j < d; j++) centred[j] = train.features[i * d + j]! - mean[j]!;
    for (let r = 0; r < d; r++) for (let c = 0; c <= r; c++) covariance[r * d + c]! += centred[r]! * centred[c]!;
  }
  let trace = 0;
  for (let r = 0; r < d; r++) trace += covariance[r * d + r]! / n;
  for (let r = 0; r < d; r++) {
    for (let c = 0; c <= r; c++) covariance[c * d + r] = covariance[r * d + c] = covariance[r * d + c]! / n;
    covariance[r * d + r]! += (RIDGE * trace) / d;
  }
  const whitening = invertLower(cholesky(covariance, d), d);
  const whitened = means.map((mean) =>
    Array.from({ length: d }, (_, r) => {
      let sum = 0;
      for (let c = 0; c <= r; c++) sum += whitening[r * d + c]! * mean[c]!;
      return sum;
    }),
  );
  const partial = { featureSize: d, whitening: Array.from(whitening), means: whitened };
  const scored = distances(partial, validation, validation.length / d).sort();
  const threshold = scored[Math.min(scored.length - 1, Math.floor(scored.length * (1 - FLAGGED_SHARE)))]!;
  return { ...partial, threshold, fitted };
}

/**
 * Images per split the statistics are fitted on: a seeded sample of the training split for the means and
 * covariance, and of the validation split for the threshold. 4,000 of each keep fitting a fine-tuned version
 * near 15 s on two cores; the shipped model's threshold with 5,000 training images (13.73) is within 0.5 %
 * of the one with 10,000 (13.67), both against the whole validation split (/tmp/ood19/measure.mts).
 */
export const NOVELTY_SAMPLE = 4000;

/**
 * Fits a model's novelty statistics on Fashion-MNIST's training images (`train`, 60,000) split as the model was
 * trained (its card's validation share and seed: the threshold is set on images it did not learn from), writes
 * them beside its weights and has `predictor` (running that model) score with them from now on. `onImages`
 * hears how many images each of its two passes scored (for a progress bar).
 */
export async function calibrateNovelty(
  predictor: Predictor,
  train: ImageSet,
  seed = 1,
  onImages: (n: number) => void = () => undefined,
): Promise<NoveltyStats> {
  const options = predictor.card?.training?.options ?? DEFAULT_TRAIN_OPTIONS;
  const split = splitTrainValidation(train.count, options.validationFraction, options.seed);
  const random = seededRandom(seed);
  const sample = (indices: Int32Array) => {
    const picked = shuffledIndices(indices.length, random)
      .subarray(0, Math.min(NOVELTY_SAMPLE, indices.length))
      .map((i) => indices[i]!)
      .sort();
    const images = new Uint8Array(picked.length * PIXELS);
    picked.forEach((i, n) => images.set(train.images.subarray(i * PIXELS, (i + 1) * PIXELS), n * PIXELS));
    return { images, labels: Uint8Array.from(picked, (i) => train.labels[i]!), count: picked.length };
  };
  const fit = sample(split.train);
  // A model trained on every training image leaves none unseen: its threshold is set on (other) training images,
  // on which its features sit closer to the means, so it flags somewhat more than FLAGGED_SHARE of unseen ones.
  const check = sample(split.validation.length > 0 ? split.validation : split.train);
  const features = await predictor.features(fit.images, fit.count);
  onImages(fit.count);
  const stats = fitNovelty(
    { features, labels: fit.labels },
    await predictor.features(check.images, check.count),
    features.length / fit.count,
    { train: fit.count, validation: check.count, seed },
  );
  onImages(check.count);
  writeNovelty(predictor.modelDir, stats);
  await predictor.useNovelty(stats);
  return stats;
}

/** A model's novelty statistics, or undefined where it has none (a version fitted before they existed). */
export function readNovelty(modelDir: string): NoveltyStats | undefined {
  const file = path.join(modelDir, NOVELTY_FILE);
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as NoveltyStats;
}

export function writeNovelty(modelDir: string, stats: NoveltyStats): void {
  writeFileAtomic(path.join(modelDir, NOVELTY_FILE), JSON.stringify(stats));
}
