/**
 * Garment isolation: which pixels of a product photo are the product, so that the Fashion-MNIST conversion
 * sees the garment on white whatever the photo's background (concrete, a wall, a studio gradient, a soft
 * shadow under a packshot). Plain arithmetic on the photo's thumbnail-sized decode:
 * 1. A background model from the image border: per colour channel a quadratic surface in x and y fitted by
 *    least squares to the border band (a gradient or a vignette is a smooth surface), refitted without the
 *    outliers (an object touching the border), and the band's own residuals as its noise (texture).
 * 2. Seeds of the foreground: pixels whose colour differs from the modelled background by more than the border
 *    itself does, counted so that a shadow (darker by a factor, the same chromaticity) is not a difference
 *    unless it is very dark; and edges stronger than the border's (a soft shadow has no sharp edge).
 * 3. Morphology: closing joins the outline, everything the border cannot reach is filled in (a white garment
 *    on white is found by its outline), opening at a radius relative to the object removes thin things
 *    (a hanger's hook, stray threads), and only the main object is kept: the largest connected part and any
 *    part at least a fifth of its size (a pair of shoes is one product); then the faint parts that touch it
 *    and have a sharp outline of their own are added (a light garment's edges, a grey garment on tinted cloth).
 */
import type { RawImage } from './photoPipeline.ts';

/** A foreground mask over an image: 1 for the product, 0 for background, row-major. */
export interface Isolation {
  mask: Uint8Array;
  width: number;
  height: number;
  /** The mask's bounding box (inclusive left/top, size in pixels). */
  box: { left: number; top: number; width: number; height: number };
  /** Share of the frame the mask covers, 0–1. */
  coverage: number;
}

/** Share of the shorter side that is the border band the background is modelled from. */
const BORDER_SHARE = 0.04;
/**
 * A darkening to less than this share of the background's luminance is the product, not a shadow, whatever its
 * colour: the soft shadows of packshots darken the background to 0.7–0.9 of it (saleor's placeholders), and
 * the contact shadows under bags and shoes further. Of the 77 shared real photos, 52 were right at 0.6, 53 at
 * 0.5, 54 at 0.4, 55 at 0.3 and 54 at 0.2 (a scratch loop over convertPhoto and the shipped model). A garment
 * that is only darker than its background, in its colour, is found by its outline (filled, and the faint parts
 * that touch it added).
 */
const SHADOW_FLOOR = 0.3;
/**
 * Smallest colour difference (0–255 units) and luminance range within a cell (an edge's contrast) that count,
 * for a perfectly flat border.
 */
const MIN_COLOUR_DIFFERENCE = 14;
const MIN_RANGE = 16;
/**
 * Thresholds are this many times the 99th percentile of the border's own values (texture, noise, JPEG
 * artefacts), over the border pixels the background model kept (a garment reaching the border is not texture).
 */
const BORDER_MARGIN = 1.5;
const BORDER_QUANTILE = 0.99;
/** Radius of the closing that joins an outline, as a share of the longer side. */
const CLOSE_SHARE = 0.02;
/** A faint part whose sides meet the mask at least this share of the time is the product's inside (addWhatTouches). */
const ENCLOSED = 0.75;
/** Parts of the mask smaller than this share of the largest are dropped. */
const MIN_PART_SHARE = 0.2;

/** Solves the 6×6 system a·x = b by Gaussian elimination with partial pivoting; zeros for a singular one. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-9) return new Array(n).fill(0);
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

/**
 * The value at quantile q (0–1) of `values` (all >= 0), to a 1,024th of their largest: the lower edge of the
 * histogram bin it falls in (a histogram costs a pass; sorting costs many).
 */
function quantile(values: Float32Array, q: number): number {
  const n = values.length;
  let max = 0;
  for (let i = 0; i < n; i++) if (values[i]! > max) max = values[i]!;
  if (max === 0) return 0;
  const bins = 1024;
  const scale = (bins - 1) / max;
  const counts = new Int32Array(bins);
  for (let i = 0; i < n; i++) counts[Math.floor(values[i]! * scale)]!++;
  const rank = Math.min(n - 1, Math.floor(q * n));
  let seen = 0;
  for (let bin = 0; bin < bins; bin++) {
    seen += counts[bin]!;
    if (seen > rank) return bin / scale;
  }
  return max;
}

/**
 * Per channel, the least-squares quadratic surface through the border band's colours, fitted to the pixels near
 * the band's median colour and then again to the pixels near that fit ("near": within 3 median absolute
 * residuals, +3). A garment reaching the border is not background: a least-squares fit through it bends towards
 * it (a blue hoodie across a fifth of the bottom edge pulled the first fit of concrete to blue there, and with it
 * the noise threshold), where the median does not move. Returns the border pixels kept and per channel the
 * coefficients of 1, u, v, u², v², uv at u, v in [−1, 1] across the image.
 */
function fitBackground(image: RawImage, border: Int32Array): { coef: number[][]; inliers: Int32Array } {
  const { data, width, height, channels } = image;
  const count = border.length;
  const su = 2 / (width - 1 || 1);
  const sv = 2 / (height - 1 || 1);
  // Each border pixel's six terms and three colour values, once for both fits and the residuals.
  const terms = new Float64Array(6 * count);
  const colours = new Float64Array(3 * count);
  const g = Math.min(1, channels - 1);
  const b = Math.min(2, channels - 1);
  for (let k = 0; k < count; k++) {
    const p = border[k]!;
    const x = p % width;
    const u = x * su - 1;
    const v = ((p - x) / width) * sv - 1;
    const t = 6 * k;
    terms[t] = 1;
    terms[t + 1] = u;
    terms[t + 2] = v;
    terms[t + 3] = u * u;
    terms[t + 4] = v * v;
    terms[t + 5] = u * v;
    colours[3 * k] = data[p * channels]!;
    colours[3 * k + 1] = data[p * channels + g]!;
    colours[3 * k + 2] = data[p * channels + b]!;
  }
  const fit = (use: Uint8Array | undefined): number[][] => {
    const ata = Array.from({ length: 6 }, () => new Array<number>(6).fill(0));
    const atb = Array.from({ length: 3 }, () => new Array<number>(6).fill(0));
    for (let k = 0; k < count; k++) {
      if (use && !use[k]) continue;
      const t = 6 * k;
      for (let i = 0; i < 6; i++) {
        const ti = terms[t + i]!;
        const row = ata[i]!;
        for (let j = i; j < 6; j++) row[j]! += ti * terms[t + j]!;
        for (let c = 0; c < 3; c++) atb[c]![i]! += ti * colours[3 * k + c]!;
      }
    }
    // Symmetric: the lower triangle is the upper one's (the same products, summed in the same order).
    for (let i = 1; i < 6; i++) for (let j = 0; j < i; j++) ata[i]![j] = ata[j]![i]!;
    return atb.map((rhs) => solve(ata, rhs));
  };
  // The border pixels whose summed absolute residual from `model` (3 channel values) is within the limit.
  const near = (model: (k: number, c: number) => number): { kept: Uint8Array; count: number } => {
    const residuals = new Float32Array(count);
    for (let k = 0; k < count; k++)
      for (let c = 0; c < 3; c++) residuals[k]! += Math.abs(colours[3 * k + c]! - model(k, c));
    const limit = 3 * quantile(residuals, 0.5) + 3;
    const kept = new Uint8Array(count);
    let n = 0;
    for (let k = 0; k < count; k++)
      if (residuals[k]! <= limit) {
        kept[k] = 1;
        n++;
      }
    return { kept, count: n };
  };
  const channel = new Float32Array(count);
  const median = [0, 1, 2].map((c) => {
    for (let k = 0; k < count; k++) channel[k] = colours[3 * k + c]!;
    return quantile(channel, 0.5);
  });
  const aroundMedian = near((_, c) => median[c]!);
  if (aroundMedian.count < 12) return { coef: fit(undefined), inliers: border };
  const first = fit(aroundMedian.kept);
  const { kept, count: inliers } = near((k, c) => {
    let model = 0;
    for (let i = 0; i < 6; i++) model += terms[6 * k + i]! * first[c]![i]!;
    return model;
  });
  if (inliers < 12) return { coef: first, inliers: border };
  return { coef: fit(kept), inliers: border.filter((_, k) => kept[k] === 1) };
}

/** Dilates (max) or erodes (min) a 0/1 mask with a (2r+1)² square, separably (a running count per window). */
function morph(mask: Uint8Array, width: number, height: number, r: number, dilate: boolean): Uint8Array {
  if (r <= 0) return mask;
  // Beyond the frame counts as neither: erosion keeps a mask's edge where it touches the frame, so a window's
  // size is what of it lies within the frame.
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let count = 0;
    for (let x = 0; x < r && x < width; x++) count += mask[base + x]!;
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += mask[base + x + r]!;
      if (x > r) count -= mask[base + x - r - 1]!;
      const size = (x + r < width ? x + r : width - 1) - (x > r ? x - r : 0) + 1;
      rows[base + x] = dilate ? (count > 0 ? 1 : 0) : count === size ? 1 : 0;
    }
  }
  // Columns a row at a time, in memory order: a running count per column.
  const out = new Uint8Array(mask.length);
  const counts = new Int32Array(width);
  for (let y = 0; y < r && y < height; y++) for (let x = 0; x < width; x++) counts[x]! += rows[y * width + x]!;
  for (let y = 0; y < height; y++) {
    if (y + r < height) for (let x = 0, at = (y + r) * width; x < width; x++) counts[x]! += rows[at + x]!;
    if (y > r) for (let x = 0, at = (y - r - 1) * width; x < width; x++) counts[x]! -= rows[at + x]!;
    const size = (y + r < height ? y + r : height - 1) - (y > r ? y - r : 0) + 1;
    const base = y * width;
    if (dilate) for (let x = 0; x < width; x++) out[base + x] = counts[x]! > 0 ? 1 : 0;
    else for (let x = 0; x < width; x++) out[base + x] = counts[x] === size ? 1 : 0;
  }
  return out;
}

/** A 0/1 mask (`width`×`height`, row-major) widened by `r` pixels in every direction (a (2r+1)² square). */
export const widen = (mask: Uint8Array, width: number, height: number, r: number): Uint8Array =>
  morph(mask, width, height, r, true);

/** Connected parts (4-neighbours) of a 0/1 mask: a label per pixel (0 = none) and each label's size. */
function components(mask: Uint8Array, width: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(mask.length);
  const sizes = [0];
  const stack = new Int32Array(mask.length);
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = sizes.length;
    let size = 0;
    let top = 0;
    labels[start] = label;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top]!;
      size++;
      const x = p % width;
      if (x > 0 && mask[p - 1] && !labels[p - 1]) {
        labels[p - 1] = label;
        stack[top++] = p - 1;
      }
      if (x < width - 1 && mask[p + 1] && !labels[p + 1]) {
        labels[p + 1] = label;
        stack[top++] = p + 1;
      }
      if (p >= width && mask[p - width] && !labels[p - width]) {
        labels[p - width] = label;
        stack[top++] = p - width;
      }
      if (p + width < mask.length && mask[p + width] && !labels[p + width]) {
        labels[p + width] = label;
        stack[top++] = p + width;
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The largest of `sizes` (a spread into Math.max overflows the stack on a mask of many parts). */
function biggest(sizes: number[]): number {
  let most = 0;
  for (const size of sizes) if (size > most) most = size;
  return most;
}

/** A 0/1 mask (`width`×`height`, row-major) with every pixel the frame cannot reach through unset pixels set (holes in it, inside an outline); a new array. */
export function fillHoles(mask: Uint8Array, width: number, height: number): Uint8Array {
  // The frame's pixels and what they reach through unset pixels are the outside: the complement of its parts
  // that touch the frame. A one-pixel unset frame around the image joins them all into one part.
  const w = width + 2;
  const padded = new Uint8Array(w * (height + 2));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) padded[(y + 1) * w + x + 1] = mask[y * width + x] ? 0 : 1;
  for (let x = 0; x < w; x++) {
    padded[x] = 1;
    padded[(height + 1) * w + x] = 1;
  }
  for (let y = 0; y < height + 2; y++) {
    padded[y * w] = 1;
    padded[y * w + w - 1] = 1;
  }
  const { labels } = components(padded, w);
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out[y * width + x] = labels[(y + 1) * w + x + 1] === 1 ? 0 : 1;
  return out;
}

/**
 * The product's mask in an upright RGB (or gray) image on white, as described above. Undefined when nothing
 * stands out from the background (a blank photo, or one whose product fills the frame so that the border is
 * the product): the caller then converts the whole image.
 */
export function isolateGarment(image: RawImage): Isolation | undefined {
  const frame = frameStrips(image);
  if (frame.left + frame.right + frame.top + frame.bottom === 0) return isolateInside(image);
  const inner = {
    width: image.width - frame.left - frame.right,
    height: image.height - frame.top - frame.bottom,
    channels: image.channels,
  };
  const data = new Uint8Array(inner.width * inner.height * inner.channels);
  for (let y = 0; y < inner.height; y++) {
    const from = ((y + frame.top) * image.width + frame.left) * image.channels;
    data.set(image.data.subarray(from, from + inner.width * inner.channels), y * inner.width * inner.channels);
  }
  const found = isolateInside({ ...inner, data });
  if (!found) return undefined;
  const mask = new Uint8Array(image.width * image.height);
  for (let y = 0; y < inner.height; y++)
    mask.set(found.mask.subarray(y * inner.width, (y + 1) * inner.width), (y + frame.top) * image.width + frame.left);
  const { box } = found;
  return {
    mask,
    width: image.width,
    height: image.height,
    box: { ...box, left: box.left + frame.left, top: box.top + frame.top },
    coverage: (found.coverage * inner.width * inner.height) / (image.width * image.height),
  };
}

/**
 * Lines of one flat colour along the frame's edges that differ from the line inside them: a scan's or an
 * export's padding (eshoponweb's photos have a white column or two beside the concrete). They are not the
 * photo's background. At most 1 % of each side (+1 pixel).
 */
function frameStrips(image: RawImage): { left: number; right: number; top: number; bottom: number } {
  const { data, width, height, channels } = image;
  // The median colour of a line (per channel) and whether all its pixels are within 4 levels of each other.
  const line = (start: number, step: number, count: number) => {
    const values = [0, 1, 2].map(() => new Uint8Array(count));
    for (let i = 0; i < count; i++)
      for (let c = 0; c < 3; c++) values[c]![i] = data[(start + i * step) * channels + Math.min(c, channels - 1)]!;
    return values
      .map((v) => v.sort())
      .reduce((acc, v) => ({ flat: acc.flat && v[count - 1]! - v[0]! <= 4, median: [...acc.median, v[count >> 1]!] }), {
        flat: true,
        median: [] as number[],
      });
  };
  const strip = (lineAt: (i: number) => { flat: boolean; median: number[] }, side: number) => {
    const most = Math.ceil(0.01 * side) + 1;
    let n = 0;
    while (n < most && lineAt(n).flat) n++;
    if (n === 0 || n === most) return 0;
    // Against the median of the band inside, not of one line: a garment reaching a packshot's narrow white
    // margin does not make the margin a strip.
    const edge = lineAt(n - 1).median;
    const band = Math.max(2, Math.round(BORDER_SHARE * side));
    const inside = [0, 1, 2].map((c) => {
      const medians = Array.from({ length: band }, (_, i) => lineAt(n + i).median[c]!).sort((a, b) => a - b);
      return medians[band >> 1]!;
    });
    // With the line next to it: the decode's resize blends the strip into it.
    return Math.max(...[0, 1, 2].map((c) => Math.abs(edge[c]! - inside[c]!))) > 30 ? n + 1 : 0;
  };
  return {
    top: strip((i) => line(i * width, 1, width), height),
    bottom: strip((i) => line((height - 1 - i) * width, 1, width), height),
    left: strip((i) => line(i, width, height), width),
    right: strip((i) => line(width - 1 - i, width, height), width),
  };
}

/**
 * Share of the border band within 5 % of white that makes a photo a packshot on white. With every pixel required,
 * 284 of the first 1,000 rendered Fashion-MNIST test packshots (garments touching the frame) were isolated and 94.3 %
 * were right against 94.5 % without isolation; at 0.8, none, 94.5 % (scratch loop /tmp/h19b/fid.mts), and the 77
 * real photos stay 55 right.
 */
const WHITE_BAND_SHARE = 0.8;
/** Within 5 % of the maximum intensity of white: the photo pipeline's trim threshold (Fashion-MNIST's). */
const NEAR_WHITE = 255 - Math.round(0.05 * 255);
const isNearWhite = (data: Uint8Array, p: number, channels: number) => {
  for (let c = 0; c < Math.min(3, channels); c++) if (data[p * channels + c]! < NEAR_WHITE) return false;
  return true;
};

/**
 * True when at least WHITE_BAND_SHARE of the border band (BORDER_SHARE of the shorter side) is within 5 % of white:
 * most packshots, the product reaching the frame in places. The photo pipeline then leaves isolation out and the
 * paper's trim finds the product on its own (a fraction of a millisecond), less a soft shadow under it (softShadowBelow).
 */
export function plainWhiteBorder(image: RawImage): boolean {
  const { data, width, height, channels } = image;
  if (width < 8 || height < 8) return false;
  const band = Math.max(2, Math.round(BORDER_SHARE * Math.min(width, height)));
  let white = 0;
  let total = 0;
  for (let y = 0; y < height; y++) {
    const whole = y < band || y >= height - band;
    for (let x = 0; x < width; x++) {
      if (!whole && x === band) x = width - band;
      total++;
      if (isNearWhite(data, y * width + x, channels)) white++;
    }
  }
  return white >= WHITE_BAND_SHARE * total;
}

/**
 * Most chroma (largest less smallest channel, 0–255) of a soft shadow's pixels: it is the white background darkened,
 * grey (saleor's placeholders' shadows: 0; a JPEG's noise adds a few levels).
 */
const SHADOW_CHROMA = 12;
/**
 * Largest luminance step (0–255) between neighbouring pixels of a soft shadow: it darkens gradually, without an edge.
 * Saleor's placeholders' shadows step by 7–21 on the 256-px decode; a product's outline, by 50 and more.
 */
const SHADOW_STEP = 24;

/**
 * A soft shadow under a packshot on white that floats above it (as saleor's placeholders do): the rows at the bottom
 * of `box` (the product's trim box in `image`, pixels) with anything not within 5 % of white in them, when a row
 * within 5 % of white throughout separates them from the rows above, they are at most half as many, and all their
 * pixels that are not near white are grey (SHADOW_CHROMA), nowhere darker than SHADOW_FLOOR of white, and change
 * gradually (SHADOW_STEP). Returns the number of rows above the separating row, counted from the box's top (the
 * product's height without its shadow), or undefined when there is no such shadow. A shadow that touches the product
 * (a contact shadow, or one cast on the floor the product stands on) is left where it is.
 */
export function softShadowBelow(
  image: RawImage,
  box: { left: number; top: number; width: number; height: number },
): number | undefined {
  const { data, width, channels } = image;
  const right = box.left + box.width;
  const plain = (y: number) => {
    for (let x = box.left; x < right; x++) if (!isNearWhite(data, y * width + x, channels)) return false;
    return true;
  };
  const bottom = box.top + box.height - 1;
  let y = bottom;
  while (y >= box.top && !plain(y)) y--;
  const shadowTop = y + 1;
  while (y >= box.top && plain(y)) y--;
  if (y < box.top || bottom - shadowTop + 1 > (y - box.top + 1) / 2) return undefined;
  const g = Math.min(1, channels - 1);
  const b = Math.min(2, channels - 1);
  const lum = (p: number) =>
    0.2126 * data[p * channels]! + 0.7152 * data[p * channels + g]! + 0.0722 * data[p * channels + b]!;
  for (let row = shadowTop; row <= bottom; row++) {
    for (let x = box.left; x < right; x++) {
      const p = row * width + x;
      if (isNearWhite(data, p, channels)) continue;
      const at = p * channels;
      const chroma =
        Math.max(data[at]!, data[at + g]!, data[at + b]!) - Math.min(data[at]!, data[at + g]!, data[at + b]!);
      const l = lum(p);
      if (chroma > SHADOW_CHROMA || l < SHADOW_FLOOR * 255) return undefined;
      if (
        (x + 1 < right && Math.abs(lum(p + 1) - l) > SHADOW_STEP) ||
        (row < bottom && Math.abs(lum(p + width) - l) > SHADOW_STEP)
      )
        return undefined;
    }
  }
  return y - box.top + 1;
}

/** True when at least half the border is within 5 % of white: a packshot on white, the product may reach the border. */
function whiteBackground(image: RawImage, border: Int32Array): boolean {
  let white = 0;
  for (const p of border) if (isNearWhite(image.data, p, image.channels)) white++;
  return white >= 0.5 * border.length;
}

/**
 * Adds to the mask (`width`×`height`) each connected part of the `faint` cells not in it that touches the mask
 * and either has a seed of its own (a sharp edge or a clear colour difference, more than 2 cells from the mask)
 * or is mostly enclosed by it (at least ENCLOSED of its cells' sides that leave it meet the mask): the faint
 * parts of a light garment, whose outline is sharp, and the inside of an outline the closing left open come
 * back; a soft shadow, which has no sharp outline and lies beside the product, stays out.
 */
function addWhatTouches(mask: Uint8Array, seeds: Uint8Array, faint: Uint8Array, width: number, height: number): void {
  const near = morph(mask, width, height, 1, true);
  const beside = morph(mask, width, height, 2, true);
  const marked = new Uint8Array(mask.length);
  for (let p = 0; p < mask.length; p++) marked[p] = mask[p] ? 0 : faint[p]!;
  const { labels, sizes } = components(marked, width);
  const touching = new Uint8Array(sizes.length);
  const seeded = new Uint8Array(sizes.length);
  const toMask = new Int32Array(sizes.length);
  const toRest = new Int32Array(sizes.length);
  for (let p = 0; p < mask.length; p++) {
    const label = labels[p]!;
    if (!label) continue;
    if (near[p]) touching[label] = 1;
    if (seeds[p] && !beside[p]) seeded[label] = 1;
    const x = p % width;
    for (const q of [x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1, p - width, p + width]) {
      if (q < 0 || q >= mask.length) toRest[label]!++;
      else if (mask[q]) toMask[label]!++;
      else if (labels[q] !== label) toRest[label]!++;
    }
  }
  for (let p = 0; p < mask.length; p++) {
    const label = labels[p]!;
    if (label && touching[label] && (seeded[label] || toMask[label]! >= ENCLOSED * (toMask[label]! + toRest[label]!)))
      mask[p] = 1;
  }
}

/**
 * The longer side, in cells, of the grid the mask is found on (a 256-px decode: cells of 2×2 pixels). A mask
 * needs far fewer pixels than the conversion does (the garment ends up 28 pixels tall), and its cost goes with
 * the number of cells.
 */
const MASK_SIDE = 128;
/**
 * Where the grid's mask, interpolated between cell centres, reaches this level the pixel is the product's.
 * A cell the outline crosses is the product's (its mean colour differs from the background), so the outline
 * lies inside the cells' edge: 0.8 put it best on test/isolation.test.ts's generated photos (mask IoU).
 */
const OUTLINE_LEVEL = 0.8;

/**
 * The grid over `image`: per cell of `factor`×`factor` pixels (partial cells at the right and bottom over the
 * pixels they hold) its mean colour, RGB, and the range of its pixels' luminance (0–255): a sharp edge or a thin
 * line keeps its contrast there, where the mean blurs it, and a soft shadow's gradual darkening spans little of it.
 */
function grid(image: RawImage, factor: number): { cells: RawImage; range: Float32Array } {
  const { data, width, height, channels } = image;
  const w = Math.ceil(width / factor);
  const h = Math.ceil(height / factor);
  const sums = new Float32Array(w * h * 3);
  const counts = new Float32Array(w * h);
  const lum = new Float32Array(width * height);
  const g = Math.min(1, channels - 1);
  const b = Math.min(2, channels - 1);
  // Each column's cell, once rather than a division per pixel.
  const column = Int32Array.from({ length: width }, (_, x) => Math.floor(x / factor));
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / factor) * w;
    for (let x = 0; x < width; x++) {
      const cell = row + column[x]!;
      const at = (y * width + x) * channels;
      const r = data[at]!,
        gr = data[at + g]!,
        bl = data[at + b]!;
      sums[3 * cell]! += r;
      sums[3 * cell + 1]! += gr;
      sums[3 * cell + 2]! += bl;
      counts[cell]!++;
      lum[y * width + x] = 0.2126 * r + 0.7152 * gr + 0.0722 * bl;
    }
  }
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(sums[i]! / counts[(i / 3) | 0]!);
  const range = new Float32Array(w * h);
  for (let cy = 0; cy < h; cy++) {
    const y1 = Math.min(height, (cy + 1) * factor) - 1;
    for (let cx = 0; cx < w; cx++) {
      const x1 = Math.min(width, (cx + 1) * factor) - 1;
      let low = 255,
        high = 0;
      for (let y = cy * factor; y <= y1; y++) {
        for (let x = cx * factor, at = y * width; x <= x1; x++) {
          const l = lum[at + x]!;
          if (l < low) low = l;
          if (l > high) high = l;
        }
      }
      range[cy * w + cx] = high - low;
    }
  }
  return { cells: { data: out, width: w, height: h, channels: 3 }, range };
}

/**
 * A mask `factor` times the size of `coarse` (`w`×`h` cells, at least 2×2), cut to `width`×`height`: each pixel
 * set where the bilinear interpolation of the cells at its centre reaches OUTLINE_LEVEL, so that outlines run
 * smooth, not in steps of `factor` pixels.
 */
function enlarge(coarse: Uint8Array, w: number, h: number, factor: number, width: number, height: number): Uint8Array {
  const axis = (n: number, cells: number) => {
    const from = new Int32Array(n);
    const share = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = Math.min(cells - 1, Math.max(0, (i + 0.5) / factor - 0.5));
      from[i] = Math.min(cells - 2, Math.floor(c));
      share[i] = c - from[i]!;
    }
    return { from, share };
  };
  const xs = axis(width, w);
  const ys = axis(height, h);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const top = ys.from[y]! * w;
    const dy = ys.share[y]!;
    for (let x = 0; x < width; x++) {
      const a = top + xs.from[x]!;
      const dx = xs.share[x]!;
      const upper = coarse[a]! + dx * (coarse[a + 1]! - coarse[a]!);
      const lower = coarse[a + w]! + dx * (coarse[a + w + 1]! - coarse[a + w]!);
      out[y * width + x] = upper + dy * (lower - upper) >= OUTLINE_LEVEL ? 1 : 0;
    }
  }
  return out;
}

/** The background surface `c` (coefficients of 1, u, v, u², v², uv) at u, v. */
const surface = (c: number[], u: number, v: number) =>
  c[0]! + u * (c[1]! + c[3]! * u + c[5]! * v) + v * (c[2]! + c[4]! * v);

/**
 * How far the colour r, g, b stands out from the background's bgR, bgG, bgB (0–255 units): a shadow is the
 * background times a factor below 1, so the colour is compared with the background darkened by the same factor,
 * and a darkening counts only below SHADOW_FLOOR; a lightening counts whole.
 */
function colourDifference(r: number, g: number, b: number, bgR: number, bgG: number, bgB: number): number {
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const bgL = Math.max(1, 0.2126 * bgR + 0.7152 * bgG + 0.0722 * bgB);
  const ratio = l / bgL;
  const scale = Math.min(1, ratio);
  const chroma = Math.max(Math.abs(r - bgR * scale), Math.abs(g - bgG * scale), Math.abs(b - bgB * scale));
  const tone = ratio > 1 ? l - bgL : ratio < SHADOW_FLOOR ? bgL - l : 0;
  return Math.max(chroma, tone);
}

/**
 * isolateGarment on an image without padding strips. The background model and its noise come from the
 * image's own border pixels; the seeds, the morphology and the main object are found on a grid of cells
 * MASK_SIDE long (the cost goes with the number of cells), whose mask is then enlarged to the image.
 */
function isolateInside(image: RawImage): Isolation | undefined {
  const { data, width, height, channels } = image;
  if (width < 8 || height < 8) return undefined;
  const band = Math.max(2, Math.round(BORDER_SHARE * Math.min(width, height)));
  // Every other pixel of the band in each direction: the statistics are the same at a quarter of the cost.
  const borderList: number[] = [];
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2)
      if (y < band || y >= height - band || x < band || x >= width - band) borderList.push(y * width + x);
  }
  const border = Int32Array.from(borderList);
  const { coef, inliers } = fitBackground(image, border);
  const [cr, cg, cb] = coef as [number[], number[], number[]];
  const su = 2 / (width - 1);
  const sv = 2 / (height - 1);
  // The border's own colour differences at full resolution (texture, grain, JPEG artefacts), which the
  // cells' means would smooth away.
  const g = Math.min(1, channels - 1);
  const b = Math.min(2, channels - 1);
  const borderDiff = new Float32Array(inliers.length);
  for (let k = 0; k < inliers.length; k++) {
    const p = inliers[k]!;
    const x = p % width;
    const u = x * su - 1;
    const v = ((p - x) / width) * sv - 1;
    const at = p * channels;
    borderDiff[k] = colourDifference(
      data[at]!,
      data[at + g]!,
      data[at + b]!,
      surface(cr, u, v),
      surface(cg, u, v),
      surface(cb, u, v),
    );
  }
  const colourThreshold = Math.max(MIN_COLOUR_DIFFERENCE, BORDER_MARGIN * quantile(borderDiff, BORDER_QUANTILE));
  const white = whiteBackground(image, border);

  // Cells of at least 2×2 pixels: a single pixel has no range.
  const factor = Math.max(2, Math.round(Math.max(width, height) / MASK_SIDE));
  const { cells, range } = grid(image, factor);
  const w = cells.width;
  const h = cells.height;
  const n = w * h;
  const colourDiff = new Float32Array(n);
  // The plain difference, darkening included: what tells a hole that shows the background from a garment's
  // inside that is the background's colour darkened (a grey garment on a tinted cloth is, by colour, a shadow).
  const plainDiff = new Float32Array(n);
  for (let y = 0; y < h; y++) {
    const v = Math.min(height - 1, y * factor + (factor - 1) / 2) * sv - 1;
    for (let x = 0; x < w; x++) {
      const u = Math.min(width - 1, x * factor + (factor - 1) / 2) * su - 1;
      const at = 3 * (y * w + x);
      const bgR = surface(cr, u, v),
        bgG = surface(cg, u, v),
        bgB = surface(cb, u, v);
      const r = cells.data[at]!,
        gr = cells.data[at + 1]!,
        bl = cells.data[at + 2]!;
      colourDiff[y * w + x] = colourDifference(r, gr, bl, bgR, bgG, bgB);
      plainDiff[y * w + x] = Math.max(Math.abs(r - bgR), Math.abs(gr - bgG), Math.abs(bl - bgB));
    }
  }
  // The edge threshold from the border's cells that the background model explains (not an object reaching it).
  const bandCells = Math.max(1, Math.round(band / factor));
  const borderRanges: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      if (
        (y < bandCells || y >= h - bandCells || x < bandCells || x >= w - bandCells) &&
        colourDiff[p]! <= colourThreshold
      )
        borderRanges.push(range[p]!);
    }
  }
  const rangeThreshold = Math.max(
    MIN_RANGE,
    BORDER_MARGIN * quantile(Float32Array.from(borderRanges), BORDER_QUANTILE),
  );
  const seeds = new Uint8Array(n);
  for (let p = 0; p < n; p++) seeds[p] = colourDiff[p]! > colourThreshold || range[p]! > rangeThreshold ? 1 : 0;
  // Faint: on white what the paper's trim would keep (not within 5 % of white); elsewhere what differs from the
  // background plainly, a darkening included.
  const faint = new Uint8Array(n);
  for (let p = 0; p < n; p++)
    faint[p] = (white ? !isNearWhite(cells.data, p, 3) : plainDiff[p]! > colourThreshold) ? 1 : 0;
  const coarse = maskOf(cells.width, cells.height, seeds, faint, plainDiff, colourThreshold, white);
  if (!coarse) return undefined;
  return maskIsolation(enlarge(coarse, w, h, factor, width, height), width, height);
}

/** A 0/1 `mask` of `width`×`height` with its bounding box and coverage; undefined when it is empty. */
export function maskIsolation(mask: Uint8Array, width: number, height: number): Isolation | undefined {
  let left = width,
    top = height,
    right = -1,
    bottom = -1,
    area = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      area++;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  if (area === 0) return undefined;
  return {
    mask,
    width,
    height,
    box: { left, top, width: right - left + 1, height: bottom - top + 1 },
    coverage: area / (width * height),
  };
}

/**
 * From the seeds on a grid of `width`×`height` cells to the product's mask there (1 = product): closing, filling,
 * holes that look like the background reopened (not on `white`; `plainDiff` per cell, 0–255, within half the
 * colour threshold), opening, the main object, and the `faint` parts that touch it. Undefined when nothing is left.
 */
function maskOf(
  width: number,
  height: number,
  seeds: Uint8Array,
  faint: Uint8Array,
  plainDiff: Float32Array,
  colourThreshold: number,
  white: boolean,
): Uint8Array | undefined {
  const n = width * height;
  const closeRadius = Math.max(1, Math.round(CLOSE_SHARE * Math.max(width, height)));
  const closed = morph(morph(seeds, width, height, closeRadius, true), width, height, closeRadius, false);
  const filled = fillHoles(closed, width, height);
  if (!white) {
    // A hole the filling closed that looks like the background throughout is background: the gap between
    // trouser legs that the closing bridged, the inside of a bag's handle. (On white it cannot be told from
    // the inside of a white garment, and is kept.)
    const holes = new Uint8Array(n);
    for (let p = 0; p < n; p++) holes[p] = filled[p] && !closed[p] ? 1 : 0;
    const { labels: hole, sizes: holeSizes } = components(holes, width);
    const alike = new Array<number>(holeSizes.length).fill(0);
    for (let p = 0; p < n; p++) if (hole[p] && plainDiff[p]! <= colourThreshold / 2) alike[hole[p]!]!++;
    for (let p = 0; p < n; p++) if (hole[p] && alike[hole[p]!]! >= 0.9 * holeSizes[hole[p]!]!) filled[p] = 0;
  }
  const largest = biggest(components(filled, width).sizes);
  if (largest === 0) return undefined;
  // Opening at a radius relative to the object: thin parts (a hanger's hook) go, the garment's shape stays.
  // An object under 20 cells across is not opened: every part of it is thin.
  const objectSide = Math.sqrt(largest);
  const openRadius = Math.round(0.025 * objectSide);
  const opened = morph(morph(filled, width, height, openRadius, false), width, height, openRadius, true);
  const { labels, sizes } = components(opened, width);
  const main = biggest(sizes);
  if (main === 0) return undefined;
  const mask = new Uint8Array(n);
  for (let p = 0; p < n; p++) if (labels[p] && sizes[labels[p]!]! >= MIN_PART_SHARE * main) mask[p] = 1;
  addWhatTouches(mask, seeds, faint, width, height);
  return mask;
}
