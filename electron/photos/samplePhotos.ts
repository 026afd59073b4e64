/**
 * Fashion-MNIST images rendered as product photos: garment dark on white, upscaled smoothly, with white
 * margins, as JPEG or PNG. Benchmarks and tests import these, so the photo pipeline's accuracy can be
 * compared with the model's own accuracy on the same images.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS, type ImageSet } from '../dataset/fashionMnist.ts';
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

/** Writes `count` rendered photos into `dir`, a few at a time; returns their paths in index order. */
async function writeRendered(count: number, dir: string, render: (i: number) => Promise<{ bytes: Buffer; name: string }>): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const files: string[] = [];
  const queue = Array.from({ length: count }, (_, i) => i);
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const { bytes, name } = await render(i);
      const file = path.join(dir, name);
      await fs.writeFile(file, bytes);
      files[i] = file;
    }
  }));
  return files;
}

/**
 * Writes `count` images from `images` (784 bytes each) as photos into `dir`, alternating JPEG and PNG
 * unless `format` is given, with seeded random sizes and margins. Returns the file paths in image order.
 */
export async function writePackshots(images: Uint8Array, count: number, dir: string, options: { seed?: number; format?: 'jpeg' | 'png'; size?: { width: number; height: number } } = {}): Promise<string[]> {
  const random = seededRandom(options.seed ?? 1);
  // Layouts are drawn up front, in index order, so the files do not depend on the write order.
  const layouts = Array.from({ length: count }, (_, i) => {
    const format = options.format ?? (i % 2 === 0 ? 'jpeg' : 'png');
    if (options.size) {
      const { width, height } = options.size;
      const garment = Math.round(Math.min(width, height) * (0.7 + 0.25 * random()));
      const left = Math.floor((width - garment) * random());
      const top = Math.floor((height - garment) * random());
      return { format, garment, margins: { left, right: width - garment - left, top, bottom: height - garment - top } };
    }
    const garment = 200 + Math.floor(300 * random());
    const margin = () => Math.floor(garment * 0.3 * random());
    return { format, garment, margins: { top: margin(), bottom: margin(), left: margin(), right: margin() } };
  });
  return writeRendered(count, dir, async (i) => ({
    bytes: await renderPackshot(images.subarray(i * PIXELS, (i + 1) * PIXELS), layouts[i]!),
    name: `photo-${String(i).padStart(5, '0')}.${layouts[i]!.format === 'jpeg' ? 'jpg' : 'png'}`,
  }));
}

/**
 * Writes `count` images as photos of the shifted domain (renderShiftedPhoto), seeded; returns their paths.
 * `turn` (degrees) rotates every garment by that much more: 90 is a shop whose flat-lays were shot sideways
 * with no orientation tag, a shift the conversion cannot undo (garment isolation undoes most of the others).
 */
export async function writeShiftedPhotos(images: Uint8Array, count: number, dir: string, seed = 1, turn = 0): Promise<string[]> {
  const randoms = Array.from({ length: count }, (_, i) => seededRandom(seed * 100_003 + i));
  return writeRendered(count, dir, async (i) => ({
    bytes: await renderShiftedPhoto(images.subarray(i * PIXELS, (i + 1) * PIXELS), randoms[i]!, turn),
    name: `shifted-${String(i).padStart(5, '0')}.jpg`,
  }));
}

/**
 * One image as a photo from another shop than Zalando: the garment smaller and off-centre, rotated up to
 * ±15° (plus `turn`), at lower contrast, on a light textured background with a colour cast. The domain
 * shift that fine-tuning is measured on.
 */
export async function renderShiftedPhoto(pixels: Uint8Array, random: () => number, turn = 0): Promise<Buffer> {
  const side = 400;
  const garment = Math.round(side * (0.45 + 0.2 * random()));
  const cast = [1, 0.9 + 0.1 * random(), 0.75 + 0.15 * random()];
  // Lower contrast: the garment's darkest parts are a mid grey, not black.
  const faded = Buffer.alloc(PIXELS);
  for (let i = 0; i < PIXELS; i++) faded[i] = 255 - Math.round(0.6 * pixels[i]!);
  const garmentLayer = await sharp(faded, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(garment, garment, { kernel: 'lanczos3' })
    .rotate(turn + 30 * random() - 15, { background: '#ffffff' })
    .toColourspace('srgb')
    .png()
    .toBuffer({ resolveWithObject: true });
  // Cloth-like texture: smoothed noise a few levels around a light background.
  const texture = Buffer.alloc(side * side * 3);
  for (let i = 0; i < side * side; i++) {
    const level = 232 + Math.round(12 * (random() - 0.5));
    for (let c = 0; c < 3; c++) texture[i * 3 + c] = level;
  }
  const left = Math.floor((side - garmentLayer.info.width) * random());
  const top = Math.floor((side - garmentLayer.info.height) * random());
  return sharp(texture, { raw: { width: side, height: side, channels: 3 } })
    .blur(1.5)
    .composite([{ input: garmentLayer.data, left, top, blend: 'multiply' }])
    .linear(cast, [0, 0, 0])
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** Distinct rendered packshots; every further photo is one of them with a few unique bytes appended. */
const DISTINCT_PACKSHOTS = 100;
const SHOOT_FOLDERS = ['2024 spring lookbook/day 1', '2024 spring lookbook/day 2', 'studio/tops & knitwear', 'studio/shoes and bags', 'returns/batch 07'];

/** A photo file written for a benchmark, with what the catalog needs to know of it and its true category. */
export interface PhotoFile {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  category: number;
}

/**
 * Writes `count` distinct JPEG photos of `size` into shoot folders under `root`: a few rendered
 * packshots, each written many times with unique trailing bytes (JPEG readers ignore them), so every
 * file has its own content hash without rendering thousands of photos.
 */
export async function writeDistinctPhotos(test: ImageSet, count: number, root: string, packshotDir: string, size: { width: number; height: number }): Promise<PhotoFile[]> {
  const distinct = Math.min(DISTINCT_PACKSHOTS, count);
  const packshots = await Promise.all((await writePackshots(test.images, distinct, packshotDir, { format: 'jpeg', size, seed: 17 })).map((f) => fs.readFile(f)));
  for (const folder of SHOOT_FOLDERS) await fs.mkdir(path.join(root, folder), { recursive: true });
  const files: PhotoFile[] = [];
  for (let i = 0; i < count; i++) {
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(i);
    const bytes = Buffer.concat([packshots[i % distinct]!, tail]);
    const file = path.join(root, SHOOT_FOLDERS[i % SHOOT_FOLDERS.length]!, `DSC_${String(i + 1).padStart(6, '0')}.jpg`);
    await fs.writeFile(file, bytes);
    const stat = await fs.stat(file);
    files.push({ path: file, hash: crypto.createHash('sha256').update(bytes).digest('hex'), size: stat.size, mtimeMs: stat.mtimeMs, category: test.labels[i % distinct]! });
  }
  return files;
}
