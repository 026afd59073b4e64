import type Database from 'better-sqlite3';
import type { ImportSummary, Removal } from '../../contract/api.ts';

const now = () => new Date().toISOString();

/**
 * Soft removal: photos (or a whole import) taken out of the catalog. A removed photo keeps its row, its label
 * log and its inputs (the model versions trained on it stay reproducible), but leaves every count, queue,
 * page, export, sort and future fine-tuning; restoring its removal brings it back as it was. Each removal
 * is one transaction, so a crash leaves either all of it or none.
 */
export class Removals {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

  /**
   * Removes the given photos (those already removed, or not in the catalog, are skipped) as one removal.
   * Returns its id and how many photos it took.
   */
  removePhotos(photoIds: readonly number[]): Removal {
    return this.db.transaction(() => {
      const id = this.newRemoval(null);
      const photos = this.db
        .prepare('UPDATE photos SET removal_id = ? WHERE id IN (SELECT value FROM json_each(?)) AND removal_id IS NULL')
        .run(id, JSON.stringify(photoIds)).changes;
      return { id, photos };
    })();
  }

  /**
   * Removes an import: marks it removed, and removes the photos it brought in that no other import still in
   * the catalog also holds (the same bytes imported from a folder that stays, stay). Throws for an unknown
   * or already removed import.
   */
  removeImport(jobId: number): Removal {
    return this.db.transaction(() => {
      const job = this.db.prepare('SELECT removal_id FROM import_jobs WHERE id = ?').get(jobId) as
        { removal_id: number | null } | undefined;
      if (!job) throw new Error(`import ${jobId} is not in the catalog`);
      if (job.removal_id !== null) throw new Error(`import ${jobId} was removed already`);
      const id = this.newRemoval(jobId);
      // An import that stopped midway is not resumed into a removed one: importing its folders again starts afresh.
      this.db
        .prepare(
          `UPDATE import_jobs SET removal_id = ?, status = iif(status = 'running', 'cancelled', status) WHERE id = ?`,
        )
        .run(id, jobId);
      const photos = this.db
        .prepare(
          `UPDATE photos SET removal_id = @id WHERE removal_id IS NULL
        AND id IN (SELECT photo_id FROM import_files WHERE job_id = @jobId AND state = 'done')
        AND NOT EXISTS (SELECT 1 FROM import_files f JOIN import_jobs j ON j.id = f.job_id
          WHERE f.photo_id = photos.id AND f.state = 'done' AND j.removal_id IS NULL)`,
        )
        .run({ id, jobId }).changes;
      return { id, photos };
    })();
  }

  /** Undoes a removal: its photos (and its import) are back in the catalog. Returns how many photos came back. */
  restore(removalId: number): number {
    return this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM removals WHERE id = ?').get(removalId))
        throw new Error(`removal ${removalId} is not in the catalog (restored already?)`);
      const photos = this.db.prepare('UPDATE photos SET removal_id = NULL WHERE removal_id = ?').run(removalId).changes;
      this.db.prepare('UPDATE import_jobs SET removal_id = NULL WHERE removal_id = ?').run(removalId);
      this.db.prepare('DELETE FROM removals WHERE id = ?').run(removalId);
      return photos;
    })();
  }

  /** Every import, newest first, with the distinct photos it brought in and its removal, if removed. */
  imports(): ImportSummary[] {
    const rows = this.db
      .prepare(
        `SELECT j.id, j.roots, j.created_at AS startedAt, j.status, j.removal_id AS removalId,
        (SELECT count(DISTINCT photo_id) FROM import_files WHERE job_id = j.id AND state = 'done') AS photos
      FROM import_jobs j ORDER BY j.id DESC`,
      )
      .all() as (Omit<ImportSummary, 'folders'> & { roots: string })[];
    return rows.map(({ roots, ...row }) => ({ ...row, folders: JSON.parse(roots) as string[] }));
  }

  private newRemoval(importId: number | null): number {
    return Number(
      this.db.prepare('INSERT INTO removals (import_id, created_at) VALUES (?, ?)').run(importId, now())
        .lastInsertRowid,
    );
  }
}
