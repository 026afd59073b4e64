import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { Catalog } from '../electron/catalog/catalog.ts';
import { fillSyntheticCatalog } from './fixtures/syntheticCatalog.ts';
import { APPLICATION_ID, MIGRATIONS } from '../electron/catalog/migrations.ts';
import Database from 'better-sqlite3';
import crypto from 'node:crypto';
import { defaultModelDir } from '../electron/appPaths.ts';
import { loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { startPredictor, type Predictor } from '../electron/ml/inference.ts';
import { exportCsv } from '../electron/export/catalogExport.ts';
import { planSort } from '../electron/export/sortIntoFolders.ts';
import { importPhotos, type ImportProgress, type ImportResult } from '../electron/photos/importJob.ts';
import { thumbnailPath } from '../electron/photos/photoPipeline.ts';
import { walkPhotos, type WalkEntry } from '../electron/photos/walk.ts';
import { renderPackshot, writePackshots } from './fixtures/samplePhotos.ts';
import { pngClaiming, tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { rawDb } from './helpers/rawSql.ts';

const data = await loadFashionMnist({ allowDownload: false });
const image = (i: number) => data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS);
const margins = { top: 20, bottom: 20, left: 30, right: 30 };
const packshot = (i: number, format: 'jpeg' | 'png' = 'jpeg') =>
  renderPackshot(image(i), { garment: 240, margins, format });

let predictor: Predictor;
before(async () => {
  predictor = await startPredictor(defaultModelDir());
});
after(() => predictor.close());

function openCatalog(dir: string) {
  const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
  const model = catalog.models.registerModel({
    name: predictor.name,
    version: predictor.version,
    dir: predictor.modelDir,
    card: {},
  });
  catalog.models.activateModel(model.id);
  return { catalog, model: { predictor, modelId: model.id } };
}

/** Lower case for ASCII letters only, as SQLite's LIKE compares. */
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const count = (catalog: Catalog, sql: string, ...params: unknown[]) =>
  rawDb(catalog)
    .prepare(sql)
    .pluck()
    .get(...params) as number;

describe('a messy folder: every bad file is a recorded error with a reason, and the import goes on', () => {
  const dir = tempDir('messy');
  const photos = path.join(dir, 'photos');
  const reasons = new Map<string, string>();
  let result: ImportResult;
  let catalog: Catalog;
  const progress: ImportProgress[] = [];

  before(
    async () => {
      fs.mkdirSync(path.join(photos, 'nested', 'deeper'), { recursive: true });
      fs.mkdirSync(path.join(photos, 'empty'));
      const jpeg = await packshot(0);
      fs.writeFileSync(path.join(photos, 'good.jpg'), jpeg);
      fs.writeFileSync(
        path.join(photos, 'nested', 'deeper', 'pullover 2 "best" Ünïcödé — ß.png'),
        await packshot(1, 'png'),
      );
      fs.writeFileSync(path.join(photos, 'nested', "it's a copy.jpg"), jpeg); // same bytes: the same photo
      fs.writeFileSync(path.join(photos, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
      fs.writeFileSync(path.join(photos, 'zero.jpg'), Buffer.alloc(0));
      fs.writeFileSync(path.join(photos, 'notes.jpg'), 'this is not a photo\n');
      fs.writeFileSync(path.join(photos, 'bomb.png'), pngClaiming(100_000, 100_000));
      fs.writeFileSync(path.join(photos, '.hidden.jpg'), jpeg);
      fs.writeFileSync(path.join(photos, 'Thumbs.db'), 'x');
      fs.writeFileSync(path.join(photos, 'readme.txt'), 'not a photo');
      fs.symlinkSync(photos, path.join(photos, 'nested', 'loop'));
      fs.symlinkSync('self-loop.jpg', path.join(photos, 'self-loop.jpg'));
      execFileSync('mkfifo', [path.join(photos, 'pipe.jpg')]);
      fs.symlinkSync('/dev/zero', path.join(photos, 'device.jpg'));
      fs.writeFileSync(path.join(photos, 'video.jpg'), '');
      fs.truncateSync(path.join(photos, 'video.jpg'), 600 * 2 ** 20); // sparse: it takes no disk space
      const opened = openCatalog(dir);
      catalog = opened.catalog;
      // A file listed by the walk and deleted before it was read: the job's file list is written first, by a job
      // over the same roots in another order (the import resumes it all the same).
      const roots = [photos, path.join(dir, 'empty-root'), path.join(dir, 'does-not-exist')];
      fs.mkdirSync(roots[1]!);
      const jobId = catalog.imports.createJob([roots[2]!, roots[0]!, roots[1]!]);
      catalog.imports.addFoundFiles(jobId, [path.join(photos, 'deleted.jpg')]);
      result = await importPhotos(roots, {
        catalog,
        predictor: opened.model,
        thumbnailsDir: path.join(dir, 'thumbs'),
        onProgress: (p) => progress.push(p),
      });
      for (const e of result.errors) reasons.set(path.relative(dir, e.path), e.reason);
    },
    { timeout: 120_000 },
  );
  after(() => catalog.close());

  test('the good photos are imported, the copy is the same photo, hidden and system files are skipped', () => {
    assert.equal(result.status, 'done');
    assert.equal(result.resumed, true);
    assert.equal(count(catalog, 'SELECT count(*) FROM photos'), 2);
    assert.equal(count(catalog, 'SELECT count(*) FROM photo_paths'), 3);
    assert.equal(
      count(
        catalog,
        'SELECT count(DISTINCT photo_id) FROM photo_paths WHERE name IN (?, ?)',
        'good.jpg',
        "it's a copy.jpg",
      ),
      1,
    );
    assert.ok(!result.errors.some((e) => /hidden|Thumbs/.test(e.path)));
    assert.equal(result.counts.done, 3);
  });
  test('names with spaces, quotes and unicode are imported under their exact path', () => {
    const name = 'pullover 2 "best" Ünïcödé — ß.png';
    assert.equal(
      count(
        catalog,
        'SELECT count(*) FROM photo_paths WHERE name = ? AND path = ?',
        name,
        path.join(photos, 'nested', 'deeper', name),
      ),
      1,
    );
  });
  test('a truncated JPEG', () => assert.match(reasons.get('photos/truncated.jpg')!, /damaged or incomplete/));
  test('a 0-byte file', () => assert.match(reasons.get('photos/zero.jpg')!, /empty \(0 bytes\)/));
  test('a text file named .jpg', () =>
    assert.equal(
      reasons.get('photos/notes.jpg'),
      'not an image: the file holds text (its name says photo, its content does not)',
    ));
  test('a text file named as one: reported too, as every file not imported is, without a word about its name', () =>
    assert.equal(reasons.get('photos/readme.txt'), 'not an image: the file holds text'));
  test('a PNG claiming 100,000×100,000 pixels', () =>
    assert.match(reasons.get('photos/bomb.png')!, /larger than 268 megapixels/));
  test('a file deleted between listing and reading', () =>
    assert.match(reasons.get('photos/deleted.jpg')!, /disappeared after it was found/));
  test('a symlink loop', () => {
    assert.match(reasons.get('photos/nested/loop')!, /link loop/);
    assert.match(reasons.get('photos/self-loop.jpg')!, /points to itself/);
  });
  test('a named pipe and a link to a device are refused unread (reading either would hold the import forever)', () => {
    assert.equal(reasons.get('photos/pipe.jpg'), 'not a photo file but a named pipe; it was not read');
    assert.equal(reasons.get('photos/device.jpg'), 'not a photo file but a device; it was not read');
  });
  test('a 600 MB file named .jpg is refused unread', () =>
    assert.match(
      reasons.get('photos/video.jpg')!,
      /^the file is 600 MB, more than any photo \(the limit is 512 MB\); it was not read/,
    ));
  test('an empty folder', () => assert.match(reasons.get('empty-root')!, /holds no photos/));
  test('a path that does not exist', () => assert.match(reasons.get('does-not-exist')!, /does not exist/));
  test('every imported photo has a prediction with its probabilities, model version and time, and a thumbnail', () => {
    const rows = rawDb(catalog)
      .prepare(
        'SELECT p.hash, r.probabilities, r.created_at, m.version FROM photos p JOIN predictions r ON r.id = p.prediction_id JOIN models m ON m.id = r.model_id',
      )
      .all() as { hash: string; probabilities: Buffer; created_at: string; version: string }[];
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const probs = new Float32Array(
        row.probabilities.buffer.slice(row.probabilities.byteOffset, row.probabilities.byteOffset + 40),
      );
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
      assert.equal(row.version, predictor.version);
      assert.ok(!Number.isNaN(Date.parse(row.created_at)));
      assert.ok(fs.statSync(thumbnailPath(path.join(dir, 'thumbs'), row.hash)).size > 100);
    }
  });
  test('progress is reported while it goes (found, done, failed, rate)', () => {
    const last = progress.at(-1)!;
    assert.equal(last.found, result.counts.found);
    assert.equal(last.done + last.failed, last.found);
    assert.ok(progress.some((p) => p.phase === 'importing' && p.photosPerSecond >= 0));
  });
  test('the catalog is consistent: foreign keys hold and nothing is pending', () => {
    assert.deepEqual(rawDb(catalog).pragma('foreign_key_check'), []);
    assert.equal(rawDb(catalog).pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(result.counts.pending, 0);
  });
});

describe('the catalog', () => {
  test('is WAL with foreign keys, at the newest schema version, and its label log is append-only', () => {
    const dir = tempDir('catalog');
    const { catalog } = openCatalog(dir);
    try {
      assert.equal(rawDb(catalog).pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(rawDb(catalog).pragma('foreign_keys', { simple: true }), 1);
      assert.equal(rawDb(catalog).pragma('user_version', { simple: true }), MIGRATIONS.length);
      const photoId = Number(
        rawDb(catalog)
          .prepare(
            `INSERT INTO photos (hash, size, format, width, height, name, added_at) VALUES ('h', 1, 'png', 1, 1, 'h.png', 'now')`,
          )
          .run().lastInsertRowid,
      );
      rawDb(catalog)
        .prepare(
          `INSERT INTO labels (photo_id, old_label, new_label, reviewer, created_at) VALUES (?, NULL, 6, 'ana', 'now')`,
        )
        .run(photoId);
      assert.equal(count(catalog, 'SELECT label FROM photos WHERE id = ?', photoId), 6);
      assert.throws(() => rawDb(catalog).prepare('UPDATE labels SET new_label = 0').run(), /append-only/);
      assert.throws(() => rawDb(catalog).prepare('DELETE FROM labels').run(), /append-only/);
      assert.throws(
        () =>
          rawDb(catalog)
            .prepare(`INSERT INTO labels (photo_id, new_label, reviewer, created_at) VALUES (999, 1, 'x', 'now')`)
            .run(),
        /FOREIGN KEY/,
      );
    } finally {
      catalog.close();
    }
  });
  test('its kept counts and name index agree with a full count after predictions, relabels, a discarded model and renamed files', () => {
    const dir = tempDir('catalog-counts');
    const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
    try {
      const { jobId } = fillSyntheticCatalog(catalog, dir, 3000);
      // Unpredicted photos, and names that LIKE and the trigram index read differently.
      const odd = ['50% off_sale.JPG', 'Hemd "blau".jpg', 'Ärmel-ärmel.png', 'ab'];
      catalog.imports.addFoundFiles(
        jobId,
        odd.map((name) => path.join(dir, name)),
      );
      const found = catalog.imports.pendingFiles(jobId, 0, 10);
      catalog.imports.storePhotos(
        found.map((f, i) => ({
          fileId: f.id,
          path: f.path,
          hash: `odd${i}`.padEnd(64, '0'),
          size: 1,
          mtimeMs: 0,
          format: 'jpeg',
          width: 1,
          height: 1,
          pixels: new Uint8Array(PIXELS),
        })),
      );
      const random = seededRandom(8);
      const ids = rawDb(catalog).prepare('SELECT id FROM photos ORDER BY id').pluck().all() as number[];
      const vector = () => {
        const p = new Float32Array(10).map(() => random());
        const sum = p.reduce((a, b) => a + b, 0);
        return p.map((x) => x / sum);
      };
      const newer = catalog.models.registerModel({ name: 'newer', version: 'newer', dir, card: {} });
      catalog.predictions.storePredictions(
        newer.id,
        ids.filter(() => random() < 0.3).map((photoId) => ({ photoId, probabilities: vector() })),
      );
      const candidate = catalog.models.registerModel({ name: 'candidate', version: 'candidate', dir, card: {} });
      catalog.predictions.storePredictions(
        candidate.id,
        ids.slice(0, 500).map((photoId) => ({ photoId, probabilities: vector() })),
        false,
      );
      catalog.models.deleteModel(candidate.id);
      catalog.labels.setLabels(
        ids
          .filter(() => random() < 0.1)
          .map((photoId) => ({ photoId, label: random() < 0.2 ? null : Math.floor(random() * 10) })),
        'ana',
      );
      // The same photo found again under another name.
      catalog.imports.addFoundFiles(jobId, [path.join(dir, 'renamed-4242.jpg')]);
      const [renamed] = catalog.imports.pendingFiles(jobId, 0, 10);
      catalog.imports.storePhotos([
        {
          fileId: renamed!.id,
          path: renamed!.path,
          hash: (7).toString(16).padStart(64, '0'),
          size: 1,
          mtimeMs: 0,
          format: 'jpeg',
          width: 1,
          height: 1,
          pixels: new Uint8Array(PIXELS),
        },
      ]);

      type Row = {
        id: number;
        name: string;
        category: number | null;
        label: number | null;
        confidence: number | null;
        needsReview: number;
      };
      const rows = rawDb(catalog)
        .prepare(
          `SELECT id, name, category, label, confidence,
        label IS NULL AND (confidence < 0.7 OR (predicted_label IN (0, 2, 4, 6) AND runner_up IN (0, 2, 4, 6) AND margin < 0.3)) AS needsReview FROM photos`,
        )
        .all() as Row[];
      const counts = catalog.queries.categoryCounts(DEFAULT_REVIEW_RULE);
      assert.deepEqual(counts, {
        perCategory: Array.from({ length: 10 }, (_, k) => rows.filter((r) => r.category === k).length),
        total: rows.length,
        reviewed: rows.filter((r) => r.label !== null).length,
        needsReview: rows.filter((r) => r.needsReview).length,
      });
      const inQueue = {
        all: () => true,
        reviewed: (r: Row) => r.label !== null,
        needsReview: (r: Row) => r.needsReview === 1,
      };
      for (const queue of ['all', 'reviewed', 'needsReview'] as const) {
        for (const category of [undefined, 0, 6, 9]) {
          const page = catalog.queries.photoPage({
            queue,
            category,
            sort: 'confidence',
            descending: false,
            offset: 0,
            limit: 1000,
            rule: DEFAULT_REVIEW_RULE,
          });
          const expected = rows.filter((r) => inQueue[queue](r) && (category === undefined || r.category === category));
          assert.equal(page.total, expected.length, `${queue}, category ${category}`);
          assert.deepEqual(
            page.tiles.map((t) => t.id),
            expected
              .sort((a, b) => (a.confidence ?? -1) - (b.confidence ?? -1) || a.id - b.id)
              .slice(0, 1000)
              .map((r) => r.id),
          );
        }
      }
      assert.deepEqual(catalog.imports.jobCounts(jobId), { found: 3005, done: 3005, failed: 0, pending: 0 });
      // A search is a case-insensitive (ASCII) substring of the name, whatever the index does.
      for (const search of [
        '4242',
        '-424',
        'PHOTO-12',
        '% off',
        'off_s',
        '"blau"',
        'ärmel',
        'Ärmel',
        'ab',
        'b',
        'photo-7.jpg',
      ]) {
        const page = catalog.queries.photoPage({
          queue: 'all',
          search,
          sort: 'name',
          descending: false,
          offset: 0,
          limit: 1000,
          rule: DEFAULT_REVIEW_RULE,
        });
        const expected = rows
          .filter((r) => asciiLower(r.name).includes(asciiLower(search)))
          .map((r) => r.name)
          .sort();
        assert.deepEqual(
          page.tiles.map((t) => t.name),
          expected,
          search,
        );
        assert.equal(page.total, expected.length, search);
      }
      assert.equal(
        rawDb(catalog)
          .prepare(`SELECT count(*) FROM photo_names WHERE photo_names MATCH '"photo-7.jpg"'`)
          .pluck()
          .get(),
        0,
        'the old name is out of the index',
      );
      // FTS5's own check of the index against the photos table (it throws on any difference).
      rawDb(catalog).prepare(`INSERT INTO photo_names (photo_names, rank) VALUES ('integrity-check', 1)`).run();
    } finally {
      catalog.close();
    }
  });
  test('refuses a catalog from a newer version of the app with a clear message', () => {
    const dir = tempDir('newer');
    openCatalog(dir).catalog.close();
    const file = path.join(dir, 'catalog.sqlite');
    const { catalog } = openCatalog(dir);
    rawDb(catalog).pragma('user_version = 99');
    catalog.close();
    assert.throws(() => new Catalog(file), /newer Fashion Sorter \(schema 99/);
  });
  test("refuses another program's database, or a file that is not one, and leaves its bytes as they were", () => {
    const dir = tempDir('foreign');
    const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const other = path.join(dir, 'photos-manager.sqlite');
    const theirs = new Database(other);
    theirs.exec(`CREATE TABLE albums (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO albums (name) VALUES ('x')`);
    theirs.close();
    const stamped = path.join(dir, 'stamped.sqlite');
    const app = new Database(stamped);
    app.pragma('application_id = 1234');
    app.close();
    const image = path.join(dir, 'not-a-db.sqlite');
    fs.writeFileSync(image, Buffer.alloc(4096, 7));
    for (const [file, reason] of [
      [other, /cannot be used as a catalog: it is a SQLite database with other tables \(albums\).*left as it was/],
      [stamped, /cannot be used as a catalog: it is another program's SQLite database \(application id 1234\)/],
      [image, /not a SQLite database \(not a Fashion Sorter catalog\); it was left as it was/],
    ] as const) {
      const before = sha(file);
      assert.throws(() => new Catalog(file), reason);
      assert.equal(sha(file), before, `${file} unchanged`);
      assert.ok(!fs.existsSync(`${file}-wal`), `${file}: no journal beside it`);
    }
    assert.throws(() => new Catalog(dir), /it is a folder/);
  });
  test('a new catalog carries its application id, and one made before the id existed is known by its schema', () => {
    const dir = tempDir('appid');
    const { catalog } = openCatalog(dir);
    const file = path.join(dir, 'catalog.sqlite');
    assert.equal(rawDb(catalog).pragma('application_id', { simple: true }), APPLICATION_ID);
    rawDb(catalog).pragma('application_id = 0');
    catalog.close();
    const reopened = new Catalog(file);
    try {
      assert.equal(reopened.models.activeModel()?.version, predictor.version);
    } finally {
      reopened.close();
    }
  });
});

/** A fresh folder of `count` generated photos and a catalog for it (closed after the test file). */
async function folderAndCatalog(prefix: string, count: number) {
  const dir = tempDir(prefix);
  const photos = path.join(dir, 'photos');
  await writePackshots(data.test.images, count, photos);
  const { catalog, model } = openCatalog(dir);
  after(() => catalog.close());
  return { dir, photos, catalog, options: { catalog, predictor: model, thumbnailsDir: path.join(dir, 'thumbs') } };
}

test('an unfinished import ends when a finished one has walked all its folders (a parent folder), not when it has walked only some', async () => {
  const { dir, photos, catalog, options } = await folderAndCatalog('covered-jobs', 2);
  const sub = path.join(photos, 'sub');
  fs.mkdirSync(sub);
  const elsewhere = path.join(dir, 'elsewhere');
  fs.mkdirSync(elsewhere);
  // Two imports killed after finding their files: one of the subfolder, one of it and another folder.
  const inside = catalog.imports.createJob([sub]);
  const across = catalog.imports.createJob([sub, elsewhere]);
  const result = await importPhotos([photos], options);
  assert.equal(result.status, 'done');
  assert.equal(result.resumed, false);
  assert.deepEqual(
    catalog.imports.unfinishedJobs().map((job) => job.id),
    [across],
  );
  assert.equal(count(catalog, 'SELECT status FROM import_jobs WHERE id = ?', inside) as unknown, 'cancelled');
});

test('a root inside another root, or given twice, is walked once and is not reported as empty', async () => {
  const dir = tempDir('nested-roots');
  fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'a', 'b', 'x.jpg'), 'x');
  fs.writeFileSync(path.join(dir, 'a', 'y.jpg'), 'y');
  const entries: WalkEntry[] = [];
  for await (const entry of walkPhotos([path.join(dir, 'a'), path.join(dir, 'a', 'b'), path.join(dir, 'a')]))
    entries.push(entry);
  assert.deepEqual(entries, [
    { type: 'file', path: path.join(dir, 'a', 'b', 'x.jpg') },
    { type: 'file', path: path.join(dir, 'a', 'y.jpg') },
  ]);
});

test('a folder nested past the longest path the system allows is an error of its own: the photo beside it is imported, the job finishes, and so does a rerun', async () => {
  const { photos, catalog, options } = await folderAndCatalog('too-deep', 1);
  // 18 folders of 250-byte names, a photo at the bottom: made one level at a time (a shell's cd), as no
  // single path may name it; removed the same way (rm works relative to each folder, Node's rmSync does not).
  const level = 'd'.repeat(250);
  execFileSync('bash', [
    '-c',
    `cd "$1" && for i in $(seq 18); do mkdir "$2" && cd "$2"; done && cp "$1/photo-00000.jpg" bottom.jpg`,
    '-',
    photos,
    level,
  ]);
  try {
    const firstUnresolvable =
      photos + `${path.sep}${level}`.repeat(Math.floor((4096 - photos.length) / (level.length + 1)) + 1);
    for (const run of [1, 2]) {
      const result = await importPhotos([photos], options);
      assert.equal(result.status, 'done', `run ${run}`);
      assert.equal(result.counts.done, 1);
      assert.deepEqual(result.errors, [
        {
          path: firstUnresolvable,
          reason:
            "cannot open this folder: the path is longer than the system allows; move it nearer the top of the drive, or shorten its folders' names",
        },
      ]);
      assert.equal(count(catalog, 'SELECT status FROM import_jobs WHERE id = ?', result.jobId) as unknown, 'done');
    }
  } finally {
    execFileSync('rm', ['-rf', path.join(photos, level)]);
  }
});

test('the catalog and the thumbnail cache inside a folder being imported are neither imported nor reported', async () => {
  const { dir, catalog, options } = await folderAndCatalog('own-files', 2);
  for (const run of [1, 2]) {
    const result = await importPhotos([dir], options);
    assert.deepEqual(result.errors, [], `run ${run}`);
    assert.equal(result.counts.done, 2);
  }
  assert.equal(count(catalog, 'SELECT count(*) FROM photos'), 2);
});

test("walking a folder of 1,200 files lets the main thread's event loop turn between batches of found files", async () => {
  const dir = tempDir('walk-turns');
  const photos = path.join(dir, 'photos');
  fs.mkdirSync(photos);
  for (let i = 0; i < 1200; i++) fs.writeFileSync(path.join(photos, `p${String(i).padStart(4, '0')}.jpg`), '');
  const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
  // Counts turns of the event loop: an immediate that queues itself again.
  let turns = 0;
  let spinning = true;
  const spin = () => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const turnsAtFindingReports: number[] = [];
  try {
    await importPhotos([photos], {
      catalog,
      thumbnailsDir: path.join(dir, 'thumbnails'),
      onProgress: (p) => {
        if (p.phase === 'finding') turnsAtFindingReports.push(turns);
      },
    });
  } finally {
    spinning = false;
    catalog.close();
  }
  assert.ok(turnsAtFindingReports.length >= 2, `reports while finding: ${turnsAtFindingReports.length}`);
  for (let i = 1; i < turnsAtFindingReports.length; i++) {
    assert.ok(
      turnsAtFindingReports[i]! > turnsAtFindingReports[i - 1]!,
      `the event loop turned between finding reports ${i} and ${i + 1} (turns ${turnsAtFindingReports.join(', ')})`,
    );
  }
});

describe('importing again', () => {
  test('the same folder twice adds no photo; a photo moved to a new path is the same photo at its new path', async () => {
    const { dir, photos, catalog, options } = await folderAndCatalog('again', 12);
    const first = await importPhotos([photos], options);
    assert.equal(first.predicted, 12);
    const second = await importPhotos([photos], options);
    assert.equal(second.counts.done, 12);
    assert.equal(second.predicted, 0, 'nothing to predict again');
    fs.mkdirSync(path.join(dir, 'moved'));
    fs.renameSync(path.join(photos, 'photo-00003.png'), path.join(dir, 'moved', 'renamed.png'));
    await importPhotos([path.join(dir, 'moved')], options);
    assert.equal(count(catalog, 'SELECT count(*) FROM photos'), 12);
    assert.equal(
      count(
        catalog,
        `SELECT count(*) FROM photo_paths WHERE photo_id = (SELECT photo_id FROM photo_paths WHERE name = 'renamed.png')`,
      ),
      2,
    );
  });

  test('a file replaced by other content: the new content is a photo of its own, the import names a reviewed file so replaced; the old one keeps its label and its row in the CSV, without a path, and the sort names it', async () => {
    const { dir, photos, catalog, options } = await folderAndCatalog('replaced', 3);
    await importPhotos([photos], options);
    const [first, second] = ['photo-00000.jpg', 'photo-00001.png'].map((name) => path.join(photos, name)) as [
      string,
      string,
    ];
    const oldHash = count(
      catalog,
      'SELECT p.hash FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id WHERE pp.path = ?',
      first,
    ) as unknown as string;
    catalog.labels.setLabels([{ photoId: catalog.queries.photoAtPath(first)!, label: 6 }], 'ana');
    fs.copyFileSync(second, first); // edited in place: other bytes at the same path
    const again = await importPhotos([photos], options);
    assert.deepEqual(again.reviewedReplaced, [first], 'the reviewed file that holds other content now is named');
    assert.equal(
      count(catalog, 'SELECT label FROM photos WHERE hash = ?', oldHash),
      6,
      'the earlier image keeps its label',
    );
    assert.equal(
      count(catalog, 'SELECT count(*) FROM photos'),
      3,
      'the copy is the same photo as the second file; the old content stays',
    );
    assert.equal(
      count(
        catalog,
        'SELECT count(*) FROM photo_paths WHERE photo_id = (SELECT id FROM photos WHERE hash = ?)',
        oldHash,
      ),
      0,
    );

    const csv = path.join(dir, 'catalog.csv');
    // A row per file: the second photo's content is at two paths now; the old photo has one row, without a path.
    assert.equal(
      await exportCsv(catalog, csv, {
        format: 'catalog',
        selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE },
        bom: false,
      }),
      4,
    );
    const rows = parse(fs.readFileSync(csv), { columns: true }) as Record<string, string>[];
    const old = rows.find((row) => row.hash === oldHash)!;
    assert.deepEqual(
      [old.path, old.relative_path, old.file_name, old.files_with_same_image],
      ['', '', 'photo-00000.jpg', '0'],
    );
    assert.equal(rows.filter((row) => row.path !== '').length, 3);

    const plan = await planSort(catalog, {
      dest: path.join(dir, 'sorted'),
      mode: 'copy',
      selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE },
    });
    assert.equal(plan.photos, 3);
    assert.equal(plan.distinctPhotos, 2);
    assert.deepEqual(
      plan.unavailable.map((u) => u.path),
      ['photo-00000.jpg'],
    );
    assert.match(
      plan.unavailable[0]!.reason,
      /^no file: an import found every file it had deleted, renamed or holding other content/,
    );
  });

  test('files deleted or renamed since an earlier import: importing the folder again forgets them and finds a renamed one under its new name; labels stay, and a missing folder or a cancelled import forgets nothing', async () => {
    const { dir, photos, catalog, options } = await folderAndCatalog('gone', 4);
    const names = fs.readdirSync(photos).sort();
    const at = (name: string) => path.join(photos, name);
    const other = path.join(dir, 'other');
    await writePackshots(data.test.images.subarray(4 * PIXELS), 1, other);
    await importPhotos([photos, other], options);
    const paths = () => rawDb(catalog).prepare('SELECT path FROM photo_paths ORDER BY path').pluck().all() as string[];
    const photoOf = (file: string) => catalog.queries.photoAtPath(file)!;
    const [deleted, renamed] = [photoOf(at(names[0]!)), photoOf(at(names[1]!))];
    catalog.labels.setLabels([{ photoId: deleted, label: 3 }], 'ana');

    fs.rmSync(at(names[0]!));
    fs.renameSync(at(names[1]!), at(`renamed-${names[1]}`));
    // Cancelled before it begins: nothing is forgotten.
    const cancelled = await importPhotos([photos], { ...options, signal: AbortSignal.abort() });
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.gone, 0);
    assert.ok(paths().includes(at(names[0]!)));
    // A chosen folder that is not there (a drive not plugged in) says nothing about the files it held.
    const unplugged = path.join(dir, 'unplugged');
    fs.renameSync(other, unplugged);
    const without = await importPhotos([other], options);
    assert.equal(without.gone, 0);
    fs.renameSync(unplugged, other);

    const result = await importPhotos([photos], options);
    assert.equal(result.status, 'done');
    assert.equal(result.gone, 2, "the deleted file and the renamed one's old name");
    const left = paths();
    assert.equal(left.includes(at(names[0]!)) || left.includes(at(names[1]!)), false);
    assert.equal(photoOf(at(`renamed-${names[1]}`)), renamed, 'the renamed file is the same photo under its new name');
    assert.equal(left.filter((p) => p.startsWith(other)).length, 1, 'files under folders not imported again are kept');
    assert.equal(
      count(catalog, 'SELECT label FROM photos WHERE id = ?', deleted),
      3,
      'the deleted photo keeps its label',
    );
    assert.equal(catalog.queries.fileCount(), 4);
    const again = await importPhotos([photos], options);
    assert.equal(again.gone, 0);
  });

  test('a cancelled import stops cleanly, and importing again completes it with every photo once', async () => {
    const { photos, catalog, options: base } = await folderAndCatalog('cancel', 60);
    const cancel = new AbortController();
    const options = { ...base, inFlight: 2 };
    const cancelled = await importPhotos([photos], {
      ...options,
      signal: cancel.signal,
      // The first report while importing comes after the first photo; later ones at most every 200 ms, by which
      // time a fast machine has converted all 60 small photos (a count of done photos raced them).
      onProgress: (p) => {
        if (p.phase === 'importing') cancel.abort();
      },
    });
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(cancelled.counts.done < 60, `stopped early (${cancelled.counts.done} done)`);
    assert.equal(
      count(catalog, `SELECT status FROM import_jobs WHERE id = ?`, cancelled.jobId) as unknown,
      'cancelled',
    );
    const finished = await importPhotos([photos], options);
    assert.equal(finished.status, 'done');
    assert.equal(count(catalog, 'SELECT count(*) FROM photos'), 60);
    assert.equal(count(catalog, 'SELECT count(*) FROM photos WHERE prediction_id IS NULL'), 0);
  });
});
