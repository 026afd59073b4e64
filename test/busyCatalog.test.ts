import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createServices } from '../electron/app/services.ts';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { Catalog, CatalogBusyError } from '../electron/catalog/catalog.ts';
import { MIGRATIONS } from '../electron/catalog/migrations.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { DEFAULT_FINETUNE_OPTIONS, MIN_LABELS } from '../electron/ml/fineTune.ts';
import { modelVersion } from '../electron/ml/inference.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { sortPhotos, type SortProgress } from '../electron/export/sortIntoFolders.ts';
import { importPhotos, type ImportProgress } from '../electron/photos/importJob.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { filesByHash, labeledCatalog, testSet } from './helpers/catalogs.ts';
import { openRenderer, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { cli, CLI, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

/**
 * Another program holding a write transaction on the catalog (`BEGIN IMMEDIATE`, as a database browser
 * with unsaved edits does) for `seconds`, or until it is killed. Resolves once it holds the lock.
 */
async function holdWriteLock(db: string, seconds: number) {
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    setTimeout(() => { db.exec('ROLLBACK'); db.close(); }, ${seconds * 1000});`,
      db,
    ],
    { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(holder.stdout, 'data');
  return holder;
}

/**
 * A catalog of `n` photos, each reviewed, with the shipped model registered as its active one: enough
 * reviews (n ≥ MIN_LABELS) that fine-tuning would go ahead, so what stops it is the busy catalog.
 */
async function reviewedCatalog(dir: string, n: number) {
  const made = await labeledCatalog(dir, n);
  const catalog = new Catalog(made.db);
  const shipped = catalog.models.registerModel({
    name: 'resnet9-mini',
    version: modelVersion(defaultModelDir()),
    dir: defaultModelDir(),
    card: readModelCard(defaultModelDir()) ?? {},
  });
  catalog.models.activateModel(shipped.id);
  catalog.close();
  return { ...made, shipped: shipped.id };
}

/** Makes `db` a catalog as the version before the last migration left it (no sort holder table): opening it migrates. */
function olderCatalog(db: string): void {
  const old = new Database(db);
  // The last migration undone.
  old.exec(`DROP TABLE sort_holder;
    PRAGMA user_version = ${MIGRATIONS.length - 1}`);
  old.close();
}

const schemaOf = (db: string) => count(db, 'PRAGMA user_version');

/** The phases a job's status goes through until it ends, and how it ended. */
async function follow<S extends { running: boolean; phase: string; problem: string | null }>(
  poll: () => Promise<S | null>,
): Promise<{ phases: string[]; status: S }> {
  const phases = new Set<string>();
  let status = (await poll())!;
  for (; status.running; status = (await poll())!) {
    phases.add(status.phase);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { phases: [...phases], status };
}

test(
  'a catalog another program keeps busy: classify, label, finetune and sort wait with progress, then name the catalog and say what to do, having created nothing',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy');
    const { db, paths } = await reviewedCatalog(dir, MIN_LABELS + 10);
    const models = path.join(dir, 'models');
    const more = path.join(dir, 'more');
    await writePackshots(testSet.images, 2, more, { seed: 21 });
    const labels = path.join(dir, 'labels.csv');
    fs.writeFileSync(labels, `path,label\n${paths[0]},Bag\n`);
    const dest = path.join(dir, 'sorted');
    const snapshot = () => ({
      jobs: count(db, 'SELECT count(*) FROM import_jobs'),
      labels: count(db, 'SELECT count(*) FROM labels'),
      sortJobs: count(db, 'SELECT count(*) FROM sort_jobs'),
      models: count(db, 'SELECT count(*) FROM models'),
      predictions: count(db, 'SELECT count(*) FROM predictions'),
    });
    const before = snapshot();

    const holder = await holdWriteLock(db, 600);
    try {
      const wait = { FASHION_SORTER_CATALOG_WAIT_S: '2', FASHION_SORTER_CACHE: dir };
      // finetune checks the catalog before it trains: the wait comes first, not after minutes of training.
      for (const args of [
        ['classify', more, '--db', db],
        ['label', '--db', db, '--csv', labels],
        ['finetune', '--db', db, '--models', models, '--epochs', '1'],
        ['sort', '--db', db, '--dest', dest],
      ]) {
        const started = performance.now();
        const r = cli(args, wait);
        assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
        assert.ok(performance.now() - started >= 2000, `${args[0]} waited`);
        assert.match(
          r.stderr,
          new RegExp(`waiting for the catalog ${db.replace(/[.\\/]/g, '\\$&')}: another program is writing to it`),
          args[0],
        );
        assert.match(
          r.stderr,
          /error: the catalog .* is busy: another program held it for the 2 s Fashion Sorter waited .* Nothing was changed\. Close that program, or save or revert its changes, then run the command again/,
          args[0],
        );
      }
    } finally {
      holder.kill();
      await once(holder, 'exit');
    }
    assert.equal(fs.existsSync(dest), false, 'the sort made no folder');
    assert.equal(fs.existsSync(path.join(dir, 'thumbnails')), false, 'classify made no thumbnail');
    assert.equal(fs.existsSync(models), false, 'finetune made no model folder');
    assert.deepEqual(snapshot(), before);

    // Held until the command says it waits, then let go: the command goes on.
    const brief = await holdWriteLock(db, 600);
    const label = spawn(process.execPath, [...CLI, 'label', '--db', db, '--csv', labels], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let [stdout, stderr] = ['', ''];
    label.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    label.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (/waiting for the catalog/.test(stderr)) brief.kill();
    });
    const [code] = await once(label, 'exit');
    assert.equal(code, 0, stderr);
    assert.match(
      stderr,
      /waiting for the catalog .*: another program is writing to it \(0 s of 60 s\)…\n(.*\n)*the catalog .* is free again; going on\n/,
    );
    assert.match(stdout, /applied 1 label from/);
  },
);

test(
  'the window, with a catalog another program keeps busy: labels, an import and a sort wait (the import and the sort saying so, a cancel ending the wait), then fail with the catalog named, having created nothing',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy-window');
    const { db } = await labeledCatalog(dir, 2);
    const more = path.join(dir, 'more');
    await writePackshots(testSet.images, 1, more, { seed: 22 });
    const dest = path.join(dir, 'sorted');
    const services = createServices({
      catalogFile: db,
      thumbnailsDir: path.join(dir, 'thumbnails'),
      catalogWaitMs: 1000,
      chooseDestination: async () => dest,
    });
    const holder = await holdWriteLock(db, 600);
    try {
      const busy = /the catalog .*catalog\.sqlite is busy: another program held it for the 1 s Fashion Sorter waited/;
      await assert.rejects(services.api.setLabels([{ photoId: 1, label: 8 }]), busy);
      await services.api.importPaths([more]);
      const imported = await follow(services.api.importStatus);
      assert.ok(imported.phases.includes('waiting'), `the window says it waits (${imported.phases.join(', ')})`);
      assert.equal(imported.status.phase, 'failed');
      assert.match(imported.status.problem!, busy);
      await services.api.chooseSortDestination();
      await services.api.startSort({
        mode: 'copy',
        selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE },
        folders: [...DEFAULT_FOLDER_NAMES],
      });
      const sorted = await follow(services.api.sortStatus);
      assert.ok(sorted.phases.includes('waiting'), `the window says it waits (${sorted.phases.join(', ')})`);
      assert.equal(sorted.status.phase, 'failed');
      assert.match(sorted.status.problem!, busy);
      // Cancelled while it waits: it ends at once, having written nothing.
      const patient = createServices({ catalogFile: db, thumbnailsDir: path.join(dir, 'thumbnails') });
      try {
        await patient.api.importPaths([more]);
        while ((await patient.api.importStatus())!.phase !== 'waiting') await new Promise((r) => setTimeout(r, 20));
        const asked = performance.now();
        await patient.api.cancelImport();
        assert.ok(performance.now() - asked < 2000, 'the cancel did not wait for the catalog');
        assert.equal((await patient.api.importStatus())!.phase, 'cancelled');
      } finally {
        await patient.close();
      }
    } finally {
      holder.kill();
      await once(holder, 'exit');
      await services.close();
    }
    assert.equal(fs.existsSync(dest), false, 'the sort made no folder');
    assert.equal(fs.existsSync(path.join(dir, 'thumbnails')), false, 'the import made no thumbnail');
  },
);

test(
  'a catalog from the version before, which another program keeps busy: every command waits to bring it up to date, says so, and leaves it as it was',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy-migration');
    const { db, paths } = await reviewedCatalog(dir, MIN_LABELS + 10);
    olderCatalog(db);
    const more = path.join(dir, 'more');
    await writePackshots(testSet.images, 1, more, { seed: 23 });
    const labels = path.join(dir, 'labels.csv');
    fs.writeFileSync(labels, `path,label\n${paths[0]},Bag\n`);
    const [dest, models, csv] = [path.join(dir, 'sorted'), path.join(dir, 'models'), path.join(dir, 'out.csv')];
    const commands = [
      ['classify', more, '--db', db],
      ['label', '--db', db, '--csv', labels],
      ['finetune', '--db', db, '--models', models, '--epochs', '1'],
      ['export', '--db', db, '--out', csv],
      ['sort', '--db', db, '--dest', dest, '--dry-run'],
    ];

    const holder = await holdWriteLock(db, 600);
    try {
      for (const args of commands) {
        const started = performance.now();
        const r = cli(args, { FASHION_SORTER_CATALOG_WAIT_S: '2', FASHION_SORTER_CACHE: dir });
        assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
        assert.ok(performance.now() - started >= 2000, `${args[0]} waited`);
        assert.match(r.stderr, /waiting for the catalog .*: another program is writing to it \(0 s of 2 s\)…/, args[0]);
        assert.match(
          r.stderr,
          /error: the catalog .*catalog\.sqlite is busy: another program held it for the 2 s Fashion Sorter waited .* Nothing was changed\. Close that program, or save or revert its changes, then run the command again/,
          args[0],
        );
        assert.doesNotMatch(r.stderr, /database is locked/, args[0]);
      }
    } finally {
      holder.kill();
      await once(holder, 'exit');
    }
    assert.equal(schemaOf(db), MIGRATIONS.length - 1, 'the catalog is as it was');
    for (const made of [dest, models, csv, path.join(dir, 'thumbnails')])
      assert.equal(fs.existsSync(made), false, `${made} was not made`);

    // Once the other program lets go, the same command brings the catalog up to date and does its work.
    const exported = cli(['export', '--db', db, '--out', csv]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, new RegExp(`wrote ${MIN_LABELS + 10} rows`));
    assert.equal(schemaOf(db), MIGRATIONS.length);
    assert.equal(count(db, 'SELECT files FROM file_count'), MIN_LABELS + 10);
  },
);

test(
  'the window, with a catalog another program keeps busy: opening an older catalog, improving the model, making a version active and discarding one wait (saying so), then fail with the catalog named, having changed nothing',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy-window-models');
    const { db, shipped } = await reviewedCatalog(dir, MIN_LABELS + 10);
    const models = path.join(dir, 'models');
    // A version published earlier, not active: what "Discard" removes.
    const earlier = path.join(models, 'resnet9-mini-ft1');
    fs.mkdirSync(earlier, { recursive: true });
    fs.writeFileSync(path.join(earlier, 'model.json'), '{}');
    const catalog = new Catalog(db);
    const discardable = catalog.models.registerModel({
      name: 'resnet9-mini-ft1',
      version: 'earlier',
      dir: earlier,
      card: {},
      parentId: shipped,
    }).id;
    catalog.close();
    olderCatalog(db);
    const snapshot = () => ({
      models: count(db, 'SELECT count(*) FROM models'),
      active: count(db, 'SELECT id FROM models WHERE active = 1'),
      predictions: count(db, 'SELECT count(*) FROM predictions'),
      schema: schemaOf(db),
    });
    const before = snapshot();
    const busy = /the catalog .*catalog\.sqlite is busy: another program held it for the 1 s Fashion Sorter waited/;
    const options = {
      catalogFile: db,
      thumbnailsDir: path.join(dir, 'thumbnails'),
      modelsDir: models,
      catalogWaitMs: 1000,
      fineTune: { ...DEFAULT_FINETUNE_OPTIONS, epochs: 1, minSteps: 0 },
    };
    /** What catalogWait says while `action` runs: the window's line for a quick action that waits. */
    const waitsSeen = async (services: ReturnType<typeof createServices>, action: Promise<unknown>) => {
      const seen: number[] = [];
      let ended = false;
      void action.then(
        () => {
          ended = true;
        },
        () => {
          ended = true;
        },
      );
      while (!ended) {
        const wait = await services.api.catalogWait();
        if (wait) {
          assert.equal(wait.file, db);
          assert.equal(wait.limitSeconds, 1);
          seen.push(wait.seconds);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      return seen;
    };

    const holder = await holdWriteLock(db, 600);
    const services = createServices(options);
    try {
      // The first call opens the catalog, which must first be brought up to date: it waits, the window says so, then it fails.
      const counting = services.api.counts(DEFAULT_REVIEW_RULE);
      assert.ok((await waitsSeen(services, counting)).length > 0, 'the window heard that opening the catalog waits');
      await assert.rejects(counting, busy);
      assert.equal(await services.api.catalogWait(), null, 'nothing waits any more');
    } finally {
      holder.kill();
      await once(holder, 'exit');
    }
    // Free now: the next call opens it, bringing it up to date.
    assert.equal((await services.api.counts(DEFAULT_REVIEW_RULE)).files, MIN_LABELS + 10);
    const migrated = snapshot();
    assert.deepEqual(migrated, { ...before, schema: MIGRATIONS.length });

    const again = await holdWriteLock(db, 600);
    try {
      const discarding = services.api.discardModel(discardable);
      assert.ok((await waitsSeen(services, discarding)).length > 0, 'the window heard that the discard waits');
      await assert.rejects(discarding, busy);
      assert.ok(fs.existsSync(earlier), 'the discarded version keeps its files while the catalog keeps it');

      await services.api.improveModel();
      const improved = await follow(services.api.improveStatus);
      assert.ok(improved.phases.includes('waiting'), `the window says it waits (${improved.phases.join(', ')})`);
      assert.equal(improved.status.epochs, 0, 'it waited before training, not after');
      assert.equal(improved.status.phase, 'failed');
      assert.match(improved.status.problem!, busy);

      // Making a version active (a rollback to the shipped model) waits too.
      await services.api.activateModel(shipped);
      const activated = await follow(services.api.improveStatus);
      assert.ok(activated.phases.includes('waiting'), `the window says it waits (${activated.phases.join(', ')})`);
      assert.equal(activated.status.phase, 'failed');
      assert.match(activated.status.problem!, busy);
    } finally {
      again.kill();
      await once(again, 'exit');
      await services.close();
    }
    assert.deepEqual(snapshot(), migrated, 'no version added, activated or removed; no prediction written');
    assert.deepEqual(fs.readdirSync(models), ['resnet9-mini-ft1'], 'no new version was published');
  },
);

test(
  'an import whose catalog another program takes in the middle waits for it, then goes on; kept from it too long, it stops saying what it kept, and the same import continues',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy-import');
    const [first, second] = [path.join(dir, 'first'), path.join(dir, 'second')];
    await writePackshots(testSet.images, 60, first, { seed: 24 });
    await writePackshots(testSet.images.subarray(60 * 784), 60, second, { seed: 25 });
    const db = path.join(dir, 'catalog.sqlite');
    const catalog = await Catalog.open(db);
    // Another program's connection, in this process so that it takes the lock at an exact moment of the import.
    const other = new Database(db);
    /** Takes the catalog's write lock once the import has stored some photos (and, if `release`, lets go after it). */
    const takeMidway = (release?: number) => {
      let taken = false;
      return (p: ImportProgress) => {
        if (taken || p.phase !== 'importing' || p.done === 0) return;
        taken = true;
        other.exec('BEGIN IMMEDIATE');
        if (release) setTimeout(() => other.exec('ROLLBACK'), release);
      };
    };
    const options = { catalog, thumbnailsDir: path.join(dir, 'thumbs'), inFlight: 1 };
    try {
      const heard: (number | null)[] = [];
      const waited = await importPhotos([first], {
        ...options,
        catalogWait: { waitMs: 20_000, onWaiting: (s) => heard.push(s) },
        onProgress: takeMidway(1500),
      });
      assert.equal(waited.status, 'done');
      assert.equal(waited.counts.done, 60);
      assert.ok(
        heard.some((s) => s !== null && s >= 1),
        `it waited (${heard.join(', ')})`,
      );
      assert.equal(heard.at(-1), null, 'and heard the catalog was free again');

      await assert.rejects(
        importPhotos([second], { ...options, catalogWait: { waitMs: 500 }, onProgress: takeMidway() }),
        (err: Error) => {
          assert.ok(err instanceof CatalogBusyError, err.message);
          const kept =
            /The import stopped: (\d+) of the 60 files it found so far were imported and are kept; import the same folders again to go on\. Close that program/.exec(
              err.message,
            );
          assert.ok(kept && Number(kept[1]) > 0 && Number(kept[1]) < 60, err.message);
          return true;
        },
      );
      other.exec('ROLLBACK');
      const resumed = await importPhotos([second], options);
      assert.deepEqual(
        { resumed: resumed.resumed, status: resumed.status, done: resumed.counts.done, failed: resumed.counts.failed },
        { resumed: true, status: 'done', done: 60, failed: 0 },
      );
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      catalog.close();
    }
  },
);

test(
  'a move into folders whose catalog another program takes in the middle waits for it, then goes on; kept from it too long, it stops saying what it sorted, and the same sort finishes with every file moved once',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('busy-sort');
    const { db, paths, hashes } = await labeledCatalog(dir, 40);
    const catalog = await Catalog.open(db);
    const other = new Database(db);
    const takeMidway = (release?: number) => {
      let taken = false;
      return (p: SortProgress) => {
        if (taken || p.done === 0) return;
        taken = true;
        other.exec('BEGIN IMMEDIATE');
        if (release) setTimeout(() => other.exec('ROLLBACK'), release);
      };
    };
    const request = (dest: string) => ({
      dest,
      mode: 'move' as const,
      selection: { queue: 'all' as const, rule: DEFAULT_REVIEW_RULE },
    });
    try {
      // One category's photos, then every photo (those of the first sort move on from where it put them): each
      // move records its step in the catalog as soon as it is made.
      const heard: (number | null)[] = [];
      const first = path.join(dir, 'first');
      const waited = await sortPhotos(
        catalog,
        { ...request(first), selection: { queue: 'all', category: testSet.labels[0]!, rule: DEFAULT_REVIEW_RULE } },
        {
          catalogWait: { waitMs: 20_000, onWaiting: (s) => heard.push(s) },
          onProgress: takeMidway(1500),
        },
      );
      assert.equal(waited.status, 'done');
      assert.ok(
        heard.some((s) => s !== null && s >= 1),
        `it waited (${heard.join(', ')})`,
      );
      assert.equal(heard.at(-1), null);
      assert.equal(waited.sorted, testSet.labels.subarray(0, 40).filter((l) => l === testSet.labels[0]).length);

      const rest = path.join(dir, 'rest');
      await assert.rejects(
        sortPhotos(catalog, request(rest), { catalogWait: { waitMs: 500 }, onProgress: takeMidway() }),
        (err: Error) => {
          assert.ok(err instanceof CatalogBusyError, err.message);
          assert.match(
            err.message,
            /The sort stopped with \d+ of its \d+ files sorted: what was copied or moved is recorded or found again by its content, and the same sort again goes on with the rest\. Close that program/,
          );
          return true;
        },
      );
      other.exec('ROLLBACK');
      const finished = await sortPhotos(catalog, request(rest));
      assert.equal(finished.status, 'done', finished.problem ?? '');
      assert.equal(finished.resumed, true);
      assert.equal(finished.sorted, 40);
      const sorted = [...filesByHash(rest).entries()];
      assert.deepEqual(sorted.map(([hash]) => hash).sort(), [...hashes].sort(), 'every photo moved');
      assert.ok(
        sorted.every(([, files]) => files.length === 1),
        'each once',
      );
      assert.equal(filesByHash(first).size, 0, "moved on from the first sort's folders");
      assert.ok(
        paths.every((p) => !fs.existsSync(p)),
        'no original left behind',
      );
      assert.equal(
        count(db, `SELECT count(*) FROM photo_paths WHERE path LIKE ? || '%'`, rest + path.sep),
        40,
        'the catalog follows every file',
      );
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      catalog.close();
    }
  },
);

test(
  'the window opening an older catalog that another program keeps busy says that it waits, and then why the catalog cannot be read, in Chromium',
  { skip: SKIP_WITHOUT_CHROMIUM, timeout: 120_000 },
  async () => {
    const dir = tempDir('busy-window-open');
    const { db } = await labeledCatalog(dir, 2);
    olderCatalog(db);
    const holder = await holdWriteLock(db, 600);
    const services = createServices({
      catalogFile: db,
      thumbnailsDir: path.join(dir, 'thumbnails'),
      catalogWaitMs: 4000,
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
    });
    const ui = await openRenderer(services);
    try {
      const { page } = ui;
      await page
        .getByTestId('catalog-wait')
        .filter({
          hasText: new RegExp(
            `Waiting for the catalog ${db.replace(/[.\\/]/g, '\\$&')}: another program is writing to it \\(\\d s of 4 s\\)\\. Close it, or save or revert its changes\\.`,
          ),
        })
        .waitFor();
      await page
        .getByRole('alert')
        .filter({
          hasText:
            /The catalog cannot be read: the catalog .* is busy: another program held it for the 4 s Fashion Sorter waited/,
        })
        .first()
        .waitFor({ timeout: 20_000 });
      await page.getByTestId('catalog-wait').locator('p').waitFor({ state: 'detached' });
    } finally {
      holder.kill();
      await once(holder, 'exit');
      await ui.close();
      await services.close();
    }
    assert.equal(schemaOf(db), MIGRATIONS.length - 1, 'the catalog is as it was');
  },
);
