import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { NUM_CLASSES, PIXELS } from '../dataset/fashionMnist.ts';
import type {
  LabelChange,
  LabelEvent,
  Page,
  PageQuery,
  PhotoDetail,
  PhotoSelection,
  PhotoTile,
  QueueCounts,
  ReviewRule,
  SelectionCounts,
} from '../../contract/api.ts';
import { HARD_GROUP } from '../../contract/categories.ts';
import { DEFAULT_REVIEW_RULE, NOVELTY_LIMIT } from '../../contract/review.ts';
import { makePrivateDir } from '../appPaths.ts';
import { comparable, migrate, migrationsDue } from './migrations.ts';

export type { ReviewRule };
export { DEFAULT_REVIEW_RULE, HARD_GROUP, NOVELTY_LIMIT };

export interface ModelRow {
  id: number;
  name: string;
  version: string;
  dir: string;
  active: boolean;
}

/** A converted photo, ready to be stored. */
export interface ImportedPhoto {
  fileId: number;
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  format: string;
  width: number;
  height: number;
  pixels: Uint8Array;
  /** The garment's outline as isolation cut it out (photos/outline.ts), when isolation ran. */
  outline?: number[][];
}

export interface JobCounts {
  found: number;
  done: number;
  failed: number;
  pending: number;
}

export interface FileError {
  path: string;
  reason: string;
}

/**
 * One file of a photo as exports see it (null where it has no prediction or no reviewer's label). A photo
 * found at several paths (the same bytes saved for two SKUs) is one row per path, all with its category.
 */
export interface ExportRow {
  id: number;
  hash: string;
  name: string;
  /**
   * The file's path; null for a photo none of whose paths still holds it (each file was edited or
   * replaced, and the new content is a photo of its own): it keeps one row, under its last name.
   */
  path: string | null;
  /** How many paths hold this photo's content (rows with the same hash): 1 for most, 0 for one without a path. */
  files: number;
  category: number | null;
  label: number | null;
  predictedLabel: number | null;
  confidence: number | null;
  runnerUp: number | null;
  runnerUpProbability: number | null;
  modelVersion: string | null;
  reviewer: string | null;
  reviewedAt: string | null;
}

export interface PredictionRow {
  photoId: number;
  probabilities: Float32Array;
  /** How unlike the model's training images the input is (ml/novelty.ts); null or absent without statistics. */
  novelty?: number | null;
}

/** One row per photo out of a model's answer for their inputs (count × 10 probabilities, count novelties or null), in order. */
export function predictionRows(
  photoIds: readonly number[],
  answer: { probabilities: Float32Array; novelty: Float32Array | null },
): PredictionRow[] {
  return photoIds.map((photoId, i) => ({
    photoId,
    probabilities: answer.probabilities.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES),
    novelty: answer.novelty?.[i] ?? null,
  }));
}

const now = () => new Date().toISOString();

/** The top class, its probability, the runner-up and the margin between them. */
export function topTwo(probabilities: ArrayLike<number>): {
  label: number;
  confidence: number;
  runnerUp: number;
  margin: number;
} {
  let best = 0;
  let second = 1;
  if (probabilities[1]! > probabilities[0]!) [best, second] = [1, 0];
  for (let k = 2; k < probabilities.length; k++) {
    if (probabilities[k]! > probabilities[best]!) [best, second] = [k, best];
    else if (probabilities[k]! > probabilities[second]!) second = k;
  }
  return {
    label: best,
    confidence: probabilities[best]!,
    runnerUp: second,
    margin: probabilities[best]! - probabilities[second]!,
  };
}

/** Why SQLite could not open a catalog, in words that say what to do. */
function whyCannotOpen(file: string, err: Error): string {
  const dir = path.dirname(file);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (access) {
    // SQLite keeps its write-ahead log beside the catalog, so even reading needs a writable folder.
    const where =
      (access as NodeJS.ErrnoException).code === 'EROFS'
        ? `${dir} is on a read-only drive`
        : `your account cannot write in ${dir}`;
    return `${where}, and the catalog needs to keep its journal beside itself; copy the catalog to a writable folder, or fix the folder's permissions`;
  }
  return err.message;
}

/**
 * How long a write waits, by default, for another program that holds the catalog's write lock (a database
 * browser with unsaved edits, another Fashion Sorter): long enough for one to finish what it is doing.
 */
export const CATALOG_WAIT_MS = 60_000;
const BUSY_TIMEOUT_MS = 5000;
const BUSY_POLL_MS = 250;

/** How long a write waits for a busy catalog (CATALOG_WAIT_MS by default), and whom it tells: the seconds waited so far, then null once the catalog took the write. */
export interface CatalogWait {
  waitMs?: number;
  onWaiting?: (seconds: number | null) => void;
  /** Ends the wait (a cancel): nothing is written, and writeWhenFree throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * What the job already changed before this write, said in the busy message instead of "Nothing was
   * changed" (a re-prediction half done, an import that stored some photos); undefined when nothing was.
   */
  soFar?: () => string | undefined;
}

/** Another program held the catalog's write lock for longer than a write would wait. */
export class CatalogBusyError extends Error {}

/**
 * Why a write to `file` could not go ahead, and what to do about it. `soFar` says what the job changed before
 * the write that could not be made (by default, nothing).
 */
export function catalogBusyMessage(file: string, waitedSeconds?: number, soFar?: string): string {
  const held =
    waitedSeconds === undefined
      ? 'is holding it'
      : `held it for the ${Math.round(waitedSeconds)} s Fashion Sorter waited`;
  return (
    `the catalog ${file} is busy: another program ${held} with a write of its own (a database browser with unsaved changes, a backup or sync tool, or another Fashion Sorter). ` +
    `${soFar ?? 'Nothing was changed'}. Close that program, or save or revert its changes, then run the command again`
  );
}

/** What a job that SQLite's own busy timeout stopped midway (not a write that waited) says it changed. */
export const BUSY_MIDWAY = 'What it finished before that is kept, and running it again goes on from there';

/** True for SQLite's "database is locked": another connection held the write lock for the whole busy timeout. */
export const isCatalogBusy = (err: unknown): boolean => (err as { code?: string } | null)?.code === 'SQLITE_BUSY';

/**
 * The catalog: one SQLite file (WAL, foreign keys, migrations by `PRAGMA user_version`). Every change of
 * more than one row runs in one transaction, so a crash at any moment leaves it consistent.
 */
export class Catalog {
  readonly db: Database.Database;

  /**
   * Opens (or creates) the catalog and brings it up to this version's schema. An older catalog that another
   * program is writing to waits SQLite's busy timeout (5 s), then fails with a CatalogBusyError; Catalog.open
   * waits longer, and says so. `migrate: false` leaves the schema as it is (Catalog.open migrates it itself).
   */
  constructor(
    readonly file: string,
    options: { migrate?: boolean } = {},
  ) {
    makePrivateDir(path.dirname(file));
    const created = !fs.existsSync(file);
    try {
      this.db = new Database(file);
      // Readable by the user alone; SQLite gives its -wal and -shm files the same permissions.
      if (created) fs.chmodSync(file, 0o600);
      this.db.pragma('journal_mode = WAL');
    } catch (err) {
      throw new Error(`cannot open the catalog ${file}: ${whyCannotOpen(file, err as Error)}`, { cause: err });
    }
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.migrate === false) return;
    try {
      migrate(this.db);
    } catch (err) {
      this.db.close();
      throw isCatalogBusy(err) ? new CatalogBusyError(catalogBusyMessage(file, BUSY_TIMEOUT_MS / 1000)) : err;
    }
  }

  /**
   * Opens (or creates) the catalog as the commands and the window do. An older catalog is brought up to this
   * version's schema in one write, made once the catalog accepts writes: while another program holds the
   * write lock it waits (see writeWhenFree, whose options it takes), and the catalog is left as it was if the
   * wait runs out.
   */
  static async open(file: string, wait: CatalogWait = {}): Promise<Catalog> {
    const catalog = new Catalog(file, { migrate: false });
    try {
      if (migrationsDue(catalog.db) > 0) await catalog.writeWhenFree(() => migrate(catalog.db), wait);
      return catalog;
    } catch (err) {
      catalog.close();
      throw err;
    }
  }

  /**
   * Runs `work` in one write transaction as soon as the catalog accepts writes, and returns its result.
   * While another program holds the write lock it waits without blocking the thread (trying again every
   * 250 ms), calling `onWaiting` with the seconds waited (and once with null when the lock is won after a
   * wait), for up to `waitMs` milliseconds or until `signal` aborts; then it throws a CatalogBusyError that
   * names the catalog and says what to do (or the signal's reason). `work` is synchronous and runs with the lock held, so what it creates (folders, files)
   * exists only if the catalog took the write; it is rolled back if `work` throws.
   */
  async writeWhenFree<T>(work: () => T, options: CatalogWait = {}): Promise<T> {
    const waitMs = options.waitMs ?? CATALOG_WAIT_MS;
    const started = performance.now();
    for (let waited = false; ; waited = true) {
      // Without this, each try would block the thread for the whole busy timeout.
      this.db.pragma('busy_timeout = 0');
      try {
        this.db.exec('BEGIN IMMEDIATE');
        if (waited) options.onWaiting?.(null);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      } finally {
        this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      options.signal?.throwIfAborted();
      const seconds = (performance.now() - started) / 1000;
      if (seconds * 1000 >= waitMs)
        throw new CatalogBusyError(catalogBusyMessage(this.file, seconds, options.soFar?.()));
      options.onWaiting?.(seconds);
      await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
    }
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  close(): void {
    this.db.close();
  }

  // ---- models ----

  /** Adds a model (once per weights version) and returns its row. */
  registerModel(model: { name: string; version: string; dir: string; card: unknown; parentId?: number }): ModelRow {
    this.db
      .prepare(
        `INSERT INTO models (name, version, dir, parent_id, card, created_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (version) DO UPDATE SET dir = excluded.dir`,
      )
      .run(model.name, model.version, model.dir, model.parentId ?? null, JSON.stringify(model.card), now());
    return this.modelByVersion(model.version)!;
  }

  activateModel(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE models SET active = 0 WHERE active = 1').run();
      if (this.db.prepare('UPDATE models SET active = 1 WHERE id = ?').run(id).changes !== 1)
        throw new Error(`no model with id ${id} in the catalog`);
    })();
  }

  activeModel(): ModelRow | undefined {
    return this.modelWhere('active = 1');
  }

  model(id: number): ModelRow | undefined {
    return this.modelWhere('id = ?', id);
  }

  /** The registered model with these weights (the version is their sha256), if any. */
  modelByVersion(version: string): ModelRow | undefined {
    return this.modelWhere('version = ?', version);
  }

  /** Every model version, newest first, with its parent and card (metrics, training data, hyperparameters). */
  models(): (ModelRow & { parentId: number | null; createdAt: string; card: unknown })[] {
    const rows = this.db
      .prepare('SELECT id, name, version, dir, active, parent_id, created_at, card FROM models ORDER BY id DESC')
      .all() as {
      id: number;
      name: string;
      version: string;
      dir: string;
      active: number;
      parent_id: number | null;
      created_at: string;
      card: string;
    }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      version: r.version,
      dir: r.dir,
      active: r.active === 1,
      parentId: r.parent_id,
      createdAt: r.created_at,
      card: JSON.parse(r.card),
    }));
  }

  /** A candidate that was discarded: its row and its predictions go (photos never point at a candidate's). */
  deleteModel(id: number): void {
    this.db.transaction(() => {
      if (this.model(id)?.active)
        throw new Error('the active model cannot be discarded; activate another version first');
      this.db
        .prepare(
          'UPDATE photos SET prediction_id = NULL WHERE prediction_id IN (SELECT id FROM predictions WHERE model_id = ?)',
        )
        .run(id);
      this.db.prepare('DELETE FROM predictions WHERE model_id = ?').run(id);
      this.db.prepare('UPDATE models SET parent_id = NULL WHERE parent_id = ?').run(id);
      this.db.prepare('DELETE FROM models WHERE id = ?').run(id);
    })();
  }

  private modelWhere(where: string, ...params: unknown[]): ModelRow | undefined {
    const row = this.db.prepare(`SELECT id, name, version, dir, active FROM models WHERE ${where}`).get(...params) as
      (Omit<ModelRow, 'active'> & { active: number }) | undefined;
    return row && { ...row, active: row.active === 1 };
  }

  // ---- import jobs ----

  /** The newest unfinished job over exactly these roots, so that running the same import again resumes it. */
  unfinishedJob(roots: string[]): number | undefined {
    const row = this.db
      .prepare(`SELECT id FROM import_jobs WHERE status = 'running' AND roots = ? ORDER BY id DESC LIMIT 1`)
      .get(JSON.stringify(roots)) as { id: number } | undefined;
    return row?.id;
  }

  createJob(roots: string[]): number {
    return Number(
      this.db
        .prepare(`INSERT INTO import_jobs (roots, status, created_at) VALUES (?, 'running', ?)`)
        .run(JSON.stringify(roots), now()).lastInsertRowid,
    );
  }

  job(jobId: number): { id: number; roots: string[]; status: string; walked: boolean } | undefined {
    const row = this.db.prepare('SELECT id, roots, status, walked FROM import_jobs WHERE id = ?').get(jobId) as
      { id: number; roots: string; status: string; walked: number } | undefined;
    return (
      row && { id: row.id, roots: JSON.parse(row.roots) as string[], status: row.status, walked: row.walked === 1 }
    );
  }

  /** Records files found by the walk (again-found files are ignored, so a resumed walk is harmless). */
  addFoundFiles(jobId: number, paths: string[]): void {
    const insert = this.db.prepare(`INSERT OR IGNORE INTO import_files (job_id, path) VALUES (?, ?)`);
    this.db.transaction(() => {
      for (const p of paths) insert.run(jobId, p);
    })();
  }

  /** Records a path that could not be imported and why (a file, or a folder that could not be walked). */
  recordFailure(jobId: number, filePath: string, reason: string): void {
    this.recordFailures(jobId, [{ path: filePath, reason }]);
  }

  recordFailures(jobId: number, failures: FileError[]): void {
    const upsert = this.db.prepare(`INSERT INTO import_files (job_id, path, state, error) VALUES (?, ?, 'failed', ?)
      ON CONFLICT (job_id, path) DO UPDATE SET state = 'failed', error = excluded.error, photo_id = NULL`);
    this.db.transaction(() => {
      for (const f of failures) upsert.run(jobId, f.path, f.reason);
    })();
  }

  markWalked(jobId: number): void {
    this.db.prepare('UPDATE import_jobs SET walked = 1 WHERE id = ?').run(jobId);
  }

  finishJob(jobId: number, status: 'done' | 'cancelled'): void {
    this.db.prepare('UPDATE import_jobs SET status = ?, finished_at = ? WHERE id = ?').run(status, now(), jobId);
  }

  /**
   * A job's files still to import after file id `afterId` (a page of `limit`), each with whether the catalog
   * holds a photo at its path already (only such a file can be an unchanged photo: see unchangedPhoto).
   */
  pendingFiles(jobId: number, afterId: number, limit: number): { id: number; path: string; seen: boolean }[] {
    const rows = this.db
      .prepare(
        `SELECT f.id, f.path, EXISTS (SELECT 1 FROM photo_paths pp WHERE pp.path = f.path) AS seen FROM import_files f
      WHERE f.job_id = ? AND f.state = 'pending' AND f.id > ? ORDER BY f.id LIMIT ?`,
      )
      .all(jobId, afterId, limit) as { id: number; path: string; seen: number }[];
    return rows.map((r) => ({ id: r.id, path: r.path, seen: r.seen === 1 }));
  }

  /** The photo already imported from this path, if the file is unchanged (same size and modification time). */
  unchangedPhoto(filePath: string, size: number, mtimeMs: number): number | undefined {
    const row = this.db
      .prepare('SELECT photo_id FROM photo_paths WHERE path = ? AND size = ? AND mtime_ms = ?')
      .get(filePath, size, mtimeMs) as { photo_id: number } | undefined;
    return row?.photo_id;
  }

  /** Marks files done that are unchanged photos already in the catalog. */
  markKnown(known: { fileId: number; photoId: number }[]): void {
    const done = this.db.prepare(`UPDATE import_files SET state = 'done', photo_id = ? WHERE id = ?`);
    const seen = this.db.prepare(`UPDATE photo_paths SET seen_at = ? WHERE photo_id = ?`);
    const time = now();
    this.db.transaction(() => {
      for (const k of known) {
        done.run(k.photoId, k.fileId);
        seen.run(time, k.photoId);
      }
    })();
  }

  /**
   * Stores converted photos in one transaction: a photo is its content hash (the same bytes at a second
   * path are the same photo), its path is recorded or moved to it, and its file is marked done.
   * Returns the photo ids, in the order given.
   */
  storePhotos(photos: ImportedPhoto[]): number[] {
    const insertPhoto = this.db
      .prepare(`INSERT INTO photos (hash, size, format, width, height, name, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET status = 'ok', name = excluded.name RETURNING id`);
    const insertInput = this.db.prepare('INSERT OR IGNORE INTO photo_inputs (photo_id, pixels) VALUES (?, ?)');
    const insertOutline = this.db.prepare('INSERT OR IGNORE INTO photo_outlines (photo_id, outline) VALUES (?, ?)');
    const upsertPath = this.db
      .prepare(`INSERT INTO photo_paths (photo_id, path, path_key, name, size, mtime_ms, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (path) DO UPDATE SET photo_id = excluded.photo_id, size = excluded.size, mtime_ms = excluded.mtime_ms, seen_at = excluded.seen_at`);
    const done = this.db.prepare(`UPDATE import_files SET state = 'done', photo_id = ?, error = NULL WHERE id = ?`);
    const time = now();
    return this.db.transaction(() =>
      photos.map((p) => {
        if (p.pixels.length !== PIXELS)
          throw new Error(`internal: ${p.path} has ${p.pixels.length} model-input bytes, not ${PIXELS}`);
        const name = comparable(path.basename(p.path));
        const { id } = insertPhoto.get(p.hash, p.size, p.format, p.width, p.height, name, time) as { id: number };
        insertInput.run(id, Buffer.from(p.pixels.buffer, p.pixels.byteOffset, p.pixels.byteLength));
        if (p.outline) insertOutline.run(id, JSON.stringify(p.outline));
        upsertPath.run(id, p.path, comparable(p.path), name, p.size, p.mtimeMs, time);
        done.run(id, p.fileId);
        return id;
      }),
    )();
  }

  jobCounts(jobId: number): JobCounts {
    const counts: JobCounts = { found: 0, done: 0, failed: 0, pending: 0 };
    for (const row of this.db.prepare('SELECT state, files FROM import_file_counts WHERE job_id = ?').all(jobId) as {
      state: keyof JobCounts;
      files: number;
    }[]) {
      counts[row.state] = row.files;
      counts.found += row.files;
    }
    return counts;
  }

  /** How many distinct photos a job's imported files hold. */
  jobPhotoCount(jobId: number): number {
    return this.db
      .prepare(`SELECT count(DISTINCT photo_id) FROM import_files WHERE job_id = ? AND state = 'done'`)
      .pluck()
      .get(jobId) as number;
  }

  jobErrors(jobId: number): FileError[] {
    return this.db
      .prepare(`SELECT path, error AS reason FROM import_files WHERE job_id = ? AND state = 'failed' ORDER BY path`)
      .all(jobId) as FileError[];
  }

  // ---- predictions ----

  /** The photos a job imported that have no prediction from this model yet. */
  unpredictedPhotoIds(jobId: number, modelId: number): number[] {
    return this.db
      .prepare(
        `SELECT DISTINCT f.photo_id FROM import_files f
      WHERE f.job_id = ? AND f.state = 'done' AND NOT EXISTS (SELECT 1 FROM predictions r WHERE r.photo_id = f.photo_id AND r.model_id = ?)
      ORDER BY f.photo_id`,
      )
      .pluck()
      .all(jobId, modelId) as number[];
  }

  /** The model inputs of those of `photoIds` that this model has not predicted yet. */
  inputsToPredict(photoIds: number[], modelId: number): { id: number; pixels: Buffer }[] {
    return this.db
      .prepare(
        `SELECT i.photo_id AS id, i.pixels FROM photo_inputs i WHERE i.photo_id IN (SELECT value FROM json_each(?))
      AND NOT EXISTS (SELECT 1 FROM predictions r WHERE r.photo_id = i.photo_id AND r.model_id = ?) ORDER BY i.photo_id`,
      )
      .all(JSON.stringify(photoIds), modelId) as { id: number; pixels: Buffer }[];
  }

  /** Every reviewed photo's 28×28 input and current human label, by photo id: what fine-tuning learns from. */
  labeledInputs(): { photoIds: number[]; pixels: Uint8Array; labels: Uint8Array } {
    const rows = this.db
      .prepare(
        `SELECT p.id, p.label, i.pixels FROM photos p JOIN photo_inputs i ON i.photo_id = p.id
      WHERE p.label IS NOT NULL ORDER BY p.id`,
      )
      .raw()
      .all() as [number, number, Buffer][];
    const pixels = new Uint8Array(rows.length * PIXELS);
    rows.forEach(([, , input], i) => pixels.set(input, i * PIXELS));
    return { photoIds: rows.map(([id]) => id), pixels, labels: Uint8Array.from(rows, ([, label]) => label) };
  }

  /**
   * Unlabeled photos after `afterId` (a page of `limit`), with this model's stored probabilities where it
   * has predicted them already: what re-predicting the catalog with a newly active model walks through.
   */
  unlabeledInputs(
    modelId: number,
    afterId: number,
    limit: number,
  ): { id: number; pixels: Buffer; probabilities: Buffer | null; novelty: number | null }[] {
    return this.db
      .prepare(
        `SELECT p.id, i.pixels, r.probabilities, r.novelty FROM photos p JOIN photo_inputs i ON i.photo_id = p.id
      LEFT JOIN predictions r ON r.photo_id = p.id AND r.model_id = ?
      WHERE p.label IS NULL AND p.id > ? ORDER BY p.id LIMIT ?`,
      )
      .all(modelId, afterId, limit) as {
      id: number;
      pixels: Buffer;
      probabilities: Buffer | null;
      novelty: number | null;
    }[];
  }

  /** How many photos have no human label (a re-prediction's total). */
  unlabeledCount(): number {
    return this.db.prepare('SELECT count(*) FROM photos WHERE label IS NULL').pluck().get() as number;
  }

  /**
   * Stores one model's predictions in one transaction. They become the photos' current predictions
   * unless `current` is false (a candidate model's, kept for comparison and for its activation).
   */
  storePredictions(modelId: number, rows: PredictionRow[], current = true): void {
    const insert = this.db
      .prepare(`INSERT INTO predictions (photo_id, model_id, label, confidence, probabilities, novelty, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (photo_id, model_id) DO UPDATE SET label = excluded.label, confidence = excluded.confidence, probabilities = excluded.probabilities,
        novelty = excluded.novelty, created_at = excluded.created_at
      RETURNING id`);
    const makeCurrent = this.db.prepare(
      'UPDATE photos SET prediction_id = ?, predicted_label = ?, confidence = ?, runner_up = ?, margin = ?, novelty = ? WHERE id = ?',
    );
    const time = now();
    this.db.transaction(() => {
      for (const r of rows) {
        if (r.probabilities.length !== NUM_CLASSES)
          throw new Error(`internal: ${r.probabilities.length} probabilities for photo ${r.photoId}`);
        const top = topTwo(r.probabilities);
        const novelty = r.novelty ?? null;
        const { id } = insert.get(
          r.photoId,
          modelId,
          top.label,
          top.confidence,
          Buffer.from(r.probabilities.buffer, r.probabilities.byteOffset, r.probabilities.byteLength),
          novelty,
          time,
        ) as { id: number };
        if (current) makeCurrent.run(id, top.label, top.confidence, top.runnerUp, top.margin, novelty, r.photoId);
      }
    })();
  }

  // ---- what the UI asks ----

  /** How many files the catalog knows (two with the same bytes are two files of one photo); kept by triggers. */
  fileCount(): number {
    return this.db.prepare('SELECT files FROM file_count WHERE id = 0').pluck().get() as number;
  }

  /** Photos per current category (a reviewer's label wins over the prediction), and the review queues' sizes. */
  categoryCounts(rule: ReviewRule = DEFAULT_REVIEW_RULE): {
    perCategory: number[];
    needsReview: number;
    reviewed: number;
    total: number;
  } {
    const rows = this.categoryTotals();
    return {
      perCategory: Array.from({ length: NUM_CLASSES }, (_, k) => rows[k + 1]!.reviewed + rows[k + 1]!.unreviewed),
      total: rows.reduce((sum, r) => sum + r.reviewed + r.unreviewed, 0),
      reviewed: rows.reduce((sum, r) => sum + r.reviewed, 0),
      needsReview: this.needsReviewCount(rule),
    };
  }

  /** The trigger-kept counts, one row per category from −1 (neither labeled nor predicted yet) to 9. */
  private categoryTotals(): { category: number; reviewed: number; unreviewed: number }[] {
    return this.db.prepare('SELECT category, reviewed, unreviewed FROM category_counts ORDER BY category').all() as {
      category: number;
      reviewed: number;
      unreviewed: number;
    }[];
  }

  /** The review queue's size: three disjoint index range scans, added, are far cheaper than one scan with ORs. */
  private needsReviewCount(rule: ReviewRule, category?: number): number {
    const inCategory = category === undefined ? '' : 'AND predicted_label = @category';
    const one = (sql: string) =>
      this.db
        .prepare(sql)
        .pluck()
        .get({ ...reviewParams(rule), category }) as number;
    return (
      one(`SELECT count(*) FROM photos WHERE label IS NULL AND confidence < @minConfidence ${inCategory}`) +
      one(`SELECT count(*) FROM photos WHERE label IS NULL AND margin < @hardGroupMargin AND confidence >= @minConfidence
          AND predicted_label IN (${hardGroup}) AND runner_up IN (${hardGroup}) ${inCategory}`) +
      one(`SELECT count(*) FROM photos WHERE label IS NULL AND novelty >= @noveltyLimit AND confidence >= @minConfidence
          AND NOT (predicted_label IN (${hardGroup}) AND runner_up IN (${hardGroup}) AND margin < @hardGroupMargin) ${inCategory}`)
    );
  }

  /** How many photos a grid query matches (its WHERE given): from the kept counts where they answer it, else counted. */
  private countMatching(query: PhotoSelection, filter: string, params: Record<string, unknown>): number {
    if (query.search) return this.db.prepare(`SELECT count(*) FROM photos ${filter}`).pluck().get(params) as number;
    if (query.queue === 'needsReview')
      return query.excludeNeedsReview ? 0 : this.needsReviewCount(query.rule, query.category);
    const rows = this.categoryTotals().filter((r) => query.category === undefined || r.category === query.category);
    // Reviewed photos never need review: only 'all' loses some.
    const left =
      query.excludeNeedsReview && query.queue === 'all' ? this.needsReviewCount(query.rule, query.category) : 0;
    return rows.reduce((sum, r) => sum + r.reviewed + (query.queue === 'reviewed' ? 0 : r.unreviewed), 0) - left;
  }

  /** The WHERE and ORDER BY of a grid query (ORDER BY id without a sort), with its named parameters. */
  private querySql(query: PhotoSelection & Partial<Pick<PageQuery, 'sort' | 'descending'>>): {
    filter: string;
    order: string;
    params: Record<string, unknown>;
  } {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (query.queue === 'reviewed') where.push('label IS NOT NULL');
    if (query.queue === 'needsReview') {
      where.push(`label IS NULL AND ${needsReviewSql}`);
      Object.assign(params, reviewParams(query.rule));
    }
    if (query.excludeNeedsReview) {
      // coalesce: a photo not predicted yet (NULL confidence) does not need review, so it stays.
      where.push(`NOT coalesce(label IS NULL AND ${needsReviewSql}, 0)`);
      Object.assign(params, reviewParams(query.rule));
    }
    if (query.category !== undefined) {
      where.push('category = @category');
      params.category = query.category;
    }
    if (query.search) {
      // Names are kept composed (NFC); what was typed or pasted is compared in that form too.
      const search = comparable(query.search);
      where.push(`name LIKE @search ESCAPE '\\'`);
      params.search = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      // The trigram index finds the candidates (it needs three characters); LIKE keeps its exact meaning.
      if ([...search].length >= 3) {
        where.push('id IN (SELECT rowid FROM photo_names WHERE photo_names MATCH @phrase)');
        params.phrase = `"${search.replaceAll('"', '""')}"`;
      }
    }
    const direction = query.descending ? 'DESC' : 'ASC';
    const orders = {
      name: `name ${direction}, id ${direction}`,
      confidence: `confidence ${direction}, id ${direction}`,
      none: 'id',
    };
    return {
      filter: where.length ? `WHERE ${where.join(' AND ')}` : '',
      order: orders[query.sort ?? 'none'],
      params,
    };
  }

  /** A page of photos for the grid: one queue, optionally one category and a name filter, sorted. */
  photoPage(query: PageQuery): Page {
    const { filter, order, params } = this.querySql(query);
    // The offset is skipped in the sort's index alone (ids only); the tiles' columns are read for one page.
    const tiles = this.db
      .prepare(
        `SELECT ${TILE_COLUMNS} FROM photos WHERE id IN (SELECT id FROM photos ${filter} ORDER BY ${order} LIMIT @limit OFFSET @offset)
      ORDER BY ${order}`,
      )
      .all({ ...params, limit: query.limit, offset: query.offset }) as PhotoTile[];
    return { total: this.countMatching(query, filter, params), tiles };
  }

  /**
   * For each queue, within a selection's category and name filter: its photos, their files, and the rows each
   * CSV layout gives them (what the Export dialog offers). The photos come from the kept counts; the files
   * differ from them only for the few photos with other than one path, which are found in the paths' index
   * (a 200,000-photo catalog answers in tens of milliseconds, where counting every photo's paths took 1.4 s).
   */
  selectionCounts(selection: Omit<PhotoSelection, 'queue'>): SelectionCounts {
    const queues = {
      all: '1',
      reviewed: 'label IS NOT NULL',
      needsReview: `label IS NULL AND ${needsReviewSql}`,
    } as const;
    const photos = (queue: PhotoSelection['queue']) => {
      const query = { ...selection, queue };
      const { filter, params } = this.querySql(query);
      return this.countMatching(query, filter, params);
    };
    const { filter, params } = this.querySql({ ...selection, queue: 'all' });
    const where = (condition: string) => (filter ? `${filter} AND ${condition}` : `WHERE ${condition}`);
    // A reviewed photo has a category (its label), and so has one in the review queue (its prediction).
    const uncategorized = this.db
      .prepare(`SELECT count(*) FROM photos ${where('category IS NULL')}`)
      .pluck()
      .get(params) as number;
    // The photos with more than one path (files with the same bytes), and those with none (every file edited or replaced since).
    const someWithoutPath =
      (this.db.prepare('SELECT count(DISTINCT photo_id) FROM photo_paths').pluck().get() as number) <
      this.categoryTotals().reduce((n, r) => n + r.reviewed + r.unreviewed, 0);
    const odd = `SELECT photo_id, count(*) AS n FROM photo_paths GROUP BY photo_id HAVING n > 1${someWithoutPath ? ' UNION ALL SELECT id, 0 FROM photos WHERE id NOT IN (SELECT photo_id FROM photo_paths)' : ''}`;
    const sums = Object.entries(queues).map(
      ([queue, condition]) =>
        `coalesce(sum(CASE WHEN ${condition} THEN n - 1 END), 0) AS "${queue}.extra", coalesce(sum(CASE WHEN ${condition} AND n = 0 THEN 1 END), 0) AS "${queue}.none"`,
    );
    // The few odd photos first (CROSS JOIN keeps that order), each looked up by id.
    const row = this.db
      .prepare(
        `WITH odd (photo_id, n) AS (${odd}) SELECT ${sums.join(', ')} FROM odd CROSS JOIN photos ON photos.id = odd.photo_id ${filter}`,
      )
      .get({ ...params, ...reviewParams(selection.rule) }) as Record<string, number>;
    const of = (queue: PhotoSelection['queue']): QueueCounts => {
      const n = photos(queue);
      // Σ (paths − 1) over the odd photos: the files a shared image adds, less one per photo without a file,
      // whose row the catalog CSV still writes (under the photo's last name).
      const [extra, pathless] = [row[`${queue}.extra`]!, row[`${queue}.none`]!];
      return {
        photos: n,
        files: n + extra,
        catalogRows: n + extra + pathless,
        fashionMnistRows: queue === 'all' ? n - uncategorized : n,
      };
    };
    return { all: of('all'), reviewed: of('reviewed'), needsReview: of('needsReview') };
  }

  /** Every photo id the query matches, in its order (id order for a selection without a sort). */
  photoIds(query: PhotoSelection & Partial<Pick<PageQuery, 'sort' | 'descending'>>): number[] {
    const { filter, order, params } = this.querySql(query);
    return this.db.prepare(`SELECT id FROM photos ${filter} ORDER BY ${order}`).pluck().all(params) as number[];
  }

  /**
   * Every file of every photo a selection matches (photo id order, then the order the paths were found),
   * with what an export needs, read lazily from one statement (one snapshot). The connection is busy until
   * the iteration ends: exports run on a connection of their own.
   */
  *exportRows(selection: PhotoSelection): IterableIterator<ExportRow> {
    const { filter, order, params } = this.querySql(selection);
    // The paths' columns are renamed so that the selection's bare column names (id, name) still mean the photo's.
    const rows = this.db
      .prepare(`SELECT id, hash, name, category, label, predicted_label AS predictedLabel, confidence, runner_up AS runnerUp, pp.path,
        (SELECT count(*) FROM photo_paths WHERE photo_id = photos.id) AS files,
        (SELECT r.probabilities FROM predictions r WHERE r.id = photos.prediction_id) AS probabilities,
        (SELECT m.version FROM predictions r JOIN models m ON m.id = r.model_id WHERE r.id = photos.prediction_id) AS modelVersion,
        CASE WHEN label IS NOT NULL THEN (SELECT reviewer FROM labels WHERE photo_id = photos.id ORDER BY id DESC LIMIT 1) END AS reviewer,
        CASE WHEN label IS NOT NULL THEN (SELECT created_at FROM labels WHERE photo_id = photos.id ORDER BY id DESC LIMIT 1) END AS reviewedAt
      FROM photos LEFT JOIN (SELECT id AS path_id, photo_id AS path_photo, path FROM photo_paths) pp ON pp.path_photo = photos.id
      ${filter} ORDER BY ${order}, pp.path_id`);
    for (const row of rows.iterate(params) as IterableIterator<ExportRow & { probabilities: Buffer | null }>) {
      // The runner-up's own probability, exactly as stored (float32), from the prediction's vector.
      row.runnerUpProbability =
        row.probabilities && row.runnerUp !== null ? row.probabilities.readFloatLE(4 * row.runnerUp) : null;
      yield row;
    }
  }

  /** The 28×28 inputs and categories of the photos a selection matches (those with a category), in id order. */
  *exportInputs(selection: PhotoSelection): IterableIterator<{ category: number; pixels: Buffer }> {
    const { filter, params } = this.querySql(selection);
    yield* this.db
      .prepare(
        `SELECT p.category, i.pixels FROM photos p JOIN photo_inputs i ON i.photo_id = p.id
      WHERE p.id IN (SELECT id FROM photos ${filter}) AND p.category IS NOT NULL ORDER BY p.id`,
      )
      .iterate(params) as IterableIterator<{ category: number; pixels: Buffer }>;
  }

  /** The folders (and single files) the user imported. */
  importRoots(): string[] {
    return [
      ...new Set(
        (this.db.prepare('SELECT roots FROM import_jobs').pluck().all() as string[]).flatMap(
          (json) => JSON.parse(json) as string[],
        ),
      ),
    ];
  }

  /** The folders photos were imported from and sorted into: what an export's relative paths are relative to. */
  photoRoots(): string[] {
    return [
      ...new Set([...this.importRoots(), ...(this.db.prepare('SELECT dest FROM sort_jobs').pluck().all() as string[])]),
    ];
  }

  /** The file name a photo was last imported under. */
  photoName(id: number): string {
    return this.db.prepare('SELECT name FROM photos WHERE id = ?').pluck().get(id) as string;
  }

  /** Everything the review view shows about one photo. */
  photoDetail(id: number): PhotoDetail | undefined {
    const tile = this.db.prepare(`SELECT ${TILE_COLUMNS}, format, width, height FROM photos WHERE id = ?`).get(id) as
      (PhotoTile & { format: string; width: number; height: number }) | undefined;
    if (!tile) return undefined;
    const pixels = this.db.prepare('SELECT pixels FROM photo_inputs WHERE photo_id = ?').pluck().get(id) as Buffer;
    const prediction = this.db
      .prepare(
        `SELECT r.probabilities, m.version FROM photos p JOIN predictions r ON r.id = p.prediction_id JOIN models m ON m.id = r.model_id WHERE p.id = ?`,
      )
      .get(id) as { probabilities: Buffer; version: string } | undefined;
    const probabilities =
      prediction &&
      Array.from(
        new Float32Array(
          prediction.probabilities.buffer.slice(
            prediction.probabilities.byteOffset,
            prediction.probabilities.byteOffset + prediction.probabilities.byteLength,
          ),
        ),
      );
    const outline = this.db.prepare('SELECT outline FROM photo_outlines WHERE photo_id = ?').pluck().get(id) as
      string | undefined;
    return {
      ...tile,
      outline: outline === undefined ? null : (JSON.parse(outline) as number[][]),
      paths: this.db
        .prepare('SELECT path FROM photo_paths WHERE photo_id = ? ORDER BY seen_at DESC, id DESC')
        .pluck()
        .all(id) as string[],
      pixels: Array.from(pixels),
      probabilities: probabilities ?? null,
      modelVersion: prediction?.version ?? null,
      history: this.db
        .prepare(
          'SELECT old_label AS oldLabel, new_label AS newLabel, reviewer, created_at AS at FROM labels WHERE photo_id = ? ORDER BY id',
        )
        .all(id) as LabelEvent[],
    };
  }

  /**
   * Appends label changes to the log in one transaction (a trigger keeps each photo's current label) and
   * returns the labels they replaced, so that applying those undoes the change.
   */
  setLabels(changes: LabelChange[], reviewer: string): LabelChange[] {
    const current = this.db.prepare('SELECT label FROM photos WHERE id = ?').pluck();
    const append = this.db.prepare(
      'INSERT INTO labels (photo_id, old_label, new_label, reviewer, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    const time = now();
    return this.db.transaction(() =>
      changes.map((change) => {
        const old = current.get(change.photoId) as number | null | undefined;
        if (old === undefined) throw new Error(`photo ${change.photoId} is not in the catalog`);
        if (old !== change.label) append.run(change.photoId, old, change.label, reviewer, time);
        return { photoId: change.photoId, label: old };
      }),
    )();
  }

  /** A page of the files imports could not read, newest job first. */
  fileErrors(offset: number, limit: number): { total: number; rows: FileError[] } {
    const rows = this.db
      .prepare(
        `SELECT path, error AS reason FROM import_files WHERE state = 'failed' ORDER BY job_id DESC, path LIMIT ? OFFSET ?`,
      )
      .all(limit, offset) as FileError[];
    return {
      total: this.db.prepare(`SELECT count(*) FROM import_files WHERE state = 'failed'`).pluck().get() as number,
      rows,
    };
  }

  /** Per predicted class: how many predictions reviewers have labeled, and how many they kept. */
  agreement(): { reviewed: number; agreed: number }[] {
    const out = Array.from({ length: NUM_CLASSES }, () => ({ reviewed: 0, agreed: 0 }));
    for (const row of this.db
      .prepare(
        `SELECT predicted_label AS k, count(*) AS reviewed, sum(label = predicted_label) AS agreed FROM photos
      WHERE label IS NOT NULL AND predicted_label IS NOT NULL GROUP BY predicted_label`,
      )
      .all() as { k: number; reviewed: number; agreed: number }[]) {
      out[row.k] = { reviewed: row.reviewed, agreed: row.agreed };
    }
    return out;
  }

  /** The photos found under a file name, in any folder (composed or decomposed Unicode alike). */
  photosNamed(name: string): number[] {
    return this.db
      .prepare('SELECT DISTINCT photo_id FROM photo_paths WHERE name = ?')
      .pluck()
      .all(comparable(name)) as number[];
  }

  /** The photo found at `filePath` (any import; composed or decomposed Unicode alike), or undefined. */
  photoAtPath(filePath: string): number | undefined {
    return this.db
      .prepare('SELECT photo_id FROM photo_paths WHERE path_key = ? ORDER BY seen_at DESC LIMIT 1')
      .pluck()
      .get(comparable(filePath)) as number | undefined;
  }

  /** Where a photo was found, with the size and modification time its file had then, most recently seen first. */
  photoFiles(hash: string): { path: string; size: number; mtimeMs: number }[] {
    return this.db
      .prepare(
        `SELECT pp.path, pp.size, pp.mtime_ms AS mtimeMs FROM photo_paths pp JOIN photos p ON p.id = pp.photo_id
      WHERE p.hash = ? ORDER BY pp.seen_at DESC, pp.id DESC`,
      )
      .all(hash) as { path: string; size: number; mtimeMs: number }[];
  }

  /** True when some photo in the catalog has this content hash (what the thumbnail protocol may serve). */
  hasPhoto(hash: string): boolean {
    return this.db.prepare('SELECT 1 FROM photos WHERE hash = ?').get(hash) !== undefined;
  }

  // ---- what a job produced ----

  /** Per-category counts, the number needing review, for the photos a job imported. */
  jobSummary(
    jobId: number,
    rule: ReviewRule = DEFAULT_REVIEW_RULE,
  ): { photos: number; perCategory: number[]; needsReview: number } {
    const photos = `SELECT DISTINCT photo_id FROM import_files WHERE job_id = @jobId AND state = 'done'`;
    const perCategory = new Array<number>(NUM_CLASSES).fill(0);
    for (const row of this.db
      .prepare(
        `SELECT category, count(*) AS n FROM photos WHERE id IN (${photos}) AND category IS NOT NULL GROUP BY category`,
      )
      .all({ jobId }) as { category: number; n: number }[]) {
      perCategory[row.category] = row.n;
    }
    const total = this.db.prepare(`SELECT count(*) FROM (${photos})`).pluck().get({ jobId }) as number;
    const n = this.db
      .prepare(`SELECT count(*) FROM photos WHERE id IN (${photos}) AND label IS NULL AND ${needsReviewSql}`)
      .pluck()
      .get({ jobId, ...reviewParams(rule) }) as number;
    return { photos: total, perCategory, needsReview: n };
  }

  /** Every imported file of a job with its photo's prediction, in path order. */
  jobPredictions(jobId: number): { path: string; label: number; confidence: number }[] {
    return this.db
      .prepare(
        `SELECT f.path, p.predicted_label AS label, p.confidence FROM import_files f JOIN photos p ON p.id = f.photo_id
      WHERE f.job_id = ? AND f.state = 'done' AND p.predicted_label IS NOT NULL ORDER BY f.path`,
      )
      .all(jobId) as { path: string; label: number; confidence: number }[];
  }
}

const hardGroup = HARD_GROUP.join(', ');
const TILE_COLUMNS = 'id, hash, name, category, predicted_label AS predictedLabel, confidence, label, novelty';
/** The named parameters needsReviewSql reads: a review rule's and the novelty limit. */
const reviewParams = (rule: ReviewRule) => ({ ...rule, noveltyLimit: NOVELTY_LIMIT });

/**
 * SQL for "this prediction needs a reviewer" (named parameters: @minConfidence, @hardGroupMargin, @noveltyLimit):
 * unsure, torn within the hard group, or a photo unlike the model's training images however sure it is.
 */
const needsReviewSql = `(confidence < @minConfidence OR (predicted_label IN (${hardGroup}) AND runner_up IN (${hardGroup}) AND margin < @hardGroupMargin)
  OR novelty >= @noveltyLimit)`;
