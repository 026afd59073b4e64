/**
 * Raw SQL on a catalog's own connection, for tests' assertions and the benchmarks' cross-checks only (the
 * product reads and writes the tables through catalog/'s parts, and test/catalogBoundary.test.ts keeps it so).
 */
import type Database from 'better-sqlite3';
import type { Catalog } from '../../electron/catalog/catalog.ts';

/**
 * The catalog's own connection: SQL run on it sees its pragmas (foreign keys, busy timeout) and its open
 * transaction, as a second connection would not.
 */
export const rawDb = (catalog: Catalog): Database.Database => catalog['db'];

/** Every path's photo's current predicted label (null before any prediction), read straight from the tables. */
export function predictedLabelsByPath(catalog: Catalog): Map<string, number | null> {
  return new Map(
    rawDb(catalog)
      .prepare(`SELECT pp.path, p.predicted_label FROM photo_paths pp JOIN photos p ON p.id = pp.photo_id`)
      .raw()
      .all() as [string, number | null][],
  );
}

/** One file of a photo as the catalog's tables hold it (the columns an export writes, before formatting). */
export interface TruthRow {
  path: string | null;
  files: number;
  name: string;
  hash: string;
  category: number | null;
  label: number | null;
  predictedLabel: number | null;
  confidence: number | null;
  probabilities: Buffer | null;
  version: string | null;
  reviewer: string | null;
  reviewedAt: string | null;
}

/** Every file of every photo as the catalog's tables hold it, read without the export's query. */
export function catalogTruth(catalog: Catalog): TruthRow[] {
  return rawDb(catalog)
    .prepare(
      `SELECT p.hash, p.name, p.category, p.label, p.predicted_label AS predictedLabel, p.confidence, r.probabilities, m.version, pp.path,
      (SELECT count(*) FROM photo_paths WHERE photo_id = p.id) AS files,
      (SELECT reviewer FROM labels WHERE photo_id = p.id ORDER BY id DESC LIMIT 1) AS reviewer,
      (SELECT created_at FROM labels WHERE photo_id = p.id ORDER BY id DESC LIMIT 1) AS reviewedAt
    FROM photos p LEFT JOIN photo_paths pp ON pp.photo_id = p.id LEFT JOIN predictions r ON r.id = p.prediction_id LEFT JOIN models m ON m.id = r.model_id`,
    )
    .all() as TruthRow[];
}
