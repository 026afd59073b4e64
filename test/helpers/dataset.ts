import fs from 'node:fs';
import path from 'node:path';
import { loadFashionMnist, PIXELS, type FashionMnist } from '../../electron/dataset/fashionMnist.ts';

/** A small, valid Fashion-MNIST folder's files (raw IDX): the first `count.train` and `count.test` images and labels of `data`. */
export function idxFiles(data: FashionMnist, count: { train: number; test: number }): Record<string, Buffer> {
  const images = (n: number, from: Uint8Array) => {
    const header = Buffer.alloc(16);
    [0x803, n, 28, 28].forEach((v, i) => header.writeUInt32BE(v, 4 * i));
    return Buffer.concat([header, Buffer.from(from.subarray(0, n * PIXELS))]);
  };
  const labels = (n: number, from: Uint8Array) => {
    const header = Buffer.alloc(8);
    [0x801, n].forEach((v, i) => header.writeUInt32BE(v, 4 * i));
    return Buffer.concat([header, Buffer.from(from.subarray(0, n))]);
  };
  return {
    'train-images-idx3-ubyte': images(count.train, data.train.images),
    'train-labels-idx1-ubyte': labels(count.train, data.train.labels),
    't10k-images-idx3-ubyte': images(count.test, data.test.images),
    't10k-labels-idx1-ubyte': labels(count.test, data.test.labels),
  };
}

/**
 * Writes a small Fashion-MNIST folder (the first `count` images of `data`) at `dir` and returns `dir`:
 * fine-tuning compares models on the whole test set and fits novelty on thousands of training images, which a
 * test that checks behaviour, not accuracy, need not wait for.
 */
export function writeSmallFashionMnist(
  data: FashionMnist,
  dir: string,
  count: { train: number; test: number } = { train: 1000, test: 200 },
): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(idxFiles(data, count))) fs.writeFileSync(path.join(dir, name), bytes);
  return dir;
}

/** `writeSmallFashionMnist`'s folder, loaded. */
export function smallFashionMnist(
  data: FashionMnist,
  dir: string,
  count?: { train: number; test: number },
): Promise<FashionMnist> {
  return loadFashionMnist({ dataDir: writeSmallFashionMnist(data, dir, count) });
}
