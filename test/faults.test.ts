import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { createServices } from '../electron/app/services.ts';
import { fillSyntheticCatalog } from './fixtures/syntheticCatalog.ts';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { MIGRATIONS } from '../electron/catalog/migrations.ts';
import { importPhotos } from '../electron/photos/importJob.ts';
import { thumbnailPath } from '../electron/photos/photoPipeline.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { testSet } from './helpers/catalogs.ts';
import { cli, CLI, count, withoutNodeWarnings } from './helpers/cli.ts';
import { withSmallDrive } from './helpers/drives.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { rawDb } from './helpers/rawSql.ts';

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** A catalog as the first released version wrote it (schema 1), with a photo, its prediction, a reviewer's label and an import job. */
function firstVersionCatalog(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0]!);
  db.pragma('user_version = 1');
  db.prepare(
    `INSERT INTO models (id, name, version, dir, created_at, active) VALUES (1, 'resnet9-mini', 'v1', '/models/resnet9-mini', '2026-01-01', 1)`,
  ).run();
  db.prepare(
    `INSERT INTO photos (id, hash, size, format, width, height, name, added_at) VALUES (1, ?, 10, 'jpeg', 800, 1000, 'shirt.jpg', '2026-01-01')`,
  ).run('a'.repeat(64));
  db.prepare('INSERT INTO photo_inputs (photo_id, pixels) VALUES (1, ?)').run(Buffer.alloc(784, 7));
  db.prepare(
    `INSERT INTO photo_paths (photo_id, path, name, size, mtime_ms, seen_at) VALUES (1, '/photos/shirt.jpg', 'shirt.jpg', 10, 0, '2026-01-01')`,
  ).run();
  const probabilities = new Float32Array(10).fill(0.01);
  probabilities[6] = 0.91;
  db.prepare(
    `INSERT INTO predictions (id, photo_id, model_id, label, confidence, probabilities, created_at) VALUES (1, 1, 1, 6, 0.91, ?, '2026-01-01')`,
  ).run(Buffer.from(probabilities.buffer));
  db.prepare(
    'UPDATE photos SET prediction_id = 1, predicted_label = 6, confidence = 0.91, runner_up = 0, margin = 0.9 WHERE id = 1',
  ).run();
  db.prepare(
    `INSERT INTO labels (photo_id, old_label, new_label, reviewer, created_at) VALUES (1, NULL, 0, 'ana', '2026-01-02')`,
  ).run();
  db.prepare(
    `INSERT INTO import_jobs (id, roots, status, walked, created_at) VALUES (1, '["/photos"]', 'done', 1, '2026-01-01')`,
  ).run();
  db.prepare(
    `INSERT INTO import_files (job_id, path, state, photo_id, error) VALUES (1, '/photos/shirt.jpg', 'done', 1, NULL), (1, '/photos/torn.jpg', 'failed', NULL, 'damaged')`,
  ).run();
  db.close();
}

test('a catalog from an older version is migrated on open, and keeps every photo, prediction and label', () => {
  const file = path.join(tempDir('faults-migrate'), 'catalog.sqlite');
  firstVersionCatalog(file);
  const catalog = new Catalog(file);
  try {
    assert.equal(rawDb(catalog).pragma('user_version', { simple: true }), MIGRATIONS.length);
    const detail = catalog.queries.photoDetail(1)!;
    assert.deepEqual(
      [detail.label, detail.predictedLabel, detail.paths, detail.history.map((h) => h.reviewer)],
      [0, 6, ['/photos/shirt.jpg'], ['ana']],
    );
    assert.deepEqual(catalog.queries.categoryCounts(DEFAULT_REVIEW_RULE), {
      perCategory: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      needsReview: 0,
      reviewed: 1,
      total: 1,
    });
    const search = catalog.queries.photoPage({
      queue: 'all',
      search: 'SHIRT',
      sort: 'name',
      descending: false,
      offset: 0,
      limit: 10,
      rule: DEFAULT_REVIEW_RULE,
    });
    assert.deepEqual(
      [search.total, search.tiles.map((t) => t.name)],
      [1, ['shirt.jpg']],
      'the name index is built for the photos already there',
    );
    assert.deepEqual(catalog.imports.jobCounts(1), { found: 2, done: 1, failed: 1, pending: 0 });
    assert.deepEqual(rawDb(catalog).pragma('foreign_key_check'), []);
    assert.equal(rawDb(catalog).pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(rawDb(catalog).prepare('SELECT count(*) FROM sort_jobs').pluck().get(), 0, 'the new tables are there');
  } finally {
    catalog.close();
  }
  // A catalog from a newer version than this one is refused, not damaged.
  const newer = new Database(file);
  newer.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  newer.close();
  assert.throws(
    () => new Catalog(file),
    /this catalog was written by a newer Fashion Sorter \(schema \d+, this version knows \d+\); update the app to open it/,
  );
});

test(
  'a catalog on a read-only drive: a message that says what to do, and the catalog untouched',
  { timeout: 60_000 },
  async (t) => {
    const dir = tempDir('faults-readonly');
    const source = path.join(dir, 'catalog.sqlite');
    firstVersionCatalog(source);
    new Catalog(source).close();
    await withSmallDrive(t, path.join(dir, 'drive'), 'size=4m', async (drive) => {
      fs.copyFileSync(source, path.join(drive, 'catalog.sqlite'));
      const before = sha256(path.join(drive, 'catalog.sqlite'));
      assert.equal(spawnSync('mount', ['-o', 'remount,ro', drive]).status, 0);
      const r = cli(['export', '--db', path.join(drive, 'catalog.sqlite'), '--out', path.join(dir, 'out.csv')]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /cannot open the catalog .*: .* is on a read-only drive, and the catalog needs to keep its journal beside itself; copy the catalog to a writable folder, or fix the folder's permissions/,
      );
      assert.equal(sha256(path.join(drive, 'catalog.sqlite')), before);
    });
  },
);

test('a catalog file the account may not write: refused before anything, with what to do, and nothing written', () => {
  const dir = tempDir('faults-readonly-file');
  const file = path.join(dir, 'catalog.sqlite');
  new Catalog(file).close();
  fs.chmodSync(file, 0o444);
  fs.chmodSync(dir, 0o777);
  const before = sha256(file);
  // root writes every file; run as an ordinary user to see what a user sees.
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
  const dest = path.join(dir, 'sorted');
  for (const args of [
    ['sort', '--db', file, '--dest', dest],
    ['label', '--db', file, '--csv', path.join(dir, 'labels.csv')],
    ['export', '--db', file, '--out', path.join(dir, 'out.csv')],
  ]) {
    fs.writeFileSync(path.join(dir, 'labels.csv'), 'path,label\nSKU-1.jpg,Shirt\n');
    const r = cli(args, { HOME: dir }, asUser);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `error: cannot open the catalog ${file}: the file is read-only for your account (its permissions); make it writable, or copy it to a folder of yours and use the copy\n`,
    );
  }
  assert.equal(fs.existsSync(dest), false, 'no folder was made');
  assert.equal(sha256(file), before);
});

test('a missing model file: the window and the command line say which and what to do', async () => {
  const dir = tempDir('faults-model');
  const broken = path.join(dir, 'resnet9-mini');
  fs.cpSync(defaultModelDir(), broken, { recursive: true });
  fs.rmSync(path.join(broken, 'weights.bin'));
  // A folder with a photo in it: one without any is refused before the model is looked at.
  const photos = path.join(dir, 'photos');
  await writePackshots(testSet.images, 1, photos);
  const r = cli(['classify', photos, '--db', path.join(dir, 'c.sqlite'), '--model', broken], {
    FASHION_SORTER_CACHE: dir,
  });
  assert.equal(r.code, 1);
  assert.ok(!fs.existsSync(path.join(dir, 'c.sqlite')), 'refused before a catalog is made');
  assert.match(
    r.stderr,
    /no model at .*resnet9-mini \(model\.json and weights\.bin are needed\); check --model, or leave it out/,
  );
  fs.rmSync(path.join(broken, 'metrics.json'));
  const services = createServices({
    catalogFile: path.join(dir, 'c.sqlite'),
    thumbnailsDir: path.join(dir, 't'),
    modelDir: broken,
  });
  try {
    const info = await services.api.appInfo();
    assert.equal(info.model, null);
    assert.match(info.modelProblem!, /no model card at .*resnet9-mini/);
    await assert.rejects(services.api.importPaths([photos]), /no model at .*resnet9-mini/);
  } finally {
    await services.close();
  }
});

test('a damaged model (weights cut short, model.json not JSON or not a model): one line that says so and what to do', async () => {
  const dir = tempDir('faults-damaged-model');
  const photos = path.join(dir, 'photos');
  await writePackshots(testSet.images, 1, photos);
  const damaged = path.join(dir, 'resnet9-mini');
  fs.cpSync(defaultModelDir(), damaged, { recursive: true });
  const weights = fs.readFileSync(path.join(damaged, 'weights.bin'));
  fs.writeFileSync(path.join(damaged, 'weights.bin'), weights.subarray(0, 1000));
  const remedy = 'reinstall the app, or make another model version active';
  for (const args of [
    ['evaluate', '--model', damaged],
    ['classify', photos, '--db', path.join(dir, 'c.sqlite'), '--model', damaged],
  ]) {
    const r = cli(args, { FASHION_SORTER_CACHE: dir });
    assert.equal(r.code, 1);
    assert.match(
      withoutNodeWarnings(r.stderr),
      new RegExp(
        `^error: (inference worker failed: )?the model at .*resnet9-mini is damaged: its weights are 1,000 bytes where model\\.json describes ${weights.length.toLocaleString('en-US')}; ${remedy}\n$`,
      ),
    );
  }
  for (const [json, what] of [
    ['{"modelTopology": ', 'model.json is not valid JSON'],
    ['{"garbage": true}', 'model.json is not a TensorFlow.js layers model'],
  ]) {
    fs.writeFileSync(path.join(damaged, 'model.json'), json!);
    const r = cli(['evaluate', '--model', damaged]);
    assert.equal(r.stderr, `error: the model at ${damaged} is damaged: ${what}; ${remedy}\n`);
  }
});

test(
  'a damaged thumbnail cache heals itself: garbage, torn and missing thumbnails are made again from the photos',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('faults-thumbnails');
    const files = await writePackshots(testSet.images, 4, path.join(dir, 'photos'), { seed: 4 });
    const catalogFile = path.join(dir, 'catalog.sqlite');
    const thumbs = path.join(dir, 'thumbs');
    const catalog = new Catalog(catalogFile);
    await importPhotos([path.join(dir, 'photos')], { catalog, thumbnailsDir: thumbs });
    const hashes = files.map((f) => catalog.queries.photoDetail(catalog.queries.photoAtPath(f)!)!.hash);
    catalog.close();
    const thumbnail = (k: number) => thumbnailPath(thumbs, hashes[k]!);
    const good = fs.readFileSync(thumbnail(0));
    fs.writeFileSync(thumbnail(0), 'not a jpeg at all');
    fs.writeFileSync(thumbnail(1), fs.readFileSync(thumbnail(1)).subarray(0, 500));
    fs.rmSync(thumbnail(2));
    fs.writeFileSync(thumbnail(3), 'damaged');
    fs.rmSync(files[3]!); // and its photo is gone too

    const services = createServices({ catalogFile, thumbnailsDir: thumbs });
    try {
      for (const k of [0, 1, 2]) {
        assert.equal(await services.thumbnailFile(hashes[k]!), thumbnail(k));
        const meta = await sharp(thumbnail(k)).metadata();
        assert.equal(meta.format, 'jpeg');
        assert.equal(Math.max(meta.width!, meta.height!), 256);
      }
      assert.deepEqual(fs.readFileSync(thumbnail(0)), good, 'the same thumbnail as the import made');
      assert.equal(
        await services.thumbnailFile(hashes[3]!),
        undefined,
        'no photo, no thumbnail: the grid shows its placeholder',
      );
      const [a, b] = await Promise.all([services.thumbnailFile(hashes[1]!), services.thumbnailFile(hashes[1]!)]);
      assert.equal(a, b);
    } finally {
      await services.close();
    }
  },
);

test(
  'SIGKILL at moments of applying 50,000 reviewed labels: all of them or none, and every photo shows the latest label in its log',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir('faults-review-kill');
    const original = path.join(dir, 'original.sqlite');
    const catalog = new Catalog(original);
    fillSyntheticCatalog(catalog, dir, 50_000);
    catalog.close();
    const csv = path.join(dir, 'labels.csv');
    fs.writeFileSync(
      csv,
      `path,label\n${Array.from({ length: 50_000 }, (_, i) => `photo-${i}.jpg,${(i * 7) % 10}`).join('\n')}\n`,
    );
    /** Photos whose label the CSV changes (photo-i.jpg gets 7i mod 10); only real changes are logged. */
    const toChange = (db: string) => {
      const c = new Catalog(db);
      try {
        const rows = rawDb(c)
          .prepare('SELECT pp.name, p.label FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id')
          .raw()
          .all() as [string, number | null][];
        return rows.filter(([name, label]) => label !== (Number(/photo-(\d+)/.exec(name)![1]) * 7) % 10).length;
      } finally {
        c.close();
      }
    };
    const pending = toChange(original);
    /** Runs the label command on a fresh copy of the catalog, killed after `killAfterMs` (or left to finish). */
    const run = async (name: string, killAfterMs?: number) => {
      const db = path.join(dir, `${name}.sqlite`);
      fs.copyFileSync(original, db);
      const started = performance.now();
      const child = spawn(process.execPath, [...CLI, 'label', '--db', db, '--csv', csv], {
        cwd: projectRoot,
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      return { db, ms: performance.now() - started };
    };
    const full = await run('full');
    assert.equal(toChange(full.db), 0);
    // Kills spread over the command's own run time, the later ones in its last stretch, where it writes.
    const outcomes: string[] = [];
    for (const fraction of [0.3, 0.6, 0.8, 0.9, 0.95, 0.98]) {
      const killed = await run(`killed-${fraction}`, Math.round(full.ms * fraction));
      const added = count(killed.db, 'SELECT count(*) FROM labels') - count(original, 'SELECT count(*) FROM labels');
      outcomes.push(`killed at ${Math.round(100 * fraction)}%: ${added} labels logged`);
      assert.ok(added === 0 || added === pending, `the batch went in whole or not at all (${added} of ${pending})`);
      assert.equal(
        count(
          killed.db,
          `SELECT count(*) FROM photos p WHERE EXISTS (SELECT 1 FROM labels WHERE photo_id = p.id)
      AND p.label IS NOT (SELECT new_label FROM labels WHERE photo_id = p.id ORDER BY id DESC LIMIT 1)`,
        ),
        0,
        'every photo shows its latest logged label',
      );
      assert.equal(toChange(killed.db), added === 0 ? pending : 0);
      assert.equal(count(killed.db, 'PRAGMA integrity_check') as unknown, 'ok');
    }
    t.diagnostic(`${pending} labels to apply, ${Math.round(full.ms)} ms for the whole command; ${outcomes.join('; ')}`);
  },
);
