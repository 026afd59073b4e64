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
}

export const DEFAULT_AUGMENT: AugmentOptions = { shift: 2, flip: 0.5, erase: 0.3 };

/** Copies images[indices] into `out` as floats 0..1, augmented. */
export function augmentBatch(images: Uint8Array, indices: ArrayLike<number>, out: Float32Array, options: AugmentOptions, random: () => number): void {
  const S = IMAGE_SIZE;
  for (let n = 0; n < indices.length; n++) {
    const src = indices[n]! * PIXELS;
    const dst = n * PIXELS;
    const dx = Math.floor(random() * (2 * options.shift + 1)) - options.shift;
    const dy = Math.floor(random() * (2 * options.shift + 1)) - options.shift;
    const flip = random() < options.flip;
    for (let y = 0; y < S; y++) {
      const sy = y - dy;
      for (let x = 0; x < S; x++) {
        const sx0 = x - dx;
        const sx = flip ? S - 1 - sx0 : sx0;
        out[dst + y * S + x] = sy >= 0 && sy < S && sx >= 0 && sx < S ? images[src + sy * S + sx]! / 255 : 0;
      }
    }
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
