/**
 * From a product photo to the model's 28×28 input, the way Fashion-MNIST itself was made from Zalando's
 * packshots (Xiao, Rasul & Vollgraf 2017, §2): trim the background, longest edge to 28 by nearest-neighbour
 * subsampling, sharpen, centre on 28×28, negate, 8-bit grayscale. The photo is decoded once, at thumbnail
 * size (JPEG shrink-on-load makes that much cheaper than a full decode), and both outputs come from it.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS } from '../dataset/fashionMnist.ts';

export const THUMBNAIL_SIZE = 256;
/** sharp's own default: larger images are refused before decoding (decompression bombs). */
export const MAX_INPUT_PIXELS = 0x3fff * 0x3fff;
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
}

/** Where a photo's thumbnail lives in the content-addressed cache: thumbnails/ab/abcdef….webp. */
export function thumbnailPath(thumbnailsDir: string, hash: string): string {
  return path.join(thumbnailsDir, hash.slice(0, 2), `${hash}.webp`);
}

/** A photo that cannot be imported, with a reason a person understands. */
export class PhotoError extends Error {}

/** The photo decoded upright, flattened onto white, no larger than the thumbnail. */
async function decodeUpright(bytes: Buffer): Promise<{ image: sharp.Sharp; format: string; width: number; height: number }> {
  const source = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning' });
  const meta = await source.metadata();
  const upright = meta.autoOrient ?? { width: meta.width, height: meta.height };
  const { data, info } = await source
    .rotate()
    .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: WHITE })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const image = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
  return { image, format: meta.format ?? 'unknown', width: upright.width ?? info.width, height: upright.height ?? info.height };
}

/**
 * The Fashion-MNIST conversion of an upright, white-background image: trim, longest edge to 28 (nearest),
 * sharpen (σ 1; sharp's unsharp mask is stronger on edges than on flat areas), centre, negate, grayscale.
 */
export async function toFashionMnist(image: sharp.Sharp): Promise<Uint8Array> {
  const shrink = (trim: boolean) => {
    const pipeline = image.clone();
    if (trim) pipeline.trim({ threshold: TRIM_THRESHOLD });
    return pipeline
      .resize({ width: IMAGE_SIZE, height: IMAGE_SIZE, fit: 'inside', kernel: 'nearest' })
      .sharpen({ sigma: 1 })
      .grayscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
  };
  // A photo that is all background has nothing to trim; it is converted as it is.
  const { data, info } = await shrink(true).catch(() => shrink(false));
  const pixels = new Uint8Array(PIXELS);
  const left = (IMAGE_SIZE - info.width) >> 1;
  const top = (IMAGE_SIZE - info.height) >> 1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) pixels[(top + y) * IMAGE_SIZE + left + x] = 255 - data[y * info.width + x]!;
  }
  return pixels;
}

/** Hashes, decodes and converts one photo's bytes; the thumbnail is WebP. */
export async function convertPhoto(bytes: Buffer): Promise<ConvertedPhoto> {
  if (bytes.length === 0) throw new PhotoError('the file is empty (0 bytes)');
  const hash = crypto.createHash('sha256').update(bytes).digest('hex');
  try {
    const { image, format, width, height } = await decodeUpright(bytes);
    const [pixels, thumbnail] = await Promise.all([toFashionMnist(image), image.clone().webp({ quality: 80 }).toBuffer()]);
    return { hash, format, width, height, pixels, thumbnail };
  } catch (err) {
    throw new PhotoError(explainDecodeError(err as Error, bytes));
  }
}

/** Turns sharp/libvips errors into what happened and what to do. */
export function explainDecodeError(err: Error, bytes: Buffer): string {
  const msg = err.message;
  if (/unsupported image format/i.test(msg)) {
    const looksLikeText = bytes.subarray(0, 512).every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    return looksLikeText
      ? 'not an image: the file holds text (its name says photo, its content does not)'
      : 'not a photo format Fashion Sorter can read (JPEG, PNG, WebP, TIFF, GIF, AVIF); convert it and import it again';
  }
  if (/pixel limit/i.test(msg)) return `the image is larger than ${Math.round(MAX_INPUT_PIXELS / 1e6)} megapixels (it may be damaged or a decompression bomb); it was not decoded`;
  if (/premature end|truncated|unexpected end|end of (file|input|stream)|not enough data|read error|incomplete/i.test(msg)) {
    return 'the file is damaged or incomplete (it ends before the image does); copy it again from its source';
  }
  if (/heif|heic/i.test(msg)) return 'this HEIF/HEIC photo needs a codec Fashion Sorter does not include; export it as JPEG and import it again';
  return `the image cannot be decoded (${msg.split('\n')[0]}); it may be damaged`;
}

/** Why a file could not be read, from its error code. */
export function explainReadError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'the file disappeared after it was found (deleted, moved or renamed during the import)';
    case 'EACCES':
    case 'EPERM': return 'permission denied: your account cannot read this file; change its permissions and import again';
    case 'EISDIR': return 'this is a folder, not a file';
    case 'ELOOP': return 'a symbolic link that points to itself (a link loop); it was skipped';
    case 'EIO': return 'the disk reported a read error; the file or the drive may be damaged';
    default: return `the file cannot be read (${err.code ?? err.message})`;
  }
}
