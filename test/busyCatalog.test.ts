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
import { cli, CLI, count } from './helpers/cli.ts';
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

  // Held until the command says it waits, then let go: the command goes on.
  const brief = await holdWriteLock(db, 600);
  const label = spawn(process.execPath, [...CLI, 'label', '--db', db, '--csv', labels], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let [stdout, stderr] = ['', ''];
  label.stdout.on('data', (d: Buffer) => { stdout += d; });
  label.stderr.on('data', (d: Buffer) => {
    stderr += d;
    if (/waiting for the catalog/.test(stderr)) brief.kill();
  });
  const [code] = await once(label, 'exit');
  assert.equal(code, 0, stderr);
  assert.match(stderr, /waiting for the catalog .*: another program is writing to it \(0 s of 60 s\)…\n(.*\n)*the catalog .* is free again; going on\n/);
  assert.match(stdout, /applied 1 labels/);
});

test('the window, with a catalog another program keeps busy: labels, an import and a sort wait (the import and the sort saying so, a cancel ending the wait), then fail with the catalog named, having created nothing', { timeout: 300_000 }, async () => {
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
    /** The phases a job's status goes through until it ends, and how it ended. */
    const follow = async <S extends { running: boolean; phase: string; problem: string | null }>(poll: () => Promise<S | null>) => {
      const phases = new Set<string>();
      let status = (await poll())!;
      for (; status.running; status = (await poll())!) {
        phases.add(status.phase);
        await new Promise((r) => setTimeout(r, 50));
      }
      return { phases: [...phases], status };
    };
    await services.api.importPaths([more]);
    const imported = await follow(services.api.importStatus);
    assert.ok(imported.phases.includes('waiting'), `the window says it waits (${imported.phases.join(', ')})`);
    assert.equal(imported.status.phase, 'failed');
    assert.match(imported.status.problem!, busy);
    await services.api.chooseSortDestination();
    await services.api.startSort({ mode: 'copy', selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE }, folders: [...DEFAULT_FOLDER_NAMES] });
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
});
