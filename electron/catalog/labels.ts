import type Database from 'better-sqlite3';
import type { LabelChange } from '../../contract/api.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';
import { PIXELS } from '../dataset/fashionMnist.ts';

const now = () => new Date().toISOString();

/** The reviewers' labels: an append-only log (a trigger keeps each photo's current label), and what learning reads of it. */
export class Labels {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

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

  /**
   * Every reviewed photo's 28×28 input and current human label, by photo id: what fine-tuning learns from (removed photos left out); and
   * `logId`, the label log's last entry they include (read together, so later reviews are told apart).
   */
  labeledInputs(): { photoIds: number[]; pixels: Uint8Array; labels: Uint8Array; logId: number } {
    const { rows, logId } = this.db.transaction(() => ({
      rows: this.db
        .prepare(
          `SELECT p.id, p.label, i.pixels FROM photos p JOIN photo_inputs i ON i.photo_id = p.id
      WHERE p.label IS NOT NULL AND p.removal_id IS NULL ORDER BY p.id`,
        )
        .raw()
        .all() as [number, number, Buffer][],
      logId: this.lastLogId(),
    }))();
    const pixels = new Uint8Array(rows.length * PIXELS);
    rows.forEach(([, , input], i) => pixels.set(input, i * PIXELS));
    return { photoIds: rows.map(([id]) => id), pixels, labels: Uint8Array.from(rows, ([, label]) => label), logId };
  }

  /** The id of the label log's last entry (0 for an empty log): a mark that later reviews come after. */
  lastLogId(): number {
    return this.db.prepare('SELECT coalesce(max(id), 0) FROM labels').pluck().get() as number;
  }

  /** How many photos have another label now than at log entry `logId` (set, changed or cleared since, and not undone). */
  photosReviewedSince(logId: number): number {
    // A photo counts where its label now differs from what it was at the mark (the old label of its first entry
    // after it): a review undone since, back to what it was, is no new review.
    return this.db
      .prepare(
        `SELECT count(*) FROM (SELECT photo_id, min(id) AS first FROM labels WHERE id > ? GROUP BY photo_id) s
        JOIN labels f ON f.id = s.first JOIN photos p ON p.id = s.photo_id WHERE p.label IS NOT f.old_label`,
      )
      .pluck()
      .get(logId) as number;
  }

  /**
   * Per category the model `modelId` predicted: how many of those photos reviewers labeled, and how many of
   * them it got right (the reviewer's label is its prediction). Photos in `exclude` (the ones a fine-tuned
   * version learned from) are left out.
   */
  agreement(modelId: number, exclude: readonly number[] = []): { reviewed: number; agreed: number }[] {
    const out = Array.from({ length: NUM_CLASSES }, () => ({ reviewed: 0, agreed: 0 }));
    for (const row of this.db
      .prepare(
        `SELECT r.label AS k, count(*) AS reviewed, sum(p.label = r.label) AS agreed
      FROM photos p JOIN predictions r ON r.photo_id = p.id AND r.model_id = ?
      WHERE p.label IS NOT NULL AND p.removal_id IS NULL AND p.id NOT IN (SELECT value FROM json_each(?)) GROUP BY r.label`,
      )
      .all(modelId, JSON.stringify(exclude)) as { k: number; reviewed: number; agreed: number }[]) {
      out[row.k] = { reviewed: row.reviewed, agreed: row.agreed };
    }
    return out;
  }
}
