/**
 * Fashion-MNIST images rendered as product photos: garment dark on white, upscaled smoothly, with white
 * margins, as JPEG or PNG. Benchmarks and tests import these, so the photo pipeline's accuracy can be
 * compared with the model's own accuracy on the same images.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS } from '../dataset/fashionMnist.ts';
import { seededRandom } from '../ml/augment.ts';

export interface PackshotOptions {
  /** Side of the garment's square in the photo, pixels. */
  garment: number;
  margins: { top: number; bottom: number; left: number; right: number };
  format: 'jpeg' | 'png';
}

/** One 28×28 Fashion-MNIST image as a packshot-like photo file. */
export function renderPackshot(pixels: Uint8Array, options: PackshotOptions): Promise<Buffer> {
  const negated = Buffer.alloc(PIXELS);
  for (let i = 0; i < PIXELS; i++) negated[i] = 255 - pixels[i]!;
  const image = sharp(negated, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(options.garment, options.garment, { kernel: 'lanczos3' })
    .extend({ ...options.margins, background: '#ffffff' })
    .toColourspace('srgb');
  return options.format === 'jpeg' ? image.jpeg({ quality: 90 }).toBuffer() : image.png().toBuffer();
}

/**
 * Writes `count` images from `images` (784 bytes each) as photos into `dir`, alternating JPEG and PNG
 * unless `format` is given, with seeded random sizes and margins. Returns the file paths in image order.
 */
export async function writePackshots(images: Uint8Array, count: number, dir: string, options: { seed?: number; format?: 'jpeg' | 'png'; size?: { width: number; height: number } } = {}): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const random = seededRandom(options.seed ?? 1);
  const files: string[] = [];
  const queue = Array.from({ length: count }, (_, i) => i);
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const format = options.format ?? (i % 2 === 0 ? 'jpeg' : 'png');
      let garment: number;
      let margins: PackshotOptions['margins'];
      if (options.size) {
        const { width, height } = options.size;
        garment = Math.round(Math.min(width, height) * (0.7 + 0.25 * random()));
        const left = Math.floor((width - garment) * random());
        const top = Math.floor((height - garment) * random());
        margins = { left, right: width - garment - left, top, bottom: height - garment - top };
      } else {
        garment = 200 + Math.floor(300 * random());
        const margin = () => Math.floor(garment * 0.3 * random());
        margins = { top: margin(), bottom: margin(), left: margin(), right: margin() };
      }
      const file = path.join(dir, `photo-${String(i).padStart(5, '0')}.${format === 'jpeg' ? 'jpg' : 'png'}`);
      await fs.writeFile(file, await renderPackshot(images.subarray(i * PIXELS, (i + 1) * PIXELS), { garment, margins, format }));
      files[i] = file;
    }
  }));
  return files;
}
