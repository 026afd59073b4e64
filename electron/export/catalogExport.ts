import path from 'node:path';
import type { PhotoSelection } from '../../contract/api.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ExportRow } from '../catalog/queries.ts';
import { PIXELS } from '../dataset/fashionMnist.ts';
import { WorkerClient } from '../workerThreads.ts';
import { writeCsvFile } from './csvFile.ts';
import { CLASS_NAMES } from '../../contract/categories.ts';

export type ExportFormat = 'catalog' | 'fashion-mnist';

export interface ExportOptions {
  format: ExportFormat;
  selection: PhotoSelection;
  /** A UTF-8 byte order mark, so Excel reads names in any script correctly. */
  bom: boolean;
}

/**
 * The catalog layout, one row per file. The category is the reviewer's where there is one, else the model's;
 * the model's own prediction and its probability stand beside it under their own names, so a reviewed row
 * never shows the model's certainty about another category as if it were about this one. Files with the same
 * content are one photo (one prediction, one label): they share the hash, and `files_with_same_image` says
 * how many there are.
 */
export const CATALOG_COLUMNS = [
  'path',
  'relative_path',
  'file_name',
  'hash',
  'category_id',
  'category_name',
  'source',
  'predicted_id',
  'predicted_name',
  'predicted_probability',
  'runner_up_id',
  'runner_up_name',
  'runner_up_probability',
  'model_version',
  'reviewer',
  'reviewed_at',
  'files_with_same_image',
];
/** Kaggle's Fashion-MNIST layout: label, then the 784 pixels row by row. */
export const FASHION_MNIST_COLUMNS = ['label', ...Array.from({ length: PIXELS }, (_, i) => `pixel${i + 1}`)];

/** `path` relative to the longest folder it lies in (a file chosen on its own: its name). */
function relativeTo(roots: string[]): (file: string) => string {
  const longestFirst = [...roots].sort((a, b) => b.length - a.length);
  return (file) => {
    const root = longestFirst.find((r) => file.startsWith(r + path.sep));
    return root ? path.relative(root, file) : path.basename(file);
  };
}

const name = (category: number | null) => (category === null ? null : CLASS_NAMES[category]);

/** The catalog layout's rows; `counted.photos` counts the distinct photos among them as they go by. */
function* catalogRows(catalog: Catalog, selection: PhotoSelection, counted: { photos: number }): Generator<unknown[]> {
  const relative = relativeTo(catalog.queries.photoRoots());
  let last: number | undefined;
  for (const row of catalog.queries.exportRows(selection) as IterableIterator<ExportRow>) {
    // A photo's files come one after another (rows are in photo order).
    if (row.id !== last) counted.photos++;
    last = row.id;
    const source = row.label !== null ? 'reviewer' : row.predictedLabel !== null ? 'model' : null;
    yield [
      row.path,
      row.path && relative(row.path),
      row.path ? path.basename(row.path) : row.name,
      row.hash,
      row.category,
      name(row.category),
      source,
      row.predictedLabel,
      name(row.predictedLabel),
      row.confidence,
      row.runnerUp,
      name(row.runnerUp),
      row.runnerUpProbability,
      row.modelVersion,
      row.reviewer,
      row.reviewedAt,
      row.files,
    ];
  }
}

function* fashionMnistRows(
  catalog: Catalog,
  selection: PhotoSelection,
  counted: { photos: number },
): Generator<unknown[]> {
  for (const { category, pixels } of catalog.queries.exportInputs(selection)) {
    counted.photos++;
    yield [category, ...pixels];
  }
}

/**
 * Writes the selected photos to a CSV: the catalog layout (one row per file: where it is, its category and
 * where that came from) or Fashion-MNIST's (one row per photo: label and the stored 28×28 input, for the
 * data team). Rows stream from the database, so the size of the catalog does not matter. Returns the row count.
 */
export async function exportCsv(catalog: Catalog, file: string, options: ExportOptions): Promise<number> {
  return (await exportCsvCounted(catalog, file, options)).rows;
}

/** Rows written, and the distinct photos among them (fewer than the rows where files share one image). */
export interface ExportCounts {
  rows: number;
  photos: number;
}

/** exportCsv, saying how many distinct photos the rows hold as well. */
export async function exportCsvCounted(catalog: Catalog, file: string, options: ExportOptions): Promise<ExportCounts> {
  const counted = { photos: 0 };
  const rows =
    options.format === 'catalog'
      ? await writeCsvFile(file, CATALOG_COLUMNS, catalogRows(catalog, options.selection, counted), {
          bom: options.bom,
        })
      : await writeCsvFile(file, FASHION_MNIST_COLUMNS, fashionMnistRows(catalog, options.selection, counted), {
          bom: options.bom,
        });
  return { rows, photos: counted.photos };
}

export type ExportWorkerRequest = { type: 'export'; catalogFile: string; file: string; options: ExportOptions };
/** A failed export is an answer too (a full disk, a folder gone), with its reason in words, not a crash. */
export type ExportWorkerReply = ({ type: 'exported' } & ExportCounts) | { type: 'failed'; reason: string };

/**
 * The same export on a worker thread with a connection of its own, as the app runs it: the main thread
 * stays free, and the app's connection is not held busy by the long read.
 */
export async function exportCsvInWorker(
  catalogFile: string,
  file: string,
  options: ExportOptions,
): Promise<ExportCounts> {
  const worker = new WorkerClient<ExportWorkerRequest, ExportWorkerReply>(
    import.meta.url,
    'exportWorker',
    'the export',
  );
  try {
    const reply = await worker.call({ type: 'export', catalogFile, file, options });
    if (reply.type === 'failed') throw new Error(reply.reason);
    return { rows: reply.rows, photos: reply.photos };
  } finally {
    await worker.terminate();
  }
}
