import path from 'node:path';
import type Database from 'better-sqlite3';
import { comparable } from './migrations.ts';

export type SortMode = 'copy' | 'move';
export type SortFileState = 'planned' | 'copied' | 'done' | 'failed';

export interface SortJob {
  id: number;
  dest: string;
  mode: SortMode;
  folders: string[];
  status: 'running' | 'done' | 'stopped';
}

export interface SortFile {
  id: number;
  photoId: number;
  hash: string;
  source: string;
  target: string;
  state: SortFileState;
  /** The source as the catalog last saw it (null if the catalog no longer knows that path). */
  size: number | null;
  mtimeMs: number | null;
}

/** Where a photo is now, as the catalog last saw it (size and modification time, to notice a changed file). */
export interface PhotoSource {
  photoId: number;
  hash: string;
  category: number | null;
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SortCounts {
  planned: number;
  copied: number;
  done: number;
  failed: number;
}

const now = () => new Date().toISOString();

/** The process that sorts a catalog's photos: its machine and process id. */
export interface SortHolder {
  host: string;
  pid: number;
}

/**
 * The journal of sorting photos into category folders, in the catalog: every file a job will write is
 * recorded before anything touches the disk, and each step is recorded after it is durable, so after a
 * crash the journal says exactly what was done and the job resumes from there.
 */
export class SortJournal {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

  /**
   * Every path of the given photos (in their order; a photo's paths in the order they were found): a photo
   * saved at two paths is two files to sort. Photos without a path are left out.
   */
  sources(photoIds: number[]): PhotoSource[] {
    // One pass over every path beats one query per photo, even when only some are wanted.
    const all = this.db
      .prepare(
        `SELECT p.id AS photoId, p.hash, p.category, pp.path, pp.size, pp.mtime_ms AS mtimeMs
      FROM photo_paths pp JOIN photos p ON p.id = pp.photo_id ORDER BY pp.id`,
      )
      .all() as PhotoSource[];
    const byId = new Map<number, PhotoSource[]>();
    for (const s of all) byId.set(s.photoId, [...(byId.get(s.photoId) ?? []), s]);
    return photoIds.flatMap((id) => byId.get(id) ?? []);
  }

  /** The jobs a crash or a stop left unfinished, newest first. */
  unfinishedJobs(): SortJob[] {
    return (
      this.db
        .prepare(`SELECT id, dest, mode, folders, status FROM sort_jobs WHERE status != 'done' ORDER BY id DESC`)
        .all() as (Omit<SortJob, 'folders'> & { folders: string })[]
    ).map((row) => ({ ...row, folders: JSON.parse(row.folders) as string[] }));
  }

  /** Starts a job with its whole plan, in one transaction. */
  createJob(
    dest: string,
    mode: SortMode,
    folders: readonly string[],
    files: { photoId: number; source: string; target: string }[],
  ): number {
    return this.db.transaction(() => {
      const jobId = Number(
        this.db
          .prepare(`INSERT INTO sort_jobs (dest, mode, folders, status, created_at) VALUES (?, ?, ?, 'running', ?)`)
          .run(dest, mode, JSON.stringify(folders), now()).lastInsertRowid,
      );
      this.addFiles(jobId, files);
      return jobId;
    })();
  }

  /** Adds files to a job's plan. */
  addFiles(jobId: number, files: { photoId: number; source: string; target: string }[]): void {
    const insert = this.db.prepare('INSERT INTO sort_files (job_id, photo_id, source, target) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const f of files) insert.run(jobId, f.photoId, f.source, f.target);
    })();
  }

  /** Forgets the planned files of a job (nothing of them is on disk), so a resumed job plans them afresh. */
  dropPlanned(jobId: number): void {
    this.db.prepare(`DELETE FROM sort_files WHERE job_id = ? AND state = 'planned'`).run(jobId);
  }

  /**
   * The paths a job has already handled (copied or done): their sources, and their targets, where a moved
   * file now is. A fresh plan for the rest of the job leaves both out.
   */
  handledPaths(jobId: number): Set<string> {
    const rows = this.db
      .prepare(`SELECT source, target FROM sort_files WHERE job_id = ? AND state IN ('copied', 'done')`)
      .raw()
      .all(jobId) as [string, string][];
    return new Set(rows.flat());
  }

  /** How many files the job has handled (copied or done). */
  handledCount(jobId: number): number {
    return this.db
      .prepare(`SELECT count(*) FROM sort_files WHERE job_id = ? AND state IN ('copied', 'done')`)
      .pluck()
      .get(jobId) as number;
  }

  /**
   * The copies earlier copy jobs into `dest` (a real path, as jobs record it) made and recorded as done, by the
   * source path they were copied from: where a photo's copy went before its category changed.
   */
  earlierCopies(dest: string): Map<string, string[]> {
    const rows = this.db
      .prepare(
        // DISTINCT: a later sort that found a copy already there records the same target again.
        `SELECT DISTINCT f.source, f.target FROM sort_files f JOIN sort_jobs j ON j.id = f.job_id
        WHERE j.dest = ? AND j.mode = 'copy' AND j.status != 'running' AND f.state = 'done'`,
      )
      .raw()
      .all(dest) as [string, string][];
    const copies = new Map<string, string[]>();
    for (const [source, target] of rows) copies.set(source, [...(copies.get(source) ?? []), target]);
    return copies;
  }

  /** Targets the job has written, so that a new plan for the rest does not take them again. */
  claimedTargets(jobId: number): string[] {
    return this.db
      .prepare(`SELECT target FROM sort_files WHERE job_id = ? AND state IN ('copied', 'done')`)
      .pluck()
      .all(jobId) as string[];
  }

  /** The files still to do (planned or copied), in plan order. */
  unfinishedFiles(jobId: number, states: SortFileState[] = ['planned', 'copied']): SortFile[] {
    return this.db
      .prepare(
        `SELECT f.id, f.photo_id AS photoId, p.hash, f.source, f.target, f.state, pp.size, pp.mtime_ms AS mtimeMs
      FROM sort_files f JOIN photos p ON p.id = f.photo_id LEFT JOIN photo_paths pp ON pp.path = f.source AND pp.photo_id = f.photo_id
      WHERE f.job_id = ? AND f.state IN (${states.map(() => '?').join(', ')}) ORDER BY f.id`,
      )
      .all(jobId, ...states) as SortFile[];
  }

  /** A copy is complete: a move goes on to remove the source; a copy is done. */
  markCopied(fileId: number): void {
    this.db.prepare(`UPDATE sort_files SET state = 'copied' WHERE id = ?`).run(fileId);
  }

  /** Marks files done, in one transaction. */
  markDone(fileIds: number[]): void {
    const done = this.db.prepare(`UPDATE sort_files SET state = 'done' WHERE id = ?`);
    this.db.transaction(() => {
      for (const id of fileIds) done.run(id);
    })();
  }

  /**
   * A move is complete (the source is gone): the catalog's path follows the file, in the same transaction
   * that marks it done.
   */
  markMoved(file: SortFile, target: { size: number; mtimeMs: number }): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM photo_paths WHERE path = ? AND photo_id != ?').run(file.target, file.photoId);
      const [key, name] = [comparable(file.target), comparable(path.basename(file.target))];
      const moved = this.db
        .prepare(
          'UPDATE photo_paths SET path = ?, path_key = ?, name = ?, size = ?, mtime_ms = ?, seen_at = ? WHERE path = ? AND photo_id = ?',
        )
        .run(file.target, key, name, target.size, target.mtimeMs, now(), file.source, file.photoId);
      if (moved.changes === 0) {
        this.db
          .prepare(
            `INSERT INTO photo_paths (photo_id, path, path_key, name, size, mtime_ms, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (path) DO UPDATE SET photo_id = excluded.photo_id, size = excluded.size, mtime_ms = excluded.mtime_ms, seen_at = excluded.seen_at`,
          )
          .run(file.photoId, file.target, key, name, target.size, target.mtimeMs, now());
      }
      this.markDone([file.id]);
    })();
  }

  markFailed(fileId: number, reason: string): void {
    this.db.prepare(`UPDATE sort_files SET state = 'failed', error = ? WHERE id = ?`).run(reason, fileId);
  }

  finishJob(jobId: number, status: 'done' | 'stopped'): void {
    this.db.prepare('UPDATE sort_jobs SET status = ?, finished_at = ? WHERE id = ?').run(status, now(), jobId);
  }

  counts(jobId: number): SortCounts {
    const counts: SortCounts = { planned: 0, copied: 0, done: 0, failed: 0 };
    for (const row of this.db
      .prepare('SELECT state, count(*) AS n FROM sort_files WHERE job_id = ? GROUP BY state')
      .all(jobId) as { state: SortFileState; n: number }[])
      counts[row.state] = row.n;
    return counts;
  }

  /** How many distinct photos a job's finished files hold. */
  donePhotos(jobId: number): number {
    return this.db
      .prepare(`SELECT count(DISTINCT photo_id) FROM sort_files WHERE job_id = ? AND state = 'done'`)
      .pluck()
      .get(jobId) as number;
  }

  /** Records `holder` as the process that sorts now (sortIntoFolders holds the lock). */
  recordSortHolder(holder: SortHolder): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sort_holder (id, host, pid, started_at) VALUES (1, ?, ?, ?)')
      .run(holder.host, holder.pid, now());
  }

  /** The process recorded as sorting, if any (it may have ended without clearing it). */
  sortHolder(): SortHolder | undefined {
    return this.db.prepare('SELECT host, pid FROM sort_holder').get() as SortHolder | undefined;
  }

  failures(jobId: number): { path: string; reason: string }[] {
    return this.db
      .prepare(
        `SELECT source AS path, error AS reason FROM sort_files WHERE job_id = ? AND state = 'failed' ORDER BY id`,
      )
      .all(jobId) as { path: string; reason: string }[];
  }
}
