import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { CLASS_NAMES, NUM_CLASSES } from '../../contract/categories.ts';
import { cacheDir } from '../appPaths.ts';

export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;

/** A name reduced to its letters, lower case: "T-shirt/top", "t-shirt top" and "T-shirt_top" are one. */
const letters = (text: string) => text.toLowerCase().replace(/[^a-z]/g, '');
/** What people write for a category besides its name: the short forms and the sorted folders' names reduce to these. */
const CATEGORY_WORDS = new Map<string, number>([
  ...CLASS_NAMES.map((name, k) => [letters(name), k] as const),
  ['tshirt', 0],
  ['boot', 9],
]);

/**
 * A category written as a number (0–9, also as spreadsheets write numbers: 07, 4.0) or a name, or undefined.
 * Names are read as people type them: any case and punctuation (T-shirt/top, t-shirt top, T-shirt_top), the
 * short forms T-shirt and Boot, and plurals.
 */
export function categoryFromText(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^0*\d(\.0+)?$/.test(trimmed)) return Number(trimmed);
  const word = letters(trimmed);
  return (
    CATEGORY_WORDS.get(word) ??
    CATEGORY_WORDS.get(word.replace(/e?s$/, '')) ??
    CATEGORY_WORDS.get(word.replace(/s$/, ''))
  );
}

/** Images as one row-major byte array (count × 784) with one label byte each. */
export interface ImageSet {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

export interface FashionMnist {
  train: ImageSet;
  test: ImageSet;
  /** Where the data came from: a folder, or the URL it was downloaded from. */
  source: string;
  /** sha256 of the decompressed bytes of each file read. */
  checksums: Record<string, string>;
  /** True when every file matches the official Fashion-MNIST bytes. */
  official: boolean;
}

export class DatasetError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'DatasetError';
  }
}

const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** sha256 of the decompressed official files (the .gz bytes differ between mirrors). */
export const OFFICIAL_SHA256: Record<string, string> = {
  'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
};

export const OFFICIAL_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
export const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';
const KAGGLE_FILES = { train: 'fashion-mnist_train.csv', test: 'fashion-mnist_test.csv' } as const;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * The least size of the buffer a file is read into. glibc raises its mmap and trim thresholds to the size of
 * any mapped block of up to 32 MiB that is freed, after which every thread's arena keeps that much freed memory
 * resident: freeing the 25 MB of Debian's train-images .gz made a soak of the app's cycles grow by 100+ MB.
 * A larger block leaves the thresholds alone; the pages never read into are never resident.
 */
const READ_BUFFER_BYTES = 33 * 2 ** 20;

function readWhole(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.allocUnsafeSlow(Math.max(size, READ_BUFFER_BYTES));
    let read = 0;
    while (read < size) {
      const n = fs.readSync(fd, buffer, read, size - read, read);
      if (n === 0) break; // the file shrank while it was read: what is there is parsed, and refused if short
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes. */
function readMaybeGzip(file: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readWhole(file);
  } catch (err) {
    throw new DatasetError(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch {
      throw new DatasetError(file, 'is not a valid gzip file (truncated or corrupt); download it again');
    }
  }
  return raw;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

/** Checks an IDX header's length and magic number; returns a view for reading the rest. */
function idxHeader(
  bytes: Uint8Array,
  file: string,
  magic: number,
  kind: 'images' | 'labels',
  headerBytes: number,
): DataView {
  if (bytes.length < headerBytes)
    throw new DatasetError(file, `is too short for an IDX ${kind} header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic)
    throw new DatasetError(file, `bad magic number ${hex8(found)}, expected ${hex8(magic)} (IDX ${kind})`);
  return view;
}

/** Parses an IDX3 image file (magic 0x00000803, count, 28, 28, pixels). */
export function parseIdxImages(bytes: Uint8Array, file: string): Uint8Array {
  const view = idxHeader(bytes, file, 0x803, 'images', 16);
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new DatasetError(file, `images are ${rows}×${cols}, expected ${IMAGE_SIZE}×${IMAGE_SIZE}`);
  }
  const expected = 16 + count * PIXELS;
  if (bytes.length !== expected) {
    throw new DatasetError(
      file,
      `header says ${count} images (${expected} bytes) but the file has ${bytes.length} bytes (truncated or wrong count)`,
    );
  }
  return bytes.subarray(16);
}

/** Parses an IDX1 label file (magic 0x00000801, count, labels 0..9). */
export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  const count = idxHeader(bytes, file, 0x801, 'labels', 8).getUint32(4);
  if (bytes.length !== 8 + count) {
    throw new DatasetError(
      file,
      `header says ${count} labels but the file has ${bytes.length - 8} (truncated or wrong count)`,
    );
  }
  const labels = bytes.subarray(8);
  const bad = labels.findIndex((l) => l >= NUM_CLASSES);
  if (bad >= 0)
    throw new DatasetError(file, `label ${labels[bad]} at index ${bad} is out of range 0..${NUM_CLASSES - 1}`);
  return labels;
}

/** Finds `name` or `name.gz` in `dir`. */
function findIdx(dir: string, name: string): string | undefined {
  for (const candidate of [name, `${name}.gz`]) {
    const file = path.join(dir, candidate);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

function loadIdxPair(imagesFile: string, labelsFile: string, checksums: Record<string, string>): ImageSet {
  const imageBytes = readMaybeGzip(imagesFile);
  const labelBytes = readMaybeGzip(labelsFile);
  checksums[path.basename(imagesFile).replace(/\.gz$/, '')] = sha256(imageBytes);
  checksums[path.basename(labelsFile).replace(/\.gz$/, '')] = sha256(labelBytes);
  const images = parseIdxImages(imageBytes, imagesFile);
  const labels = parseIdxLabels(labelBytes, labelsFile);
  if (labels.length * PIXELS !== images.length) {
    throw new DatasetError(
      labelsFile,
      `has ${labels.length} labels but ${imagesFile} has ${images.length / PIXELS} images`,
    );
  }
  return { images, labels, count: labels.length };
}

/** Parses the Kaggle layout: a header `label,pixel1..pixel784`, then one image per row. */
export function parseKaggleCsv(text: string, file: string): ImageSet {
  let rows: string[][];
  try {
    rows = parseCsv(text, { skip_empty_lines: true, relax_column_count: true });
  } catch (err) {
    throw new DatasetError(file, `is not valid CSV (${(err as Error).message})`);
  }
  if (rows.length === 0) throw new DatasetError(file, 'is empty');
  const header = rows[0]!;
  if (header.length !== PIXELS + 1 || header[0]!.trim().toLowerCase() !== 'label') {
    throw new DatasetError(
      file,
      `header must be label,pixel1..pixel${PIXELS} (${PIXELS + 1} columns), found ${header.length} columns starting with "${header[0]}"`,
    );
  }
  const count = rows.length - 1;
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let r = 1; r <= count; r++) {
    const row = rows[r]!;
    if (row.length !== PIXELS + 1)
      throw new DatasetError(file, `line ${r + 1} has ${row.length} columns, expected ${PIXELS + 1}`);
    const label = Number(row[0]);
    if (!Number.isInteger(label) || label < 0 || label >= NUM_CLASSES) {
      throw new DatasetError(file, `line ${r + 1}: label "${row[0]}" is out of range 0..${NUM_CLASSES - 1}`);
    }
    labels[r - 1] = label;
    for (let p = 0; p < PIXELS; p++) {
      const v = Number(row[p + 1]);
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new DatasetError(file, `line ${r + 1}, column ${p + 2}: pixel "${row[p + 1]}" is not an integer 0..255`);
      }
      images[(r - 1) * PIXELS + p] = v;
    }
  }
  return { images, labels, count };
}

function loadKaggleCsv(file: string, checksums: Record<string, string>): ImageSet {
  const bytes = readMaybeGzip(file);
  checksums[path.basename(file)] = sha256(bytes);
  return parseKaggleCsv(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), file);
}

/** Loads Fashion-MNIST from one folder holding either the IDX files (raw or .gz) or the Kaggle CSVs. */
export function loadFromDir(dir: string): FashionMnist | undefined {
  const checksums: Record<string, string> = {};
  const idx = Object.fromEntries(Object.entries(IDX_FILES).map(([k, name]) => [k, findIdx(dir, name)])) as Record<
    keyof typeof IDX_FILES,
    string | undefined
  >;
  if (Object.values(idx).every(Boolean)) {
    const train = loadIdxPair(idx.trainImages!, idx.trainLabels!, checksums);
    const test = loadIdxPair(idx.testImages!, idx.testLabels!, checksums);
    const official = Object.entries(OFFICIAL_SHA256).every(([name, sum]) => checksums[name] === sum);
    return { train, test, source: dir, checksums, official };
  }
  const trainCsv = path.join(dir, KAGGLE_FILES.train);
  const testCsv = path.join(dir, KAGGLE_FILES.test);
  if (fs.existsSync(trainCsv) && fs.existsSync(testCsv)) {
    return {
      train: loadKaggleCsv(trainCsv, checksums),
      test: loadKaggleCsv(testCsv, checksums),
      source: dir,
      checksums,
      official: false,
    };
  }
  const present = Object.values(idx).filter(Boolean);
  if (present.length > 0) {
    const missing = Object.entries(IDX_FILES)
      .filter(([k]) => !idx[k as keyof typeof IDX_FILES])
      .map(([, n]) => n);
    throw new DatasetError(dir, `is missing ${missing.join(', ')} (raw or .gz)`);
  }
  return undefined;
}

export function datasetCacheDir(): string {
  return path.join(cacheDir(), 'fashion-mnist');
}

/**
 * Downloads the four official files into `dest`, checking the sha256 of the decompressed bytes
 * before anything is written, so a bad or partial download never lands in the cache.
 */
export async function download(dest: string, baseUrl = process.env.FASHION_MNIST_URL || OFFICIAL_URL): Promise<void> {
  fs.mkdirSync(dest, { recursive: true });
  for (const name of Object.values(IDX_FILES)) {
    const url = new URL(`${name}.gz`, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
    let res: Response;
    try {
      res = await fetch(url);
    } catch (err) {
      throw new DatasetError(
        url,
        `download failed (${(err as Error).cause ?? (err as Error).message}); check the network or pass --data DIR`,
      );
    }
    if (!res.ok)
      throw new DatasetError(url, `download failed with HTTP ${res.status}; pass --data DIR with the four IDX files`);
    const gz = new Uint8Array(await res.arrayBuffer());
    let raw: Uint8Array;
    try {
      raw = gunzipSync(gz);
    } catch {
      throw new DatasetError(url, 'downloaded file is not valid gzip (truncated download?)');
    }
    const sum = sha256(raw);
    if (sum !== OFFICIAL_SHA256[name]) {
      throw new DatasetError(
        url,
        `checksum mismatch: got sha256 ${sum}, expected ${OFFICIAL_SHA256[name]}; the file was not saved`,
      );
    }
    const file = path.join(dest, name);
    fs.writeFileSync(`${file}.partial`, raw);
    fs.renameSync(`${file}.partial`, file);
  }
}

export interface LoadOptions {
  /** An explicit folder (`--data DIR`): used alone, never falls back. */
  dataDir?: string;
  /** Download into the cache when nothing is found (default true). */
  allowDownload?: boolean;
}

/** Finds the data in --data DIR, $FASHION_MNIST_DIR, the Debian package, or the app cache; downloads as a last resort. */
export async function loadFashionMnist(options: LoadOptions = {}): Promise<FashionMnist> {
  if (options.dataDir) {
    if (!fs.existsSync(options.dataDir)) throw new DatasetError(options.dataDir, 'does not exist');
    const found = loadFromDir(options.dataDir);
    if (!found)
      throw new DatasetError(
        options.dataDir,
        'holds neither the four Fashion-MNIST IDX files nor fashion-mnist_train.csv and fashion-mnist_test.csv',
      );
    return found;
  }
  const candidates = [process.env.FASHION_MNIST_DIR, DEBIAN_DIR, datasetCacheDir()].filter(
    (d): d is string => !!d && fs.existsSync(d),
  );
  for (const dir of candidates) {
    const found = loadFromDir(dir);
    if (found) return found;
  }
  if (options.allowDownload === false) {
    throw new DatasetError(
      'Fashion-MNIST',
      `not found in $FASHION_MNIST_DIR, ${DEBIAN_DIR} or ${datasetCacheDir()}; install dataset-fashion-mnist or pass --data DIR`,
    );
  }
  const dest = datasetCacheDir();
  await download(dest);
  const found = loadFromDir(dest)!;
  found.source = process.env.FASHION_MNIST_URL || OFFICIAL_URL;
  return found;
}
