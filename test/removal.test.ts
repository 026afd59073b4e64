/**
 * Soft removal of photos and imports (catalog/removals.ts) through the services, on a real catalog file of
 * real photos: what leaves (counts, queues, pages, sorts by name, exports, sorting, fine-tuning) and what
 * stays (the label log), undo, a shared photo kept by the other import, and a crash in the middle of a removal.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { PageQuery } from '../contract/api.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { createServices, type Services } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';
import { rawDb } from './helpers/rawSql.ts';

const dir = tempDir('removal');
const catalogFile = path.join(dir, 'catalog.sqlite');
const folderA = path.join(dir, 'wrong-folder');
const folderB = path.join(dir, 'season');
let services: Services;
const rule = DEFAULT_REVIEW_RULE;
const query = (queue: PageQuery['queue'], sort: PageQuery['sort'] = 'name'): PageQuery => ({
  queue,
  sort,
  descending: false,
  offset: 0,
  limit: 1000,
  rule,
});

async function importFolder(folder: string): Promise<number> {
  await services.api.importPaths([folder]);
  for (;;) {
    const status = (await services.api.importStatus())!;
    if (!status.running) {
      assert.equal(status.phase, 'done', status.problem ?? '');
      return status.jobId;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Everything the window and the deliveries see of the catalog, to compare before, during and after a removal. */
async function visible() {
  const ids = async (queue: PageQuery['queue']) => (await services.api.photoIds(query(queue))).sort((a, b) => a - b);
  const csv = path.join(dir, `export-${Date.now()}-${Math.random()}.csv`);
  await services.operations.exportCsv(csv, { format: 'catalog', selection: { queue: 'all', rule }, bom: false });
  const exported = (parse(fs.readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[])
    .map((r) => r.path!)
    .sort();
  const plan = await services.operations.planSort({
    dest: path.join(dir, 'sorted'),
    mode: 'copy',
    selection: { queue: 'all', rule },
  });
  return {
    counts: await services.api.counts(rule),
    all: await ids('all'),
    reviewed: await ids('reviewed'),
    needsReview: await ids('needsReview'),
    byName: (await services.api.page(query('all', 'name'))).tiles.map((t) => t.id),
    byConfidence: (await services.api.page(query('all', 'confidence'))).total,
    selection: await services.api.selectionCounts({ rule }),
    exported,
    sorted: plan.photos,
  };
}

/** The kept counts against a recount of the tables: triggers that missed a removal or a restore would differ. */
function assertCountsConsistent(catalog: Catalog) {
  const db = rawDb(catalog);
  const kept = db.prepare('SELECT sum(reviewed) AS reviewed, sum(unreviewed) AS unreviewed FROM category_counts').get();
  const recount = db
    .prepare(
      'SELECT coalesce(sum(label IS NOT NULL), 0) AS reviewed, coalesce(sum(label IS NULL), 0) AS unreviewed FROM photos WHERE removal_id IS NULL',
    )
    .get();
  assert.deepEqual(kept, recount, 'photos per category');
  assert.equal(
    db.prepare('SELECT files FROM file_count').pluck().get(),
    db
      .prepare('SELECT count(*) FROM photo_paths pp JOIN photos p ON p.id = pp.photo_id WHERE p.removal_id IS NULL')
      .pluck()
      .get(),
    'files',
  );
}

let jobA: number;
let jobB: number;
let shared: string;

before(async () => {
  const a = await writePackshots(testSet.images, 10, folderA, { seed: 3, size: { width: 120, height: 150 } });
  await writePackshots(testSet.images.subarray(784 * 10), 8, folderB, { seed: 4, size: { width: 120, height: 150 } });
  // The same bytes in both folders: one photo that both imports hold.
  shared = path.join(folderB, `copy-of-${path.basename(a[0]!)}`);
  fs.copyFileSync(a[0]!, shared);
  services = createServices({ catalogFile, thumbnailsDir: path.join(dir, 'thumbs'), reviewer: 'ana' });
  jobA = await importFolder(folderA);
  jobB = await importFolder(folderB);
});
after(() => services.close());

test('removed photos leave counts, queues, pages, exports and sorts; their labels stay in the log; undo brings them back', async () => {
  const all = await services.api.photoIds(query('all'));
  assert.equal(all.length, 18, '10 + 8 photos, the copy one of them');
  const [labeled1, labeled2, unlabeled] = [all[3]!, all[7]!, all[12]!];
  await services.api.setLabels([
    { photoId: labeled1, label: 4 },
    { photoId: labeled2, label: 8 },
  ]);
  const before = await visible();
  const gone = [labeled1, labeled2, unlabeled];

  const removal = await services.api.removePhotos(gone);
  assert.equal(removal.photos, 3);
  const during = await visible();
  assert.equal(during.counts.total, before.counts.total - 3);
  assert.equal(during.counts.reviewed, before.counts.reviewed - 2);
  assert.equal(
    during.counts.perCategory.reduce((a, b) => a + b),
    before.counts.perCategory.reduce((a, b) => a + b) - 3,
  );
  for (const queue of ['all', 'reviewed', 'needsReview', 'byName'] as const)
    assert.deepEqual(
      during[queue],
      before[queue].filter((id) => !gone.includes(id)),
      queue,
    );
  assert.equal(during.byConfidence, before.byConfidence - 3);
  assert.equal(during.selection.all.photos, before.selection.all.photos - 3);
  assert.equal(during.selection.reviewed.photos, before.selection.reviewed.photos - 2);
  const catalog = await Catalog.open(catalogFile);
  try {
    const removedPaths = gone.flatMap((id) => catalog.queries.photoDetail(id)!.paths).sort();
    assert.deepEqual(
      during.exported,
      before.exported.filter((p) => !removedPaths.includes(p)),
      'the CSV leaves their files out',
    );
    assert.equal(during.sorted, before.sorted - removedPaths.length, 'sorting leaves them where they are');
    assert.ok(!catalog.labels.labeledInputs().photoIds.some((id) => gone.includes(id)), 'fine-tuning ignores them');
    assertCountsConsistent(catalog);
  } finally {
    catalog.close();
  }
  const history = (await services.api.photo(labeled1)).history;
  assert.deepEqual(
    history.map((h) => [h.newLabel, h.reviewer]),
    [[4, 'ana']],
    'the label log keeps their labels',
  );

  assert.equal(await services.api.restoreRemoval(removal.id), 3);
  assert.deepEqual(await visible().then(({ exported, ...rest }) => ({ ...rest, exported: exported.length })), {
    ...before,
    exported: before.exported.length,
  });
  await assert.rejects(services.api.restoreRemoval(removal.id), /not in the catalog/);
});

test('removing an import takes out every photo only it brought in, keeps the one the other import also holds, and undo restores it', async () => {
  const before = await visible();
  const catalog = await Catalog.open(catalogFile);
  const sharedId = catalog.queries.photoAtPath(shared)!;
  const fromA = rawDb(catalog)
    .prepare(`SELECT DISTINCT photo_id FROM import_files WHERE job_id = ? AND state = 'done'`)
    .pluck()
    .all(jobA) as number[];
  catalog.close();
  assert.equal(fromA.length, 10);
  assert.ok(fromA.includes(sharedId));

  const removal = await services.api.removeImport(jobA);
  assert.equal(removal.photos, 9, 'the shared photo stays: folder B still holds it');
  const during = await visible();
  assert.deepEqual(
    during.all,
    before.all.filter((id) => !fromA.includes(id) || id === sharedId),
  );
  assert.equal(during.counts.total, 9);
  // The shared photo is one photo with a file in each folder: it is exported with both (removal is per photo).
  assert.deepEqual(
    during.exported.filter((p) => p.startsWith(folderA + path.sep)),
    before.exported.filter(
      (p) => p.startsWith(folderA + path.sep) && path.basename(shared) === `copy-of-${path.basename(p)}`,
    ),
    "of folder A, only the shared photo's file is exported",
  );
  const listed = await services.api.imports();
  assert.deepEqual(
    listed.map((i) => [i.id, i.folders, i.photos, i.removalId]),
    [
      [jobB, [folderB], 9, null],
      [jobA, [folderA], 10, removal.id],
    ],
  );
  await assert.rejects(services.api.removeImport(jobA), /removed already/);

  assert.equal(await services.api.restoreRemoval(removal.id), 9);
  assert.deepEqual((await visible()).all, before.all);
  assert.equal((await services.api.imports()).find((i) => i.id === jobA)!.removalId, null);
});

test('importing a removed folder again brings its photos back', async () => {
  const before = (await services.api.counts(rule)).total;
  await services.api.removeImport(jobB);
  assert.equal((await services.api.counts(rule)).total, before - 8, 'all but the shared photo');
  await importFolder(folderB);
  assert.equal((await services.api.counts(rule)).total, before);
  const catalog = await Catalog.open(catalogFile);
  assertCountsConsistent(catalog);
  catalog.close();
});

test('a process killed in the middle of a removal leaves the catalog as it was before it', async () => {
  const before = await visible();
  const catalog = await Catalog.open(catalogFile);
  const ids = catalog.queries.photoIds({ queue: 'all', rule });
  const labels = rawDb(catalog).prepare('SELECT count(*) FROM labels').pluck().get();
  const removals = rawDb(catalog).prepare('SELECT count(*) FROM removals').pluck().get();
  catalog.close();
  // A second process removes all photos and is killed (SIGKILL) as it marks the fifth, inside the transaction.
  const script = `
    import { Catalog } from ${JSON.stringify(path.join(projectRoot, 'electron/catalog/catalog.ts'))};
    const catalog = new Catalog(${JSON.stringify(catalogFile)});
    const db = catalog['db'];
    db.function('die', () => process.kill(process.pid, 'SIGKILL'));
    db.exec('CREATE TEMP TRIGGER die BEFORE UPDATE OF removal_id ON photos WHEN NEW.id = ${ids[4]} BEGIN SELECT die(); END');
    catalog.removals.removePhotos(${JSON.stringify(ids)});
    console.log('not killed');
  `;
  let killed: { signal?: string; stderr?: Buffer } | undefined;
  try {
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'pipe' });
  } catch (err) {
    killed = err as { signal?: string; stderr?: Buffer };
  }
  assert.equal(killed?.signal, 'SIGKILL', `the removal was killed midway: ${killed?.stderr}`);
  assert.deepEqual(await visible(), before);
  const reopened = await Catalog.open(catalogFile);
  try {
    assert.equal(rawDb(reopened).prepare('SELECT count(*) FROM removals').pluck().get(), removals);
    assert.equal(rawDb(reopened).prepare('SELECT count(*) FROM labels').pluck().get(), labels);
    assertCountsConsistent(reopened);
  } finally {
    reopened.close();
  }
});
