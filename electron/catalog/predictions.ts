import type Database from 'better-sqlite3';
import { NUM_CLASSES } from '../../contract/categories.ts';

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

/** Each model's predictions for the photos; the current one per photo is copied onto its row for the window's queries. */
export class Predictions {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

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

  /** A photo's current predicted label (null before any prediction). */
  predictedLabel(photoId: number): number | null {
    return this.db.prepare('SELECT predicted_label FROM photos WHERE id = ?').pluck().get(photoId) as number | null;
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
}
