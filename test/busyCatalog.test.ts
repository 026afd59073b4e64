import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createServices } from '../electron/api/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { DEFAULT_REVIEW_RULE } from '../electron/catalog/catalog.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { writePackshots } from '../electron/photos/samplePhotos.ts';
import { labeledCatalog, testSet } from './helpers/catalogs.ts';
import { cli, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';

/**
 * Another program holding a write transaction on the catalog (`BEGIN IMMEDIATE`, as a database browser
 * with unsaved edits does) for `seconds`, or until it is killed. Resolves once it holds the lock.
 */
async function holdWriteLock(db: string, seconds: number) {
  const holder = spawn(process.execPath, ['-e', `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    setTimeout(() => { db.exec('ROLLBACK'); db.close(); }, ${seconds * 1000});`, db], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  await once(holder.stdout, 'data');
  return holder;
}

test('a catalog another program keeps busy: classify, label and sort wait with progress, then name the catalog and say what to do, having created nothing', { timeout: 300_000 }, async () => {
  const dir = tempDir('busy');
  const { db, paths } = await labeledCatalog(dir, 4);
  const more = path.join(dir, 'more');
  await writePackshots(testSet.images, 2, more, { seed: 21 });
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, `path,label\n${paths[0]},Bag\n`);
  const dest = path.join(dir, 'sorted');
  const before = { jobs: count(db, 'SELECT count(*) FROM import_jobs'), labels: count(db, 'SELECT count(*) FROM labels'), sortJobs: count(db, 'SELECT count(*) FROM sort_jobs') };

  const holder = await holdWriteLock(db, 600);
  try {
    const wait = { FASHION_SORTER_CATALOG_WAIT_S: '2', FASHION_SORTER_CACHE: dir };
    for (const args of [['classify', more, '--db', db], ['label', '--db', db, '--csv', labels], ['sort', '--db', db, '--dest', dest]]) {
      const started = performance.now();
      const r = cli(args, wait);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.ok(performance.now() - started >= 2000, `${args[0]} waited`);
      assert.match(r.stderr, new RegExp(`waiting for the catalog ${db.replace(/[.\\/]/g, '\\$&')}: another program is writing to it`), args[0]);
      assert.match(r.stderr, /error: the catalog .* is busy: another program held it for the 2 s Fashion Sorter waited .* Nothing was changed\. Close that program, or save or revert its changes, then run the command again/, args[0]);
    }
  } finally {
    holder.kill();
    await once(holder, 'exit');
  }
  assert.equal(fs.existsSync(dest), false, 'the sort made no folder');
  assert.equal(fs.existsSync(path.join(dir, 'thumbnails')), false, 'classify made no thumbnail');
  assert.deepEqual({ jobs: count(db, 'SELECT count(*) FROM import_jobs'), labels: count(db, 'SELECT count(*) FROM labels'), sortJobs: count(db, 'SELECT count(*) FROM sort_jobs') }, before);

  // Held for a few seconds only: the command waits it out and goes on.
  const brief = await holdWriteLock(db, 3);
  const label = cli(['label', '--db', db, '--csv', labels]);
  await once(brief, 'exit');
  assert.equal(label.code, 0, label.stderr);
  assert.match(label.stderr, /waiting for the catalog .*: another program is writing to it \(0 s of 60 s\)/);
  assert.match(label.stdout, /applied 1 labels/);
});

test('the window, with a catalog another program keeps busy: labels, an import and a sort wait, then fail with the catalog named, having created nothing', { timeout: 300_000 }, async () => {
  const dir = tempDir('busy-window');
  const { db } = await labeledCatalog(dir, 2);
  const more = path.join(dir, 'more');
  await writePackshots(testSet.images, 1, more, { seed: 22 });
  const dest = path.join(dir, 'sorted');
  const services = createServices({ catalogFile: db, thumbnailsDir: path.join(dir, 'thumbnails'), catalogWaitMs: 1000, chooseDestination: async () => dest });
  const holder = await holdWriteLock(db, 600);
  try {
    const busy = /the catalog .*catalog\.sqlite is busy: another program held it for the 1 s Fashion Sorter waited/;
    await assert.rejects(services.api.setLabels([{ photoId: 1, label: 8 }]), busy);
    await assert.rejects(services.api.importPaths([more]), busy);
    await services.api.chooseSortDestination();
    await services.api.startSort({ mode: 'copy', selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE }, folders: [...DEFAULT_FOLDER_NAMES] });
    let status = (await services.api.sortStatus())!;
    while (status.running) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await services.api.sortStatus())!;
    }
    assert.equal(status.phase, 'failed');
    assert.match(status.problem!, busy);
  } finally {
    holder.kill();
    await once(holder, 'exit');
    await services.close();
  }
  assert.equal(fs.existsSync(dest), false, 'the sort made no folder');
  assert.equal(fs.existsSync(path.join(dir, 'thumbnails')), false, 'the import made no thumbnail');
});
