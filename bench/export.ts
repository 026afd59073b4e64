/**
 * Measurements of the exports: the catalog CSV of a large catalog (time, memory growth, and every field
 * read back by Python's csv module and compared with the catalog's own tables), and sorting photos into
 * category folders against `cp` copying the same files in the same run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PhotoSelection } from '../contract/api.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { fillSyntheticCatalog } from '../test/fixtures/syntheticCatalog.ts';
import { catalogTruth, type TruthRow } from '../test/helpers/rawSql.ts';
import type { SortMode } from '../electron/catalog/sortJournal.ts';
import { PIXELS, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { writeDistinctPhotos, type PhotoFile } from '../test/fixtures/samplePhotos.ts';
import { CATALOG_COLUMNS, exportCsv } from '../electron/export/catalogExport.ts';
import { sortPhotos } from '../electron/export/sortIntoFolders.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { CLASS_NAMES, NUM_CLASSES } from '../contract/categories.ts';

export interface CsvExportBench {
  rows: number;
  seconds: number;
  /** Peak minus the level just before the export, sampled every few milliseconds while it runs. */
  rssGrowthMB: number;
  heapGrowthMB: number;
  /** Fields of the file as Python's csv module reads it, compared with the catalog's tables; and how many differ. */
  fieldsChecked: number;
  mismatches: number;
  /** The first difference, to look into when there is one. */
  firstMismatch: string | null;
  /** The reviewed photos in Fashion-MNIST's layout (label and 784 pixels). */
  fashionMnist: { rows: number; seconds: number };
}

export interface SortBench {
  photos: number;
  bytes: number;
  /** Medians of the alternated runs, and each run's seconds (the median hides how noisy they were). */
  cpSeconds: number;
  oursSeconds: number;
  cpRunsSeconds: number[];
  oursRunsSeconds: number[];
  cpFilesPerSecond: number;
  oursFilesPerSecond: number;
  /** Our copy's files per second ÷ cp's. */
  ratioToCp: number;
  /** One move of the same photos (copy, flush, verify the hash, delete the original): informative. */
  moveFilesPerSecond: number;
}

const ALL: PhotoSelection = { queue: 'all', rule: DEFAULT_REVIEW_RULE };
const MB = 2 ** 20;
/** Copy runs per side, alternated: cp, ours, cp, ours, … */
const SORT_RUNS = 5;

const secondsSince = (started: number) => (performance.now() - started) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Runs `work` while sampling memory every 5 ms; returns its value, its seconds, and the peak over the level just before. */
async function measured<T>(
  work: () => Promise<T>,
): Promise<{ value: T; seconds: number; rssGrowthMB: number; heapGrowthMB: number }> {
  globalThis.gc?.();
  const before = process.memoryUsage();
  let peak = { rss: before.rss, heapUsed: before.heapUsed };
  const sample = () => {
    const now = process.memoryUsage();
    peak = { rss: Math.max(peak.rss, now.rss), heapUsed: Math.max(peak.heapUsed, now.heapUsed) };
  };
  const timer = setInterval(sample, 5);
  try {
    const started = performance.now();
    const value = await work();
    const seconds = secondsSince(started);
    sample();
    return {
      value,
      seconds,
      rssGrowthMB: (peak.rss - before.rss) / MB,
      heapGrowthMB: (peak.heapUsed - before.heapUsed) / MB,
    };
  } finally {
    clearInterval(timer);
  }
}

/** Python's csv module reads the file: an independent parser, as a spreadsheet or a shop system would. */
export function pythonRows(file: string): string[][] {
  const r = spawnSync(
    'python3',
    [
      '-c',
      'import csv, json, sys; json.dump(list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8-sig"))), sys.stdout)',
      file,
    ],
    { encoding: 'utf8', maxBuffer: 2 ** 30 },
  );
  if (r.status !== 0) throw new Error(`python3 could not read ${file}: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as string[][];
}

/** Text a spreadsheet would run as a formula (= + - @, their full-width forms, tab, CR first) gets an apostrophe in front; numbers are written as JavaScript writes them. */
const cell = (value: string | number | null | undefined) =>
  value === null || value === undefined
    ? ''
    : typeof value === 'number'
      ? String(value)
      : /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(value)
        ? `'${value}`
        : value;

/** The catalog layout's cells for one photo, worked out from the tables (the runner-up from the stored probabilities). */
function expectedCells(t: TruthRow, root: string): string[] {
  const probabilities =
    t.probabilities &&
    new Float32Array(
      t.probabilities.buffer.slice(t.probabilities.byteOffset, t.probabilities.byteOffset + NUM_CLASSES * 4),
    );
  const runnerUp =
    probabilities &&
    [...probabilities.keys()]
      .filter((k) => k !== t.predictedLabel)
      .reduce((a, b) => (probabilities[b]! > probabilities[a]! ? b : a));
  const reviewed = t.label !== null;
  return [
    t.path,
    t.path && path.relative(root, t.path),
    t.path ? path.basename(t.path) : t.name,
    t.hash,
    t.category,
    t.category === null ? null : CLASS_NAMES[t.category],
    reviewed ? 'reviewer' : t.predictedLabel !== null ? 'model' : null,
    t.predictedLabel,
    t.predictedLabel === null ? null : CLASS_NAMES[t.predictedLabel],
    t.confidence,
    runnerUp,
    runnerUp === null ? null : CLASS_NAMES[runnerUp],
    runnerUp === null ? null : probabilities![runnerUp],
    t.version,
    reviewed ? t.reviewer : null,
    reviewed ? t.reviewedAt : null,
    t.files,
  ].map(cell);
}

/** Compares the file as Python reads it with the catalog, field by field; a missing or extra row counts as all its fields. */
export function checkAgainstCatalog(
  file: string,
  catalog: Catalog,
  root: string,
): { fieldsChecked: number; mismatches: number; firstMismatch: string | null } {
  const [header, ...rows] = pythonRows(file);
  // Keyed by content hash and path: a photo may have several files, and one whose file now holds other content has none.
  const key = (cells: string[]) => `${cells[3]}\0${cells[0]}`;
  const expected = new Map(
    catalogTruth(catalog)
      .map((t) => expectedCells(t, root))
      .map((cells) => [key(cells), cells]),
  );
  let fieldsChecked = 0;
  let mismatches = 0;
  let firstMismatch: string | null = null;
  const differ = (what: string) => {
    mismatches++;
    firstMismatch ??= what;
  };
  CATALOG_COLUMNS.forEach((column, i) => {
    fieldsChecked++;
    if (header?.[i] !== column) differ(`header column ${i + 1}: ${JSON.stringify(header?.[i])}, expected ${column}`);
  });
  for (const cells of rows) {
    const want = expected.get(key(cells));
    expected.delete(key(cells));
    if (!want) {
      mismatches += CATALOG_COLUMNS.length;
      firstMismatch ??= `a row for ${JSON.stringify(cells[0])}, which the catalog does not have`;
      continue;
    }
    CATALOG_COLUMNS.forEach((column, i) => {
      fieldsChecked++;
      if (cells[i] !== want[i])
        differ(`${column} of ${want[0]}: ${JSON.stringify(cells[i])}, the catalog has ${JSON.stringify(want[i])}`);
    });
  }
  for (const [missing] of expected) {
    mismatches += CATALOG_COLUMNS.length;
    firstMismatch ??= `no row for ${missing}`;
  }
  return { fieldsChecked, mismatches, firstMismatch };
}

/** Exports a synthetic catalog of `photos` photos (1 in 20 reviewed) as the catalog CSV, then its reviewed photos as Fashion-MNIST's. */
export async function benchExport(photos = 100_000): Promise<CsvExportBench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bench-export-'));
  const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
  try {
    fillSyntheticCatalog(catalog, dir, photos);
    const file = path.join(dir, 'catalog.csv');
    const run = await measured(() => exportCsv(catalog, file, { format: 'catalog', selection: ALL, bom: true }));
    const started = performance.now();
    const fashionMnistRows = await exportCsv(catalog, path.join(dir, 'fashion-mnist.csv'), {
      format: 'fashion-mnist',
      selection: { ...ALL, queue: 'reviewed' },
      bom: false,
    });
    const fashionMnist = { rows: fashionMnistRows, seconds: secondsSince(started) };
    return {
      rows: run.value,
      seconds: run.seconds,
      rssGrowthMB: run.rssGrowthMB,
      heapGrowthMB: run.heapGrowthMB,
      ...checkAgainstCatalog(file, catalog, dir),
      fashionMnist,
    };
  } finally {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Records the photos as an import does (a job over `root`, its found files, the stored photos with their
 * real hash, size and time, so a sort finds them unchanged) without decoding them, and gives each its
 * garment's category as a confident prediction.
 */
function registerPhotos(catalog: Catalog, root: string, photos: PhotoFile[]): void {
  const model = catalog.models.registerModel({ name: 'synthetic', version: 'synthetic', dir: root, card: {} });
  const jobId = catalog.imports.createJob([root]);
  catalog.imports.addFoundFiles(
    jobId,
    photos.map((p) => p.path),
  );
  const fileIds = new Map(catalog.imports.pendingFiles(jobId, 0, photos.length).map((f) => [f.path, f.id]));
  const pixels = new Uint8Array(PIXELS);
  const photoIds = catalog.imports.storePhotos(
    photos.map((p) => ({ ...p, fileId: fileIds.get(p.path)!, format: 'jpeg', width: 800, height: 1000, pixels })),
  );
  catalog.predictions.storePredictions(
    model.id,
    photoIds.map((photoId, i) => {
      const probabilities = new Float32Array(NUM_CLASSES).fill(0.01);
      probabilities[photos[i]!.category] = 0.91;
      return { photoId, probabilities };
    }),
  );
}

/** Flushes the last run's writes (and their removal) to disk, so that the next run does not pay for them. */
function settle(): void {
  spawnSync('sync');
}

/** Times one run into the fresh folder `dest`, then removes it: each run starts on a settled disk and pays for no other's writes. */
async function timedInto(dest: string, run: (dest: string) => number | Promise<number>): Promise<number> {
  settle();
  const seconds = await run(dest);
  fs.rmSync(dest, { recursive: true });
  return seconds;
}

function timeCp(source: string, dest: string): number {
  const started = performance.now();
  const r = spawnSync('cp', ['-r', '--preserve=timestamps', source, dest], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cp failed: ${r.error?.message ?? r.stderr}`);
  return secondsSince(started);
}

/** Times one sort of every photo; one that does not sort them all is no measurement. */
async function timeSort(catalog: Catalog, dest: string, mode: SortMode, count: number): Promise<number> {
  const started = performance.now();
  const result = await sortPhotos(catalog, { dest, mode, selection: ALL });
  const seconds = secondsSince(started);
  if (result.status !== 'done' || result.sorted !== count) {
    throw new Error(
      `the ${mode} sorted ${result.sorted} of ${count} photos (${result.status}): ${result.problem ?? result.failed[0]?.reason ?? 'no reason given'}`,
    );
  }
  return seconds;
}

/**
 * Sorting `photos` JPEG photos into category folders (copy) against `cp -r` of the same files, alternated
 * on one filesystem with a warm page cache, then one move of them.
 */
export async function benchSort(test: ImageSet, photos = 10_000): Promise<SortBench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bench-sort-'));
  const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
  try {
    const source = path.join(dir, 'photos');
    const files = await writeDistinctPhotos(test, photos, source, path.join(dir, 'packshots'), {
      width: 800,
      height: 1000,
    });
    registerPhotos(catalog, source, files);
    // Warm the page cache, so that neither side pays for the first read.
    for (const file of files) fs.readFileSync(file.path);
    const cpRunsSeconds: number[] = [];
    const oursRunsSeconds: number[] = [];
    for (let run = 1; run <= SORT_RUNS; run++) {
      cpRunsSeconds.push(await timedInto(path.join(dir, `cp-${run}`), (dest) => timeCp(source, dest)));
      oursRunsSeconds.push(
        await timedInto(path.join(dir, `sorted-${run}`), (dest) => timeSort(catalog, dest, 'copy', photos)),
      );
    }
    settle();
    const moveSeconds = await timeSort(catalog, path.join(dir, 'sorted-move'), 'move', photos);
    const cpSeconds = median(cpRunsSeconds);
    const oursSeconds = median(oursRunsSeconds);
    return {
      photos,
      bytes: files.reduce((sum, f) => sum + f.size, 0),
      cpSeconds,
      oursSeconds,
      cpRunsSeconds,
      oursRunsSeconds,
      cpFilesPerSecond: photos / cpSeconds,
      oursFilesPerSecond: photos / oursSeconds,
      ratioToCp: cpSeconds / oursSeconds,
      moveFilesPerSecond: photos / moveSeconds,
    };
  } finally {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
