import path from 'node:path';
import type Database from 'better-sqlite3';
import type { ReviewRule } from '../../contract/api.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';
import { DEFAULT_REVIEW_RULE } from '../../contract/review.ts';
import { PIXELS } from '../dataset/fashionMnist.ts';
import { comparable } from './migrations.ts';
import { needsReviewSql, reviewParams } from './queries.ts';

/** A converted photo, ready to be stored. */
/** One file of an import and its photo's category (ImportJobs.jobCategories). */
export interface JobCategory {
  path: string;
  category: number;
  source: 'reviewer' | 'model';
  confidence: number | null;
}

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

/** A failed file in the Errors list; resolved when a later import has read it. */
export interface ImportError extends FileError {
  resolved: boolean;
}

/** A later job's row for the same path as `f` (an import_files row), in the given states. */
const laterRow = (states: string) =>
  `EXISTS (SELECT 1 FROM import_files l WHERE l.path = f.path AND l.job_id > f.job_id AND l.state IN (${states}))`;

const now = () => new Date().toISOString();

/**
 * Import jobs: the files each found, which of them became photos (stored here, by content hash) and which
 * failed, so that an interrupted import resumes where it stopped; and what a job produced.
 */
export class ImportJobs {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

  /**
   * The newest unfinished job over these roots (in any order: `classify b a` finishes `classify a b`), so that
   * running the same import again resumes it.
   */
  unfinishedJob(roots: string[]): number | undefined {
    const wanted = JSON.stringify([...new Set(roots)].sort());
    return this.unfinishedJobs().find((job) => JSON.stringify([...new Set(job.roots)].sort()) === wanted)?.id;
  }

  /**
   * Imports that have not finished, newest first: stopped midway (a crash, a kill, a cancel before the folders were
   * walked) or still running in another program; running the same import again finishes one. With their counts.
   */
  unfinishedJobs(): { id: number; roots: string[]; counts: JobCounts }[] {
    const ids = this.db
      .prepare(`SELECT id, roots FROM import_jobs WHERE status = 'running' ORDER BY id DESC`)
      .all() as { id: number; roots: string }[];
    return ids.map(({ id, roots }) => ({ id, roots: JSON.parse(roots) as string[], counts: this.jobCounts(id) }));
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

  /**
   * The catalog's files under `roots` (the absolute folders or files job `jobId` walked) that the job did not find:
   * deleted or renamed since an earlier import, or left out of the walk (an unreadable folder), which the caller
   * tells apart on disk. Files an unfinished sort is moving are the sort's to account for, and are not listed.
   */
  filesNotFound(jobId: number, roots: string[]): string[] {
    const under = roots.map(() => `(path = ? OR substr(path, 1, ?) = ?)`).join(' OR ');
    return this.db
      .prepare(
        `SELECT path FROM photo_paths WHERE (${under})
        AND NOT EXISTS (SELECT 1 FROM import_files f WHERE f.job_id = ? AND f.path = photo_paths.path)
        AND path NOT IN (SELECT f.source FROM sort_files f JOIN sort_jobs j ON j.id = f.job_id WHERE j.status = 'running')
        ORDER BY path`,
      )
      .pluck()
      .all(...roots.flatMap((root) => [root, root.length + 1, root + path.sep]), jobId) as string[];
  }

  /**
   * Forgets `files` (paths no longer on disk) in one transaction: their photos stay, with their labels and
   * predictions (a photo none of whose files is left keeps its last name), and a file found again is found anew.
   */
  forgetFiles(files: string[]): void {
    const forget = this.db.prepare('DELETE FROM photo_paths WHERE path = ?');
    this.db.transaction(() => {
      for (const file of files) forget.run(file);
    })();
  }

  finishJob(jobId: number, status: 'done' | 'cancelled'): void {
    this.db.prepare('UPDATE import_jobs SET status = ?, finished_at = ? WHERE id = ?').run(status, now(), jobId);
  }

  /**
   * Ends the unfinished jobs other than `jobId` whose every root lies in one of `roots`, which a finished import
   * has just walked and read whole: resuming one would find nothing new (it is 'cancelled', as one stopped).
   */
  finishCoveredJobs(jobId: number, roots: string[]): void {
    const covered = (root: string) => roots.some((r) => root === r || root.startsWith(r + path.sep));
    const end = this.db.prepare(`UPDATE import_jobs SET status = 'cancelled', finished_at = ? WHERE id = ?`);
    for (const job of this.unfinishedJobs()) if (job.id !== jobId && job.roots.every(covered)) end.run(now(), job.id);
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

  /** Marks files done that are unchanged photos already in the catalog (a removed one found again is back in it). */
  markKnown(known: { fileId: number; photoId: number }[]): void {
    const done = this.db.prepare(`UPDATE import_files SET state = 'done', photo_id = ? WHERE id = ?`);
    const seen = this.db.prepare(`UPDATE photo_paths SET seen_at = ? WHERE photo_id = ?`);
    const restore = this.db.prepare('UPDATE photos SET removal_id = NULL WHERE id = ? AND removal_id IS NOT NULL');
    const time = now();
    this.db.transaction(() => {
      for (const k of known) {
        done.run(k.photoId, k.fileId);
        seen.run(time, k.photoId);
        restore.run(k.photoId);
      }
    })();
  }

  /**
   * Those of `photos` (about to be stored) whose path holds a reviewed photo of other content in the catalog: a
   * file a reviewer labelled, edited or replaced since. Storing moves the path to the new content, which the model
   * predicts; the earlier image keeps its label.
   */
  reviewedFilesReplaced(photos: Pick<ImportedPhoto, 'path' | 'hash'>[]): string[] {
    const held = this.db
      .prepare(
        'SELECT p.hash FROM photo_paths pp JOIN photos p ON p.id = pp.photo_id WHERE pp.path = ? AND p.label IS NOT NULL',
      )
      .pluck();
    return photos
      .filter((photo) => {
        const before = held.get(photo.path) as string | undefined;
        return before !== undefined && before !== photo.hash;
      })
      .map((photo) => photo.path);
  }

  /**
   * Stores converted photos in one transaction: a photo is its content hash (the same bytes at a second
   * path are the same photo; a removed one imported again is back), its path is recorded or moved to it, and
   * its file is marked done.
   * Returns the photo ids, in the order given.
   */
  storePhotos(photos: ImportedPhoto[]): number[] {
    const insertPhoto = this.db
      .prepare(`INSERT INTO photos (hash, size, format, width, height, name, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (hash) DO UPDATE SET status = 'ok', name = excluded.name, removal_id = NULL RETURNING id`);
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

  /**
   * A page of the files imports could not read, newest job first: each path once (a failure a later import
   * hit again is left out for the newer one), resolved where a later import read it.
   */
  fileErrors(offset: number, limit: number): { total: number; rows: ImportError[] } {
    const listed = `FROM import_files f WHERE f.state = 'failed' AND NOT ${laterRow(`'failed'`)}`;
    const rows = this.db
      .prepare(
        `SELECT f.path, f.error AS reason, ${laterRow(`'done'`)} AS resolved ${listed} ORDER BY f.job_id DESC, f.path LIMIT ? OFFSET ?`,
      )
      .all(limit, offset) as (FileError & { resolved: number })[];
    return {
      total: this.db.prepare(`SELECT count(*) ${listed}`).pluck().get() as number,
      rows: rows.map((r) => ({ ...r, resolved: r.resolved === 1 })),
    };
  }

  /** Whether an import has failed on this path: only such a file is imported again from the Errors list. */
  hasFailed(filePath: string): boolean {
    return this.importFailure(filePath) !== undefined;
  }

  /** Why the newest import that failed to read this path failed, or undefined when none did. */
  importFailure(filePath: string): string | undefined {
    return this.db
      .prepare(`SELECT error FROM import_files WHERE path = ? AND state = 'failed' ORDER BY id DESC LIMIT 1`)
      .pluck()
      .get(filePath) as string | undefined;
  }

  /** Whether an import found this path (read or failed): only such a file is shown in the file manager. */
  hasFound(filePath: string): boolean {
    return this.db.prepare('SELECT 1 FROM import_files WHERE path = ?').get(filePath) !== undefined;
  }

  /**
   * Forgets the failures a later import has since resolved or failed on again, so the Errors list keeps only
   * what is still wrong; their jobs' failed counts drop with them. Returns how many records it forgot.
   */
  clearResolved(): number {
    return this.db
      .prepare(`DELETE FROM import_files AS f WHERE f.state = 'failed' AND ${laterRow(`'done', 'failed'`)}`)
      .run().changes;
  }

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

  /**
   * Every imported file of a job with its photo's category, in path order: the reviewer's where there is one
   * (`source` 'reviewer', `confidence` null: the model's certainty was about its own guess), else the model's
   * (`source` 'model', its probability 0–1). Files whose photo has neither are left out.
   */
  jobCategories(jobId: number): JobCategory[] {
    return this.db
      .prepare(
        `SELECT f.path, p.category, CASE WHEN p.label IS NULL THEN 'model' ELSE 'reviewer' END AS source,
        CASE WHEN p.label IS NULL THEN p.confidence END AS confidence
      FROM import_files f JOIN photos p ON p.id = f.photo_id
      WHERE f.job_id = ? AND f.state = 'done' AND p.category IS NOT NULL ORDER BY f.path`,
      )
      .all(jobId) as JobCategory[];
  }
}
