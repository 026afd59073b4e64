/**
 * BMP photos, which sharp (libvips) does not read: decoded by bmp-ts, handed to sharp as raw pixels and
 * re-encoded losslessly as PNG, then converted like any other photo. The photo is still known by the hash
 * of the file's own bytes, so the same BMP imported twice, or a copy of it, is one photo.
 */
import crypto from 'node:crypto';
import { decode } from 'bmp-ts';
import sharp from 'sharp';
import { contentKind, isCutShort, SNIFF_BYTES } from './fileKinds.ts';
import { convertPhoto, type ConvertedPhoto, MAX_INPUT_PIXELS, PhotoError } from './photoPipeline.ts';

/** The header sizes bmp-ts reads: Windows' BITMAPINFOHEADER and its V2 to V5 successors, not OS/2's. */
const WINDOWS_HEADERS = new Set([40, 52, 56, 108, 124]);

/** BI_RLE8 and BI_RLE4: bmp-ts misplaces the channels of run-length pixels, so they are refused. */
const RLE = new Set([1, 2]);

/** The BMP's pixels as a lossless PNG (RGB, or RGBA when the file carries alpha). */
export async function bmpToPng(bytes: Buffer): Promise<Buffer> {
  if (bytes.length < 54 || isCutShort('bmp', bytes))
    throw new PhotoError(
      'the file is damaged or incomplete (its image data is cut short); copy it again from its source',
    );
  if (!WINDOWS_HEADERS.has(bytes.readUInt32LE(14)))
    throw new PhotoError('an OS/2 BMP, which Fashion Sorter cannot decode; save it as PNG or JPEG and import it again');
  const width = bytes.readInt32LE(18);
  const height = Math.abs(bytes.readInt32LE(22));
  if (width <= 0 || height <= 0) throw new PhotoError('the file is damaged: its BMP header gives no image size');
  if (width * height > MAX_INPUT_PIXELS)
    throw new PhotoError(
      `the image is larger than ${Math.round(MAX_INPUT_PIXELS / 1e6)} megapixels (it may be damaged or a decompression bomb); it was not decoded`,
    );
  if (RLE.has(bytes.readUInt32LE(30)))
    throw new PhotoError(
      'a run-length compressed BMP, which Fashion Sorter cannot decode; save it as PNG or JPEG and import it again',
    );
  let bmp: ReturnType<typeof decode>;
  try {
    bmp = decode(bytes);
  } catch {
    // A read past the end of the data (bmp-ts throws a RangeError) or a header it does not know.
    throw new PhotoError(
      'the file is damaged: its BMP data is corrupt or cut short; if a viewer opens it, save it again as PNG from there',
    );
  }
  // bmp-ts gives A, B, G, R per pixel. Its alpha is only the file's when the file has an alpha mask
  // (32- and 16-bit with BITMAPV3 headers or later); a mask whose values are all 0 is a writer that left
  // the byte unused, as Windows' 32-bit BMPs do, not an invisible image.
  const abgr = bmp.data;
  const pixels = bmp.width * bmp.height;
  const hasAlphaMask = ((bmp as unknown as { maskAlpha?: number }).maskAlpha ?? 0) !== 0;
  let alpha = false;
  if (hasAlphaMask) for (let i = 0; i < pixels && !alpha; i++) alpha = abgr[i * 4] !== 0;
  const channels = alpha ? 4 : 3;
  const out = Buffer.alloc(pixels * channels);
  for (let i = 0, o = 0; i < pixels; i++, o += channels) {
    out[o] = abgr[i * 4 + 3]!;
    out[o + 1] = abgr[i * 4 + 2]!;
    out[o + 2] = abgr[i * 4 + 1]!;
    if (alpha) out[o + 3] = abgr[i * 4]!;
  }
  return sharp(out, { raw: { width: bmp.width, height: bmp.height, channels } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

/**
 * Hashes, decodes and converts one photo file's bytes, whatever its format: `convertPhoto`, with a BMP
 * first made PNG. The hash is always the file's.
 */
export async function convertPhotoFile(bytes: Buffer): Promise<ConvertedPhoto> {
  const kind = contentKind(bytes.subarray(0, SNIFF_BYTES));
  if (kind.type !== 'raster' || kind.format !== 'bmp') return convertPhoto(bytes);
  const photo = await convertPhoto(await bmpToPng(bytes));
  return { ...photo, hash: crypto.createHash('sha256').update(bytes).digest('hex'), format: 'bmp' };
}
