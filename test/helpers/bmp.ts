/**
 * An uncompressed BMP (BITMAPINFOHEADER) of a raw RGB image, bottom-up as BMPs are: 24-bit, or 32-bit
 * with the fourth byte left 0, as Windows writes them.
 */
export function bmp(rgb: Uint8Array, width: number, height: number, bitsPerPixel: 24 | 32 = 24): Buffer {
  const bytesPerPixel = bitsPerPixel / 8;
  const stride = Math.ceil((width * bytesPerPixel) / 4) * 4;
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + stride * height, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(bitsPerPixel, 28);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = ((height - 1 - y) * width + x) * 3;
      pixels.set([rgb[from + 2]!, rgb[from + 1]!, rgb[from]!], y * stride + x * bytesPerPixel);
    }
  }
  return Buffer.concat([header, pixels]);
}
