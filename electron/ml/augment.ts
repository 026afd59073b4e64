import { IMAGE_SIZE, PIXELS } from '../dataset/fashionMnist.ts';

/** mulberry32: a tiny seeded generator, so splits and augmentation replay exactly on --resume. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of 0..n-1. */
export function shuffledIndices(n: number, random: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

export interface AugmentOptions {
  /** Random translation of up to ±shift pixels (a random crop of the zero-padded image). */
  shift: number;
  /** Probability of a horizontal flip (most shoes face left in the data). */
  flip: number;
  /** Probability of random erasing (Zhong et al. 2017): a random rectangle of 2–25 % of the image set to 0. */
  erase: number;
  /*
   * What the photo conversion leaves of real photos (photoPipeline.ts). Each is off at 0; a checkpoint or card
   * written before they existed lacks them, which reads as off.
   */
  /** Largest relative change of the garment's size (nearest-neighbour rescale about the centre, factor 1 ± scale). */
  scale?: number;
  /**
   * Probability of a tone change of the garment alone (its non-zero pixels): gamma 0.5–2, contrast 0.6–1.4 about
   * its mean, offset ±0.15, and per-pixel noise of up to ±0.12 (the texture a subsampled photo keeps).
   */
  tone?: number;
  /** Probability of a changed outline: softened (outline pixels dimmed to 30–80 %) or ragged (each outline pixel dropped with probability ½). */
  edge?: number;
  /** Probability of leftover background: a faint band along the garment's bottom or top, or a faint speckle over the background. */
  residue?: number;
  /**
   * Probability that a shoe (Sandal, Sneaker, Ankle boot; needs the labels) becomes a pair: shop photos show two
   * shoes, one behind the other, where Fashion-MNIST shows one.
   */
  pair?: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = {
  shift: 2,
  flip: 0.5,
  erase: 0.3,
  scale: 0,
  tone: 0,
  edge: 0,
  residue: 0,
  pair: 0,
};

/** The categories a pair is made of (contract/categories.ts: Sandal, Sneaker, Ankle boot). */
const SHOES = new Set([5, 7, 9]);

/**
 * Reads `key=value,…` (keys of AugmentOptions, values non-negative numbers) over `base`, as `train --augment` takes
 * it. Throws an Error naming the first part it cannot read.
 */
export function parseAugment(text: string, base: AugmentOptions = DEFAULT_AUGMENT): AugmentOptions {
  const options: AugmentOptions = { ...base };
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const [key, raw] = part.split('=').map((s) => s.trim());
    const value = Number(raw);
    if (!key || !(key in DEFAULT_AUGMENT) || raw === undefined || raw === '' || !Number.isFinite(value) || value < 0) {
      throw new Error(`"${part}" is not one of ${Object.keys(DEFAULT_AUGMENT).join(', ')} = a number ≥ 0`);
    }
    options[key as keyof AugmentOptions] = value;
  }
  return options;
}

/** The `key=value,…` of the options that differ from `base` (empty when none do): parseAugment's inverse. */
export function formatAugment(options: AugmentOptions, base: AugmentOptions = DEFAULT_AUGMENT): string {
  return (Object.keys(DEFAULT_AUGMENT) as (keyof AugmentOptions)[])
    .filter((k) => (options[k] ?? 0) !== (base[k] ?? 0))
    .map((k) => `${k}=${options[k] ?? 0}`)
    .join(',');
}

/** The real-input augmentations draw from a stream of their own, so that turning them on leaves the others' draws as they were. */
const REAL_INPUT_STREAM = 0x9e3779b9;

/**
 * Copies images[indices] (uint8, PIXELS each) into `out` as floats 0..1, augmented: shift, flip and scale, then
 * the garment's tone, its outline and leftover background, then erasing. Deterministic for a `seed`.
 */
export function augmentBatch(
  images: Uint8Array,
  indices: ArrayLike<number>,
  out: Float32Array,
  options: AugmentOptions,
  seed: number,
  labels?: Uint8Array,
): void {
  const S = IMAGE_SIZE;
  const random = seededRandom(seed);
  const realRandom = seededRandom(seed ^ REAL_INPUT_STREAM);
  const centre = (S - 1) / 2;
  for (let n = 0; n < indices.length; n++) {
    const src = indices[n]! * PIXELS;
    const dst = n * PIXELS;
    const dx = Math.floor(random() * (2 * options.shift + 1)) - options.shift;
    const dy = Math.floor(random() * (2 * options.shift + 1)) - options.shift;
    const flip = random() < options.flip;
    const zoom = options.scale ? 1 + options.scale * (2 * realRandom() - 1) : 1;
    for (let y = 0; y < S; y++) {
      const sy = zoom === 1 ? y - dy : Math.round(centre + (y - dy - centre) / zoom);
      for (let x = 0; x < S; x++) {
        const sx0 = zoom === 1 ? x - dx : Math.round(centre + (x - dx - centre) / zoom);
        const sx = flip ? S - 1 - sx0 : sx0;
        out[dst + y * S + x] = sy >= 0 && sy < S && sx >= 0 && sx < S ? images[src + sy * S + sx]! / 255 : 0;
      }
    }
    const image = out.subarray(dst, dst + PIXELS);
    if (options.pair && labels && SHOES.has(labels[indices[n]!]!) && realRandom() < options.pair)
      makePair(image, realRandom);
    if (options.tone && realRandom() < options.tone) jitterTone(image, realRandom);
    if (options.edge && realRandom() < options.edge) roughenEdge(image, realRandom);
    if (options.residue && realRandom() < options.residue) leaveBackground(image, realRandom);
    if (random() < options.erase) {
      const area = PIXELS * (0.02 + random() * 0.23);
      const aspect = Math.exp(Math.log(0.3) + random() * (Math.log(1 / 0.3) - Math.log(0.3)));
      const h = Math.min(S, Math.round(Math.sqrt(area * aspect)));
      const w = Math.min(S, Math.round(Math.sqrt(area / aspect)));
      const top = Math.floor(random() * (S - h + 1));
      const left = Math.floor(random() * (S - w + 1));
      for (let y = top; y < top + h; y++) out.fill(0, dst + y * S + left, dst + y * S + left + w);
    }
  }
}

const uniform = (random: () => number, low: number, high: number) => low + (high - low) * random();

/**
 * In place on one image (0..1): the shoe and a copy of it behind, offset sideways by 20–50 % of its width and up
 * by 5–25 % of its height, the copy dimmed to 70–100 % where the front one does not cover it; the pair then
 * rescaled (nearest neighbour) so that its longer side fits the frame, centred, as the conversion fits a photo.
 */
function makePair(image: Float32Array, random: () => number): void {
  const S = IMAGE_SIZE;
  const box = garmentBox(image);
  if (!box) return;
  const shoe = Float32Array.from(image);
  const width = box.right - box.left + 1;
  const height = box.bottom - box.top + 1;
  const dx = Math.round(width * uniform(random, 0.2, 0.5)) * (random() < 0.5 ? -1 : 1);
  const dy = -Math.round(height * uniform(random, 0.05, 0.25));
  const dim = uniform(random, 0.7, 1);
  // The pair's box in the shoe's coordinates, and the scale that fits it.
  const left = box.left + Math.min(0, dx);
  const top = box.top + dy;
  const pairWidth = width + Math.abs(dx);
  const pairHeight = height - dy;
  const zoom = Math.min(1, S / Math.max(pairWidth, pairHeight));
  const offsetX = (S - pairWidth * zoom) / 2;
  const offsetY = (S - pairHeight * zoom) / 2;
  const at = (x: number, y: number) => (x >= 0 && x < S && y >= 0 && y < S ? shoe[y * S + x]! : 0);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const sx = Math.floor((x - offsetX) / zoom) + left;
      const sy = Math.floor((y - offsetY) / zoom) + top;
      const front = at(sx, sy);
      image[y * S + x] = front > 0 ? front : dim * at(sx - dx, sy - dy);
    }
  }
}

/** The box (inclusive) of an image's non-zero pixels, or undefined for an empty image. */
function garmentBox(image: Float32Array): { top: number; bottom: number; left: number; right: number } | undefined {
  const S = IMAGE_SIZE;
  let [top, bottom, left, right] = [S, -1, S, -1];
  for (let i = 0; i < PIXELS; i++) {
    if (image[i]! === 0) continue;
    const x = i % S;
    const y = (i - x) / S;
    [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
  }
  return bottom < 0 ? undefined : { top, bottom, left, right };
}

/** In place on one image (0..1): gamma, contrast about the garment's mean, an offset and noise, on the non-zero pixels only. */
function jitterTone(image: Float32Array, random: () => number): void {
  const gamma = Math.exp(uniform(random, -Math.LN2, Math.LN2));
  const contrast = uniform(random, 0.6, 1.4);
  const offset = uniform(random, -0.15, 0.15);
  const noise = uniform(random, 0, 0.12);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < PIXELS; i++) {
    if (image[i]! > 0) {
      image[i] = image[i]! ** gamma;
      sum += image[i]!;
      count++;
    }
  }
  const mean = sum / Math.max(1, count);
  for (let i = 0; i < PIXELS; i++) {
    if (image[i]! > 0)
      image[i] = Math.min(1, Math.max(0, mean + (image[i]! - mean) * contrast + offset + noise * (2 * random() - 1)));
  }
}

/** The garment's outline: non-zero pixels with a zero (or the frame's edge) among their four neighbours. */
function outline(image: Float32Array): number[] {
  const S = IMAGE_SIZE;
  const on = (x: number, y: number) => x >= 0 && x < S && y >= 0 && y < S && image[y * S + x]! > 0;
  const pixels: number[] = [];
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      if (on(x, y) && !(on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1))) pixels.push(y * S + x);
    }
  }
  return pixels;
}

/** In place: the outline softened (dimmed by one factor) or made ragged (pixels dropped at random); the rest is untouched. */
function roughenEdge(image: Float32Array, random: () => number): void {
  const edge = outline(image);
  if (random() < 0.5) {
    const dim = uniform(random, 0.3, 0.8);
    for (const i of edge) image[i] = image[i]! * dim;
  } else {
    for (const i of edge) if (random() < 0.5) image[i] = 0;
  }
}

/**
 * In place: what an imperfect isolation leaves around the garment, on background (zero) pixels only: a band of
 * 1–3 rows 0–2 rows under or over the garment's box, as wide as it, at 0.05–0.25 (a shadow or a floor line), or 2–8 %
 * of the background at 0.03–0.2 (speckle).
 */
function leaveBackground(image: Float32Array, random: () => number): void {
  const S = IMAGE_SIZE;
  const level = () => uniform(random, 0.03, 0.2);
  if (random() < 0.5) {
    const box = garmentBox(image);
    if (!box) return;
    const { top, bottom, left, right } = box;
    const rows = 1 + Math.floor(random() * 3);
    const below = random() < 0.5;
    const gap = Math.floor(random() * 3);
    const value = uniform(random, 0.05, 0.25);
    for (let r = 0; r < rows; r++) {
      const y = below ? bottom + 1 + gap + r : top - 1 - gap - r;
      if (y < 0 || y >= S) break;
      for (let x = left; x <= right; x++) if (image[y * S + x] === 0) image[y * S + x] = value;
    }
  } else {
    const share = uniform(random, 0.02, 0.08);
    for (let i = 0; i < PIXELS; i++) if (image[i] === 0 && random() < share) image[i] = level();
  }
}
