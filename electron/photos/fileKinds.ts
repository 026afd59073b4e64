/**
 * What a file is, told from its first bytes rather than its name: names lie (a JPEG saved without an
 * extension, a PNG named `.png.download`, a text file named `.jpg`), content does not.
 */

/** The raster formats Fashion Sorter decodes (sharp's own, and BMP). */
export type RasterFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif' | 'bmp';

export type ContentKind =
  | { type: 'raster'; format: RasterFormat }
  /** Something that is not a photo, and what it is, in words for the error list ("not an image: a vector drawing (SVG)…"). */
  | { type: 'other'; what: string };

/** The first bytes `contentKind` needs to tell every kind it knows. */
export const SNIFF_BYTES = 4096;

const startsWith = (bytes: Buffer, signature: number[] | string, at = 0) => {
  const expected = typeof signature === 'string' ? Buffer.from(signature, 'latin1') : Buffer.from(signature);
  return bytes.length >= at + expected.length && bytes.subarray(at, at + expected.length).equals(expected);
};

/** ISO base media brands of still images sharp's HEIF loader reads (HEIC and AVIF). */
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'avif', 'avis']);

function isText(head: Buffer): boolean {
  if (head.length === 0) return false;
  // UTF-8 text: no control characters but tab and line breaks, and it decodes without replacement characters.
  if (head.some((b) => b < 32 && b !== 9 && b !== 10 && b !== 13)) return false;
  const text = head.toString('utf8');
  return !text.slice(0, text.length - 3).includes('\uFFFD');
}

/** A file name whose extension says photo. */
const PHOTO_NAME = /\.(jpe?g|jfif|png|gif|webp|tiff?|hei[cf]|avif|bmp)$/i;

/**
 * What the file that begins with `head` (its first `SNIFF_BYTES` bytes, or all of a shorter file) is:
 * a raster image and its format, or something else and what. `name` (the file's name, when known) only
 * words the reason: a text file named as a photo is told apart from notes or a labels list beside the photos.
 */
export function contentKind(head: Buffer, name?: string): ContentKind {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { type: 'raster', format: 'jpeg' };
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { type: 'raster', format: 'png' };
  if (startsWith(head, 'GIF87a') || startsWith(head, 'GIF89a')) return { type: 'raster', format: 'gif' };
  if (startsWith(head, 'RIFF') && startsWith(head, 'WEBP', 8)) return { type: 'raster', format: 'webp' };
  if (
    startsWith(head, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(head, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(head, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return { type: 'raster', format: 'tiff' };
  }
  if (startsWith(head, 'ftyp', 4)) {
    const brand = head.subarray(8, 12).toString('latin1');
    if (HEIF_BRANDS.has(brand)) return { type: 'raster', format: 'heif' };
    return { type: 'other', what: 'not an image: a video or other media file' };
  }
  // BITMAPFILEHEADER: "BM", then the size of its header (12 to 124 bytes) at offset 14.
  if (startsWith(head, 'BM') && head.length >= 18 && [12, 16, 40, 52, 56, 64, 108, 124].includes(head.readUInt32LE(14)))
    return { type: 'raster', format: 'bmp' };
  if (startsWith(head, '%PDF'))
    return { type: 'other', what: 'not an image: a PDF document; export its pictures as JPEG or PNG to import them' };
  if (startsWith(head, '%!PS'))
    return { type: 'other', what: 'not an image: a PostScript or EPS drawing; export it as PNG to import it' };
  if (startsWith(head, 'PK\x03\x04'))
    return {
      type: 'other',
      what: 'not an image: a ZIP archive or an Office document; unpack it and import its photos',
    };
  if (startsWith(head, [0x00, 0x00, 0x01, 0x00])) return { type: 'other', what: 'not an image: an icon file (ICO)' };
  if (isText(head)) {
    const text = head
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .trimStart()
      .slice(0, 1024)
      .toLowerCase();
    if (/^(<\?xml[^>]*>\s*(<!--[\s\S]*?-->\s*)*)?(<!doctype svg[^>]*>\s*)?<svg[\s>]/.test(text)) {
      return {
        type: 'other',
        what: 'not an image: a vector drawing (SVG), not a photo; export it as PNG to import it',
      };
    }
    if (/^<!doctype html|^<html[\s>]/.test(text))
      return {
        type: 'other',
        what: 'not an image: a web page (HTML), as a download saves when it got the page instead of the picture',
      };
    return {
      type: 'other',
      what:
        name !== undefined && PHOTO_NAME.test(name)
          ? 'not an image: the file holds text (its name says photo, its content does not)'
          : 'not an image: the file holds text',
    };
  }
  return {
    type: 'other',
    what: 'not an image Fashion Sorter recognises (JPEG, PNG, WebP, TIFF, GIF, HEIC/AVIF, BMP); convert it and import it again',
  };
}

/**
 * True when a file of this format ends before its image data does (a copy or download cut short),
 * told from its structure: a JPEG with no end marker after its last scan, a PNG with no IEND chunk, a
 * GIF without its trailer, a WebP shorter than its RIFF header says, a BMP shorter than its pixel rows.
 */
export function isCutShort(format: RasterFormat, bytes: Buffer): boolean {
  switch (format) {
    case 'jpeg': {
      // An embedded EXIF thumbnail has an end marker of its own, before the main image's scans.
      const end = bytes.lastIndexOf(Buffer.from([0xff, 0xd9]));
      return end < 0 || end < bytes.lastIndexOf(Buffer.from([0xff, 0xda]));
    }
    case 'png':
      return bytes.lastIndexOf(Buffer.from('IEND', 'latin1')) < 0;
    case 'gif': {
      // Some writers pad the file after the trailer with zeros.
      let last = bytes.length - 1;
      while (last > 0 && bytes[last] === 0) last--;
      return bytes[last] !== 0x3b;
    }
    case 'webp':
      return bytes.length >= 8 && bytes.readUInt32LE(4) + 8 > bytes.length;
    case 'bmp': {
      // Headers, then the pixels from the offset at byte 10: uncompressed rows padded to 4 bytes, or
      // for a compressed one at least the size its header gives.
      if (bytes.length < 34) return true;
      const offset = bytes.readUInt32LE(10);
      const headerSize = bytes.readUInt32LE(14);
      if (headerSize === 12)
        return (
          bytes.length <
          offset + Math.ceil((bytes.readUInt16LE(18) * bytes.readUInt16LE(24)) / 32) * 4 * bytes.readUInt16LE(20)
        );
      const width = Math.abs(bytes.readInt32LE(18));
      const height = Math.abs(bytes.readInt32LE(22));
      const bitsPerPixel = bytes.readUInt16LE(28);
      const compression = bytes.readUInt32LE(30);
      const uncompressed = compression === 0 || compression === 3 || compression === 6;
      const dataSize = uncompressed ? Math.ceil((width * bitsPerPixel) / 32) * 4 * height : bytes.readUInt32LE(34);
      return bytes.length < offset + dataSize;
    }
    default:
      return false;
  }
}
