import type Database from 'better-sqlite3';
import type {
  Page,
  PageQuery,
  PhotoDetail,
  PhotoSelection,
  PhotoTile,
  QueueCounts,
  ReviewRule,
  SelectionCounts,
  LabelEvent,
} from '../../contract/api.ts';
import { HARD_GROUP, NUM_CLASSES } from '../../contract/categories.ts';
import { DEFAULT_REVIEW_RULE, NOVELTY_LIMIT } from '../../contract/review.ts';
import { comparable } from './migrations.ts';

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

/** What the window and the exports ask of the catalog: counts, pages of the grid, one photo, the files of a selection. */
export class WindowQueries {
  /** Over the catalog's connection: Catalog makes one of each. */
  constructor(private readonly db: Database.Database) {}

  /** How many files the catalog knows (two with the same bytes are two files of one photo); kept by triggers. */
  fileCount(): number {
    return this.db.prepare('SELECT files FROM file_count WHERE id = 0').pluck().get() as number;
  }

  /**
   * Photos per current category (a reviewer's label wins over the prediction) within `queue`, and the review
   * queues' sizes.
   */
  categoryCounts(
    rule: ReviewRule = DEFAULT_REVIEW_RULE,
    queue: PageQuery['queue'] = 'all',
  ): {
    perCategory: number[];
    needsReview: number;
    reviewed: number;
    total: number;
  } {
    const rows = this.categoryTotals();
    const inQueue = {
      all: (k: number) => rows[k + 1]!.reviewed + rows[k + 1]!.unreviewed,
      reviewed: (k: number) => rows[k + 1]!.reviewed,
      // An unreviewed photo's category is its prediction.
      needsReview: (k: number) => this.needsReviewCount(rule, k),
    }[queue];
    return {
      perCategory: Array.from({ length: NUM_CLASSES }, (_, k) => inQueue(k)),
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
      one(
        `SELECT count(*) FROM photos WHERE removal_id IS NULL AND label IS NULL AND confidence < @minConfidence ${inCategory}`,
      ) +
      one(`SELECT count(*) FROM photos WHERE removal_id IS NULL AND label IS NULL AND margin < @hardGroupMargin AND confidence >= @minConfidence
          AND predicted_label IN (${hardGroup}) AND runner_up IN (${hardGroup}) ${inCategory}`) +
      one(`SELECT count(*) FROM photos WHERE removal_id IS NULL AND label IS NULL AND novelty >= @noveltyLimit AND confidence >= @minConfidence
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
    // Removed photos (catalog/removals.ts) are in no query; the indexes are partial on this condition.
    const where: string[] = ['removal_id IS NULL'];
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

  /**
   * A page of photos for the grid: one queue, optionally one category and a name filter, sorted; photos newer
   * than the query's `appendAfter` (imported while the grid shows the order) follow the others by id, so
   * that an import appends tiles instead of shuffling them in.
   */
  photoPage(query: PageQuery): Page {
    const { filter, order, params } = this.querySql(query);
    const newest = (this.db.prepare('SELECT max(id) FROM photos').pluck().get() as number | null) ?? 0;
    const appendAfter = query.appendAfter ?? newest;
    const total = this.countMatching(query, filter, params);
    // The offset is skipped in the sort's index alone (ids only); the tiles' columns are read for one page.
    const part = (where: string, partOrder: string, offset: number, limit: number) =>
      this.db
        .prepare(
          `SELECT ${TILE_COLUMNS} FROM photos WHERE id IN (SELECT id FROM photos ${where} ORDER BY ${partOrder} LIMIT @limit OFFSET @offset)
      ORDER BY ${partOrder}`,
        )
        .all({ ...params, appendAfter, limit, offset }) as PhotoTile[];
    if (appendAfter >= newest) return { total, tiles: part(filter, order, query.offset, query.limit), appendAfter };
    const and = (condition: string) => (filter ? `${filter} AND ${condition}` : `WHERE ${condition}`);
    // The newer photos are few (one import's): counted by id range, they split the page in two.
    const appended = this.db
      .prepare(`SELECT count(*) FROM photos ${and('id > @appendAfter')}`)
      .pluck()
      .get({ ...params, appendAfter }) as number;
    const before = total - appended;
    const tiles =
      query.offset < before
        ? part(and('id <= @appendAfter'), order, query.offset, Math.min(query.limit, before - query.offset))
        : [];
    const left = query.limit - tiles.length;
    if (left > 0) tiles.push(...part(and('id > @appendAfter'), 'id', Math.max(0, query.offset - before), left));
    return { total, tiles, appendAfter };
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
      (this.db
        .prepare(
          'SELECT count(DISTINCT photo_id) FROM photo_paths WHERE photo_id NOT IN (SELECT id FROM photos WHERE removal_id IS NOT NULL)',
        )
        .pluck()
        .get() as number) < this.categoryTotals().reduce((n, r) => n + r.reviewed + r.unreviewed, 0);
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

  /** The folders sorts sorted photos into. */
  sortDestinations(): string[] {
    return this.db.prepare('SELECT DISTINCT dest FROM sort_jobs').pluck().all() as string[];
  }

  /** The folders photos were imported from and sorted into: what an export's relative paths are relative to. */
  photoRoots(): string[] {
    return [...new Set([...this.importRoots(), ...this.sortDestinations()])];
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
    return this.photoWithHash(hash) !== undefined;
  }

  /** The photo with this content hash (sha256 of its file, 64 lowercase hex digits), if the catalog has it. */
  photoWithHash(hash: string): number | undefined {
    return this.db.prepare('SELECT id FROM photos WHERE hash = ?').pluck().get(hash) as number | undefined;
  }
}

const hardGroup = HARD_GROUP.join(', ');
const TILE_COLUMNS = 'id, hash, name, category, predicted_label AS predictedLabel, confidence, label, novelty';
/** The named parameters needsReviewSql reads: a review rule's and the novelty limit. */
export const reviewParams = (rule: ReviewRule) => ({ ...rule, noveltyLimit: NOVELTY_LIMIT });

/**
 * SQL for "this prediction needs a reviewer" (named parameters: @minConfidence, @hardGroupMargin, @noveltyLimit):
 * unsure, torn within the hard group, or a photo unlike the model's training images however sure it is.
 */
export const needsReviewSql = `(confidence < @minConfidence OR (predicted_label IN (${hardGroup}) AND runner_up IN (${hardGroup}) AND margin < @hardGroupMargin)
  OR novelty >= @noveltyLimit)`;
