/**
 * From a product photo to the model's 28×28 input, the way Fashion-MNIST itself was made from Zalando's
 * packshots (Xiao, Rasul & Vollgraf 2017, §2): trim the background, longest edge to 28 by nearest-neighbour
 * subsampling (area averaging where the photo has detail finer than that), sharpen, centre on 28×28, negate,
 * 8-bit grayscale. The photo is decoded once, at thumbnail size (JPEG shrink-on-load makes that much cheaper
 * than a full decode), and both outputs come from it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS } from '../dataset/fashionMnist.ts';
import { removeStaleTemporaries } from '../staleFiles.ts';
import { contentKind, isCutShort, SNIFF_BYTES } from './fileKinds.ts';
import {
  fillHoles,
  isolateGarment,
  maskIsolation,
  plainWhiteBorder,
  softShadowBelow,
  widen,
  type Isolation,
} from './isolate.ts';
import { maskOutline } from './outline.ts';

export const THUMBNAIL_SIZE = 256;
/** sharp's own default: larger images are refused before decoding (decompression bombs). */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;
/**
 * Larger files are refused before they are read: no product photo comes near it (an uncompressed 50-megapixel
 * TIFF is 150 MB), and four of them in flight at once would already hold 2 GB of memory.
 */
export const MAX_PHOTO_BYTES = 512 * 2 ** 20;
/** Trim what is within 5 % of the maximum intensity of the corner colour. */
const TRIM_THRESHOLD = Math.round(0.05 * 255);
const WHITE = { r: 255, g: 255, b: 255 };

export interface ConvertedPhoto {
  hash: string;
  format: string;
  /** Upright size of the original. */
  width: number;
  height: number;
  /** 784 bytes: the garment bright on black, as in Fashion-MNIST. */
  pixels: Uint8Array;
  thumbnail: Buffer;
  /** The isolated garment's outline on the photo (outline.ts: polygons, 0–1 coordinates); absent when isolation did not run. */
  outline?: number[][];
}

/** Where a photo's thumbnail lives in the content-addressed cache: thumbnails/ab/abcdef….jpg. */
export function thumbnailPath(thumbnailsDir: string, hash: string): string {
  return path.join(thumbnailsDir, hash.slice(0, 2), `${hash}.jpg`);
}

/**
 * Where thumbnails are written before they are renamed into place: one folder, so that what a killed
 * import left there is found without reading the whole cache.
 */
const incomingThumbnails = (thumbnailsDir: string) => path.join(thumbnailsDir, '.incoming');

/** Runs `f`, and once more after creating `dir` if the folder was missing. */
function creatingFolder<T>(dir: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return f();
  }
}

/**
 * Writes a thumbnail whole or not at all (a temporary file renamed into place), replacing a damaged one.
 * The folders are made when a write finds them missing, not checked before every photo. Synchronous: into
 * the app's own cache, the write and the rename took 0.4–0.6 ms of CPU per 10-kB thumbnail, through promises
 * 0.8–1.3 ms (scratch loop of 1,000, 2026-11-30), each of their four steps a trip through libuv's four
 * threads, which the photo worker's decodes hold.
 */
export function writeThumbnail(file: string, data: Buffer): void {
  const incoming = incomingThumbnails(path.dirname(path.dirname(file)));
  const tmp = path.join(incoming, `${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  creatingFolder(incoming, () => fs.writeFileSync(tmp, data, { mode: 0o600 }));
  creatingFolder(path.dirname(file), () => fs.renameSync(tmp, file));
}

/** Removes the thumbnails that processes which died mid-write left half-written. */
export function removeStaleThumbnails(thumbnailsDir: string): void {
  removeStaleTemporaries(incomingThumbnails(thumbnailsDir), /^[0-9a-f]+\.jpg\.(\d+)\.[0-9a-z]+\.tmp$/);
}

/** True when a cached thumbnail is there and whole: a JPEG from its start marker to its end marker. */
export async function isThumbnail(file: string): Promise<boolean> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch {
    return false;
  }
  try {
    const { size } = await handle.stat();
    if (size < 4) return false;
    const start = Buffer.alloc(3);
    const end = Buffer.alloc(2);
    await handle.read(start, 0, 3, 0);
    await handle.read(end, 0, 2, size - 2);
    return start.equals(JPEG_START) && end.equals(JPEG_END);
  } finally {
    await handle.close();
  }
}
const JPEG_START = Buffer.from([0xff, 0xd8, 0xff]);
const JPEG_END = Buffer.from([0xff, 0xd9]);

/** A photo that cannot be imported, with a reason a person understands. */
export class PhotoError extends Error {}

/** Raw 8-bit pixels, interleaved channels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * libvips' 'error' level: the decoder's warnings (extraneous bytes before a marker, a sequential scan with
 * odd spectral parameters, a bad checksum on an ancillary chunk) are what every viewer shrugs off; data that
 * is cut short or corrupt beyond decoding still fails.
 */
const DECODE_OPTIONS = { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' } as const;

/**
 * A cut-out photo's product is what is at least this share as opaque as its most opaque pixel: cut-out packshots
 * (PNG, WebP, TIFF, AVIF or GIF with a transparent background) draw their soft shadows and reflections faint and
 * the product opaque. Relative to the most opaque pixel, so that a product drawn part-transparent throughout (sheer
 * fabric, a layer at 60 % opacity) stays whole; three quarters, not the half of a matte's usual binarisation,
 * because at thumbnail size a contact shadow blends into the product's bottom edge, and half-opaque blends would
 * lengthen the product there. What is less opaque than that beside an opaque part is left out with the shadows: a
 * sheer body under an opaque trim, parts thinner than about a thumbnail pixel (at 28 px they are a tenth of one).
 * On saleor's 31 cut-outs among the 77 shared real shop photos this took the conversion from 25 right to 27, as
 * cuts at alpha 128, 200 and 250 of 255 did (two pairs of plimsolls lost their shadows; scratch script, 2026-12-01).
 */
export const PRODUCT_OPACITY = 0.75;

/**
 * A decode as 8-bit sRGB pixels composited onto white, and for a photo with transparency (`withAlpha`), its cut-out:
 * the product's mask (PRODUCT_OPACITY), undefined where nothing is transparent enough to be left out.
 */
async function decodeOnWhite(
  pipeline: sharp.Sharp,
  withAlpha: boolean,
): Promise<{ raw: RawImage; cutout?: Isolation }> {
  const { data, info } = await (withAlpha ? pipeline.ensureAlpha() : pipeline.flatten({ background: WHITE }))
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  if (!withAlpha) return { raw: { data, width, height, channels: info.channels } };
  // RGB and alpha first; a TIFF may carry more bands after them (a saved selection), which are not the photo.
  const stride = info.channels;
  const flat = new Uint8Array(width * height * 3);
  const alpha = new Uint8Array(width * height);
  for (let p = 0, at = 0; p < alpha.length; p++, at += stride) {
    alpha[p] = data[at + 3]!;
    const a = alpha[p]! / 255;
    for (let c = 0; c < 3; c++) flat[p * 3 + c] = Math.round(a * data[at + c]! + (1 - a) * 255);
  }
  return { raw: { data: flat, width, height, channels: 3 }, cutout: productMask(alpha, width, height) };
}

/**
 * The product's mask in a cut-out's `alpha` (`width`×`height`): the pixels at least PRODUCT_OPACITY as opaque as the
 * most opaque one; undefined when that leaves nothing out or nothing in (no transparency, or none visible).
 */
function productMask(alpha: Uint8Array, width: number, height: number): Isolation | undefined {
  let most = 0;
  for (const a of alpha) most = Math.max(most, a);
  if (most === 0) return undefined;
  const cut = Math.max(1, Math.ceil(PRODUCT_OPACITY * most));
  const product = maskIsolation(
    Uint8Array.from(alpha, (a) => (a >= cut ? 1 : 0)),
    width,
    height,
  );
  return product && product.coverage < 1 ? product : undefined;
}

/**
 * The photo's pixels for sharp to decode: its bytes, or where it has more bands than colour and alpha (a TIFF with a
 * saved selection after its alpha), its upright colour and alpha alone, decoded whole: libvips takes the last band
 * for alpha, so resizing and flattening would treat the selection as the transparency.
 */
async function photoSource(bytes: Buffer, bands: number): Promise<sharp.Sharp> {
  if (bands <= 4) return sharp(bytes, DECODE_OPTIONS);
  const { data, info } = await sharp(bytes, DECODE_OPTIONS)
    .rotate()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgba = Buffer.alloc(info.width * info.height * 4);
  for (let p = 0; p < info.width * info.height; p++) data.copy(rgba, p * 4, p * info.channels, p * info.channels + 4);
  return sharp(rgba, { raw: { width: info.width, height: info.height, channels: 4 } });
}

/** A photo's upright size in pixels and its number of bands (colour, alpha and any more), from its header. */
export interface PhotoShape {
  width: number;
  height: number;
  bands: number;
}

/**
 * The photo decoded upright, flattened onto white, sRGB, no larger than the thumbnail (`raw`), with its format and
 * its shape (upright size in pixels, bands); for a cut-out (a photo with transparency), `cutout`: the product's mask
 * (PRODUCT_OPACITY), which the conversion uses in place of isolation. Throws sharp's error when the bytes do not decode.
 */
export async function decodeUpright(
  bytes: Buffer,
): Promise<{ raw: RawImage; cutout?: Isolation; format: string; shape: PhotoShape }> {
  const meta = await sharp(bytes, DECODE_OPTIONS).metadata();
  const upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
  const decoded = await decodeOnWhite(
    (await photoSource(bytes, meta.channels ?? 0))
      .rotate()
      .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true }),
    meta.hasAlpha === true,
  );
  return {
    ...decoded,
    format: meta.format ?? 'unknown',
    shape: {
      width: upright.width ?? decoded.raw.width,
      height: upright.height ?? decoded.raw.height,
      bands: meta.channels ?? decoded.raw.channels,
    },
  };
}

/**
 * The bounding box of the pixels in the first `height` rows of an 8-bit gray image `width` wide that differ from the
 * top-left pixel by more than the threshold, or undefined when none does (a blank image). Scans inwards from each edge and stops
 * at the first garment pixel, so mostly only the margins are read.
 */
function trimBox(level: Uint8Array, width: number, height: number): Box | undefined {
  const corner = level[0]!;
  const differs = (x: number, y: number) => Math.abs(level[y * width + x]! - corner) > TRIM_THRESHOLD;
  const rowHasGarment = (y: number) => {
    for (let x = 0; x < width; x++) if (differs(x, y)) return true;
    return false;
  };
  let top = 0;
  while (top < height && !rowHasGarment(top)) top++;
  if (top === height) return undefined;
  let bottom = height - 1;
  while (!rowHasGarment(bottom)) bottom--;
  let left = width - 1;
  let right = 0;
  for (let y = top; y <= bottom; y++) {
    for (let x = 0; x < left; x++)
      if (differs(x, y)) {
        left = x;
        break;
      }
    for (let x = width - 1; x > right; x--)
      if (differs(x, y)) {
        right = x;
        break;
      }
  }
  // A garment one pixel wide leaves right < left only if it sits left of every other row's content.
  if (right < left) right = left;
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}

/**
 * Unsharp mask with a Gaussian of σ 1 (radius 1, as in the paper) and libvips' curve: a gain on flat
 * areas, twice that where the difference from the blur is large (outlines), clamped to +10/−20 L* units.
 * The gains are a quarter of libvips' defaults: Fashion-MNIST's own images are sharpened already, and
 * with the shipped model the first 2,000 test images rendered as photos lost 0.8 points of accuracy
 * through the pipeline with these gains, 1.7 (on 1,000) with half of them (scratch run and CI).
 */
function sharpen(gray: Float32Array, width: number, height: number): Float32Array {
  const kernel = [Math.exp(-0.5), 1, Math.exp(-0.5)];
  const norm = kernel[0]! + kernel[1]! + kernel[2]!;
  const at = (x: number, y: number) =>
    gray[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;
  const horizontal = new Float32Array(gray.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      horizontal[y * width + x] =
        (kernel[0]! * at(x - 1, y) + kernel[1]! * at(x, y) + kernel[2]! * at(x + 1, y)) / norm;
  }
  const rowOf = (x: number, y: number) => horizontal[Math.min(height - 1, Math.max(0, y)) * width + x]!;
  const out = new Float32Array(gray.length);
  const unit = 255 / 100; // one L* unit on the 0–255 scale
  const [flatGain, edgeGain, knee, maxUp, maxDown] = [0.25, 0.5, 2 * unit, 10 * unit, 20 * unit];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const blur = (kernel[0]! * rowOf(x, y - 1) + kernel[1]! * rowOf(x, y) + kernel[2]! * rowOf(x, y + 1)) / norm;
      const d = gray[y * width + x]! - blur;
      const size = Math.abs(d);
      let boost = size <= knee ? size * flatGain : knee * flatGain + (size - knee) * edgeGain;
      boost = d >= 0 ? Math.min(boost, maxUp) : -Math.min(boost, maxDown);
      out[y * width + x] = gray[y * width + x]! + boost;
    }
  }
  return out;
}

/** Options of the conversion, for measuring one choice against another. */
export interface ConversionOptions {
  /**
   * Isolate the garment and composite it onto white first (isolate.ts), unless the border is mostly white
   * (default true). It takes the 77 shared real shop photos from 41 right to 55 and adds a mean of 3.0 ms of
   * CPU per photo, at the 3 ms budget (max 8.9; the least of 5 runs per photo, `npm run bench -- --only
   * realPhotos`, 2026-11-30). Rendered Fashion-MNIST packshots skip it: fidelity gap 0.65 points (test/fidelity.test.ts).
   */
  isolate?: boolean;
  /**
   * Reduction to 28 px: 'auto' (default) averages where the trimmed garment has detail finer than the 28-px grid
   * (fineDetail above FINE_DETAIL_LIMIT), which picking would alias, and picks elsewhere; 'nearest' picks the
   * pixel at each output pixel's centre, as the paper did; 'area' averages the pixels it covers everywhere. On the
   * 77 real shop photos 'auto' gets 60 right against nearest's 55 (saleor 25/31, eshoponweb 4/7, synthetic 31/39,
   * against 21, 5 and 29) and averages none of the rendered packshots, so their fidelity gap stays 0.65 points;
   * 'area' also gets 60 but widens that gap to 1.04 (`npm run bench -- --only realPhotos`, 2026-11-30). A photo
   * that is all texture (colour noise, a fabric close-up) averages to a flat grey rectangle that the network
   * calls Bag; the novelty's outline cue (ml/novelty.ts filledOutline) sends it to review (test/novelty.test.ts).
   */
  reduce?: 'auto' | 'area' | 'nearest';
  /**
   * Lift a light garment's tones to Fashion-MNIST's (liftTones; default true), on white too: a white shoe with a
   * contact shadow under it was nearly black once negated. Lifting every garment, not only isolated ones and those
   * floating above a soft shadow, took the 77 real shop photos from 60 right to 61 with the shipped model and left
   * the rendered packshots' fidelity gap at 0.61 points (bench/pipeline.ts measureFidelity on all 10,000, 2026-11-30).
   */
  tones?: boolean;
}

/**
 * Resamples the box of a single-channel image `src` (the value of pixel p = y·srcWidth + x) to `width`×`height`:
 * each output pixel the mean of the source pixels it covers, partial pixels by their covered share ('area'), or
 * the pixel at its centre ('nearest').
 */
function reduce(
  src: (p: number) => number,
  srcWidth: number,
  box: Box,
  width: number,
  height: number,
  mode: 'area' | 'nearest',
): Float32Array {
  const out = new Float32Array(width * height);
  if (mode === 'nearest') {
    for (let y = 0; y < height; y++) {
      const sy = box.top + Math.floor(((y + 0.5) * box.height) / height);
      for (let x = 0; x < width; x++)
        out[y * width + x] = src(sy * srcWidth + box.left + Math.floor(((x + 0.5) * box.width) / width));
    }
    return out;
  }
  // Separable: rows first, then columns; weights are the overlap of [i, i+1) with each output pixel's span.
  const xs = spans(box.width, box.left, width);
  const ys = spans(box.height, box.top, height);
  const rows = new Float32Array(box.height * width);
  for (let y = 0; y < box.height; y++) {
    const base = (box.top + y) * srcWidth;
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = xs.start[x]!; k < xs.start[x + 1]!; k++) sum += xs.weight[k]! * src(base + xs.source[k]!);
      rows[y * width + x] = sum;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = ys.start[y]!; k < ys.start[y + 1]!; k++)
        sum += ys.weight[k]! * rows[(ys.source[k]! - box.top) * width + x]!;
      out[y * width + x] = sum;
    }
  }
  return out;
}

/**
 * Area resampling's taps along one axis, from `n` source pixels starting at `from` to `to` output pixels: output
 * pixel i reads source pixels source[k] with weights weight[k] for k from start[i] to start[i + 1] (flat arrays:
 * the reduction's inner loop over them ran 2× as fast as over arrays of pairs; scratch profile, 2026-12-01).
 */
function spans(n: number, from: number, to: number): { start: Int32Array; source: Int32Array; weight: Float64Array } {
  const start = new Int32Array(to + 1);
  const source: number[] = [];
  const weight: number[] = [];
  for (let i = 0; i < to; i++) {
    const a = (i * n) / to;
    const b = ((i + 1) * n) / to;
    for (let j = Math.floor(a); j < Math.min(n, Math.ceil(b)); j++) {
      source.push(from + j);
      weight.push((Math.min(b, j + 1) - Math.max(a, j)) / (b - a));
    }
    start[i + 1] = source.length;
  }
  return { start, source: Int32Array.from(source), weight: Float64Array.from(weight) };
}

type Box = { left: number; top: number; width: number; height: number };

/**
 * fineDetail above which the reduction averages ('auto'). Content with no detail finer than the 28-px grid scores
 * 1 to π²/4 (fineDetail); JPEG noise and a Lanczos upscale's ringing add to that. Measured on 2026-11-30 over the
 * conversion's own gray image and trim box (a scratch script): the 10,000 Fashion-MNIST test images rendered as
 * packshots as test/fidelity.test.ts renders them (writePackshots, seed 5) score 1.49–4.38 (median 2.12, 99.9th
 * percentile 3.58; the highest a nearly flat bag as JPEG), the 77 real shop photos 6.61–22.6 (saleor 6.61–13.9,
 * eshoponweb 6.79–14.3, synthetic 9.94–22.6). The limit is the geometric middle of 4.38 and 6.61.
 */
const FINE_DETAIL_LIMIT = 5.4;

/**
 * How much of the detail in `box` of a single-channel image (`width` pixels a row; the conversion passes its rounded gray levels) is finer than an output
 * grid of `step` source pixels a pixel: the mean absolute Laplacian over 1-pixel neighbours, over that over
 * round(step)-pixel neighbours, times round(step)². For a sinusoid of frequency f (cycles per pixel) along one axis
 * this is s²(1 − cos 2πf)/(1 − cos 2πfs), s = round(step): 1 for slow ones, π²/4 at the grid's Nyquist frequency
 * 1/(2s), more above it, where picking one pixel per output pixel aliases. 0 for a flat box.
 */
export function fineDetail(gray: ArrayLike<number>, width: number, height: number, box: Box, step: number): number {
  const s = Math.max(1, Math.round(step));
  const at = (x: number, y: number) =>
    gray[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]!;
  let fine = 0;
  let coarse = 0;
  for (let y = box.top; y < box.top + box.height; y++) {
    for (let x = box.left; x < box.left + box.width; x++) {
      const v = 4 * at(x, y);
      fine += Math.abs(v - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1));
      coarse += Math.abs(v - at(x - s, y) - at(x + s, y) - at(x, y - s) - at(x, y + s));
    }
  }
  return coarse === 0 ? 0 : (s * s * fine) / coarse;
}

/**
 * Fashion-MNIST's light garments are not black: over its 60,000 training images, the 5th percentile of each
 * image's median garment pixel (its non-zero pixels) is 59 of 255 (per class from 42, Shirt, to 111, Ankle
 * boot). A garment whose median is below this is lifted so that its median is this and its brightest pixels
 * stay where they are; the background stays black. test/isolation.test.ts checks it against the test set.
 */
export const TONE_FLOOR = 59;

/**
 * The Fashion-MNIST conversion of an upright image on white: unless `options.isolate` is false or the border is
 * plain white, the garment isolated and composited onto white (isolate.ts); trim what is within 5 % of the corner colour
 * (less a soft shadow under a packshot that floats, softShadowBelow), longest edge to 28 (nearest neighbour, or area
 * averaging where the garment has detail finer than that, ConversionOptions.reduce), sharpen,
 * centre on 28×28, negate, lift a light garment's tones, 8-bit grayscale. Throws PhotoError for a blank image.
 */
export function toFashionMnist(image: RawImage, options: ConversionOptions = {}): Uint8Array {
  return convertIsolated(image, options, isolationOf(image, options));
}

/** The garment mask of `image` that the conversion uses, or undefined where isolation is off or the border is plain white. */
const isolationOf = (image: RawImage, options: ConversionOptions) =>
  options.isolate === false || plainWhiteBorder(image) ? undefined : isolateGarment(image);

/** Rec. 709 luma weights of red, green and blue. */
const LUMA = [0.2126, 0.7152, 0.0722] as const;
/** Luma of the pixel at `at` (its first channel alone where there are fewer than three). */
const luma = (data: Uint8Array, at: number, channels: number) =>
  channels >= 3 ? LUMA[0] * data[at]! + LUMA[1] * data[at + 1]! + LUMA[2] * data[at + 2]! : data[at]!;

/**
 * True when `box` holds at least half of `mask`'s pixels: the trim by colour found the product, not only a seam of
 * one as light as the white around it.
 */
function holdsMostOf(box: Box | undefined, mask: Isolation): boolean {
  if (!box) return false;
  let inside = 0;
  let all = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!mask.mask[y * mask.width + x]) continue;
      all++;
      if (x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height) inside++;
    }
  }
  return 2 * inside >= all;
}

/**
 * `toFashionMnist` of `image` with its garment mask `isolation` found already (undefined: none); `exact` for a
 * cut-out's mask: where the trim by colour misses most of it (a white product on a transparent background), the
 * mask's box is the product's.
 */
function convertIsolated(
  image: RawImage,
  options: ConversionOptions,
  isolation: Isolation | undefined,
  exact = false,
): Uint8Array {
  const { data, channels } = image;
  // Gray levels of the garment composited onto white; the mask is widened so that the anti-aliased outline, which
  // the mask leaves out, stays as it was: by two pixels for isolation's, by one for a cut-out's exact one. The
  // trim reads them rounded over the whole frame; the sampling reads only the pixels it picks.
  const keep =
    isolation && (exact || isolation.coverage < 0.95)
      ? widen(isolation.mask, image.width, image.height, exact ? 1 : 2)
      : undefined;
  const gray = (p: number) => (keep && !keep[p] ? 255 : luma(data, p * channels, channels));
  // The trim reads the rounded levels of most of the frame: a plain loop over it ((v + 0.5) | 0 rounds these
  // non-negative levels as Math.round does) took 0.17 ms on a 205×256 frame, calling gray() per pixel 0.7.
  const levels = new Uint8Array(image.width * image.height);
  if (channels >= 3)
    for (let p = 0, at = 0; p < levels.length; p++, at += channels)
      levels[p] = (LUMA[0] * data[at]! + LUMA[1] * data[at + 1]! + LUMA[2] * data[at + 2]! + 0.5) | 0;
  else for (let p = 0, at = 0; p < levels.length; p++, at += channels) levels[p] = data[at]!;
  if (keep) for (let p = 0; p < levels.length; p++) if (!keep[p]) levels[p] = 255;
  let box = trimBox(levels, image.width, image.height);
  if (exact && !holdsMostOf(box, isolation!)) box = isolation!.box;
  // The model would still name a category for an empty frame, often with confidence; nothing is there to classify.
  if (!box) throw new PhotoError('the image is blank (one colour throughout): there is no garment to classify');
  // Where isolation did not run (a packshot on white), the soft shadow under a product that floats is not the product.
  const shadowless = options.isolate !== false && !keep ? softShadowBelow(image, box) : undefined;
  if (shadowless) box = trimBox(levels, image.width, box.top + shadowless)!;
  const longest = Math.max(box.width, box.height);
  const width = Math.max(1, Math.round((box.width * IMAGE_SIZE) / longest));
  const height = Math.max(1, Math.round((box.height * IMAGE_SIZE) / longest));
  const reduction = options.reduce ?? 'auto';
  const mode =
    reduction !== 'auto'
      ? reduction
      : fineDetail(levels, image.width, image.height, box, longest / IMAGE_SIZE) > FINE_DETAIL_LIMIT
        ? 'area'
        : 'nearest';
  const small = reduce((p) => Math.fround(gray(p)), image.width, box, width, height, mode);
  const sharpened = sharpen(small, width, height);
  const values = Float32Array.from(sharpened, (v) => 255 - Math.min(255, Math.max(0, v)));
  if (options.tones !== false)
    liftTones(
      values,
      keep
        ? reduce((p) => isolation!.mask[p]!, image.width, box, width, height, mode)
        : // Without a mask, the garment is what the trim keeps at 28 px, filled inside its outline (a white garment on white).
          Float32Array.from(
            fillHoles(
              Uint8Array.from(values, (v) => (v > TRIM_THRESHOLD ? 1 : 0)),
              width,
              height,
            ),
          ),
    );
  const pixels = new Uint8Array(PIXELS);
  const left = (IMAGE_SIZE - width) >> 1;
  const top = (IMAGE_SIZE - height) >> 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) pixels[(top + y) * IMAGE_SIZE + left + x] = Math.round(values[y * width + x]!);
  }
  return pixels;
}

/**
 * In place: when the median of the garment's values (negated, garment bright; `garment` its share of each
 * pixel, 0–1) is below TONE_FLOOR, maps v → T + (v − m)·(255 − T)/(255 − m) for median m and T = TONE_FLOOR,
 * blended by each pixel's garment share, so a white garment on white shows as Fashion-MNIST's light ones do.
 */
function liftTones(values: Float32Array, garment: Float32Array): void {
  const inside = Float32Array.from(values.filter((_, i) => garment[i]! >= 0.5)).sort();
  if (inside.length === 0) return;
  const m = inside[inside.length >> 1]!;
  if (m >= TONE_FLOOR) return;
  const gain = (255 - TONE_FLOOR) / (255 - m);
  for (let i = 0; i < values.length; i++) {
    const lifted = TONE_FLOOR + (values[i]! - m) * gain;
    values[i] = Math.min(255, Math.max(0, values[i]! + garment[i]! * (lifted - values[i]!)));
  }
}

/** A product whose longer side is less than this in the thumbnail-sized decode is decoded again, closer. */
const SMALL_OBJECT = THUMBNAIL_SIZE / 4;

/**
 * When the product in `raw` (the thumbnail-sized decode of a photo of shape `size`) is small and the photo has more
 * pixels, the region around it (its box and as much again on each side, within the frame) decoded from the
 * photo at up to the thumbnail size: a 250-px sandal in a 6,000-px frame is then converted from about 128
 * pixels instead of 10. Undefined when the decode has the product at full resolution already.
 */
async function decodeAround(
  bytes: Buffer,
  raw: RawImage,
  size: PhotoShape,
  box: Box,
  withAlpha: boolean,
): Promise<{ raw: RawImage; cutout?: Isolation } | undefined> {
  const scale = size.width / raw.width;
  if (Math.max(box.width, box.height) >= SMALL_OBJECT || scale <= 1.5) return undefined;
  const margin = Math.max(box.width, box.height);
  const left = Math.max(0, Math.floor((box.left - margin) * scale));
  const top = Math.max(0, Math.floor((box.top - margin) * scale));
  const right = Math.min(size.width, Math.ceil((box.left + box.width + margin) * scale));
  const bottom = Math.min(size.height, Math.ceil((box.top + box.height + margin) * scale));
  return decodeOnWhite(
    (await photoSource(bytes, size.bands))
      .rotate()
      .extract({ left, top, width: right - left, height: bottom - top })
      .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true }),
    withAlpha,
  );
}

/**
 * The 784-byte model input from `raw`, the thumbnail-sized decode of the photo `bytes` of shape `size`
 * (decodeUpright's): for a cut-out, the product its transparency leaves (`cutout`, decodeUpright's; unless
 * `options.isolate` is false); otherwise the
 * garment isolated unless `options.isolate` is false or the border is plain white (most packshots, where the paper's
 * trim finds the product on its own); converted from a closer decode when the product is small in its frame. With
 * the mask used on `raw`, if any. Throws PhotoError for a blank image, sharp's error when the closer decode fails.
 */
export async function garmentInput(
  bytes: Buffer,
  raw: RawImage,
  size: PhotoShape,
  options: ConversionOptions = {},
  cutout?: Isolation,
): Promise<{ pixels: Uint8Array; isolation?: Isolation }> {
  // The paper's conversion alone (isolate: false) flattens a cut-out, shadow and all.
  const exact = options.isolate !== false && cutout !== undefined;
  const isolation = exact ? cutout : isolationOf(raw, options);
  const closer = isolation && (await decodeAround(bytes, raw, size, isolation.box, exact));
  const pixels = closer?.cutout
    ? convertIsolated(closer.raw, options, closer.cutout, true)
    : closer
      ? toFashionMnist(closer.raw, options)
      : convertIsolated(raw, options, isolation, exact);
  return { pixels, isolation };
}

/**
 * Hashes, decodes and converts one photo's bytes; the thumbnail is a JPEG. `options` choose parts of the
 * conversion, for measuring them (the defaults are what the app does). Throws PhotoError with a reason.
 */
export async function convertPhoto(bytes: Buffer, options: ConversionOptions = {}): Promise<ConvertedPhoto> {
  if (bytes.length === 0) throw new PhotoError('the file is empty (0 bytes)');
  const hash = crypto.createHash('sha256').update(bytes).digest('hex');
  try {
    const { raw, cutout, format, shape } = await decodeUpright(bytes);
    const thumbnail = await sharp(raw.data, {
      raw: { width: raw.width, height: raw.height, channels: raw.channels as 3 },
    })
      .jpeg({ quality: 80, optimiseCoding: false })
      .toBuffer();
    const { pixels, isolation } = await garmentInput(bytes, raw, shape, options, cutout);
    // The first decode is the thumbnail's: its mask's outline is where the reviewer sees the cut.
    return {
      hash,
      format,
      width: shape.width,
      height: shape.height,
      pixels,
      thumbnail,
      ...(isolation ? { outline: maskOutline(isolation) } : {}),
    };
  } catch (err) {
    if (err instanceof PhotoError) throw err;
    throw new PhotoError(explainDecodeError(err as Error, bytes));
  }
}

/**
 * Turns a failed decode into what happened and what to do. libvips keeps one error buffer per process, so
 * when photos decode side by side its message may carry another photo's words, or lose this one's: only
 * sharp's own checks of this input (its pixel limit) are read from the message; the rest is told from
 * the file's bytes.
 */
export function explainDecodeError(err: Error, bytes: Buffer): string {
  if (/exceeds pixel limit/i.test(err.message))
    return `the image is larger than ${Math.round(MAX_INPUT_PIXELS / 1e6)} megapixels (it may be damaged or a decompression bomb); it was not decoded`;
  const kind = contentKind(bytes.subarray(0, SNIFF_BYTES));
  if (kind.type === 'other') return kind.what;
  if (isCutShort(kind.format, bytes))
    return 'the file is damaged or incomplete (its image data is cut short); copy it again from its source';
  if (kind.format === 'heif')
    return 'this HEIF/HEIC photo needs a codec Fashion Sorter does not include, or is damaged; export it as JPEG and import it again';
  if (kind.format === 'bmp')
    return 'not a photo format Fashion Sorter can read (JPEG, PNG, WebP, TIFF, GIF, AVIF); convert it and import it again';
  return `the file is damaged: its ${kind.format.toUpperCase()} data is corrupt beyond what a decoder can read past; if a viewer opens it, save it again from there`;
}

/** Why a file could not be read, from its error code. */
export function explainReadError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'the file disappeared after it was found (deleted, moved or renamed during the import)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: your account cannot read this file; change its permissions and import again';
    case 'EISDIR':
      return 'this is a folder, not a file';
    case 'ELOOP':
      return 'a symbolic link that points to itself (a link loop); it was skipped';
    case 'EIO':
      return 'the disk reported a read error; the file or the drive may be damaged';
    case 'ENAMETOOLONG':
      return "the path is longer than the system allows; move it nearer the top of the drive, or shorten its folders' names";
    case 'ENOTCONN':
    case 'ESTALE':
      return 'the drive or network share it is on is no longer reachable; reconnect it and import again';
    default:
      return `the file cannot be read (${err.code ?? err.message})`;
  }
}
