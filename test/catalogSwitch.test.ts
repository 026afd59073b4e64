/**
 * Switching catalogs: File > New Catalog…, Open Catalog… and Open Recent in the built shell (with the Electron
 * stand-in), and the switch itself (electron/app/catalogSwitch.ts) refusing while a job runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { CHANNELS, type AppInfo, type CatalogCounts } from '../contract/api.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { catalogSwitch, readRecentCatalogs } from '../electron/app/catalogSwitch.ts';
import { createServices } from '../electron/app/services.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { labeledCatalog, testSet } from './helpers/catalogs.ts';
import { ensureDistBuilt } from './helpers/distBuild.ts';
import { launchBuiltApp, waitFor, type BuiltApp } from './helpers/builtApp.ts';
import { tempDir } from './helpers/photos.ts';

before(() => ensureDistBuilt(), { timeout: 300_000 });

const counts = (app: BuiltApp) => app.invoke<CatalogCounts>(CHANNELS.counts, [DEFAULT_REVIEW_RULE]);
const catalogFile = async (app: BuiltApp) => (await app.invoke<AppInfo>(CHANNELS.appInfo, [])).catalogFile;
const fileMenu = async (app: BuiltApp) => (await app.record()).menu!.find((m) => m.label === 'File')!.submenu!;

test(
  'File > Open Catalog…, New Catalog… and Open Recent switch the catalog the window is served, and the next start opens the last one',
  { timeout: 180_000 },
  async () => {
    const dir = tempDir('switch');
    const other = await labeledCatalog(path.join(dir, 'other'), 3);
    const userData = path.join(dir, 'userData');
    const documents = path.join(dir, 'Documents');
    fs.mkdirSync(userData);
    fs.mkdirSync(documents);
    const launch = () =>
      launchBuiltApp({ userData, documents, env: { XDG_CONFIG_HOME: path.join(dir, 'xdg'), FASHION_SORTER_DATA: '' } });
    const fresh = path.join(userData, 'catalog.sqlite');
    const app = launch();
    try {
      await waitFor('the IPC handlers', async () => ((await app.record()).ipcChannels.length > 0 ? true : undefined));
      assert.equal(await catalogFile(app), fresh);
      assert.equal((await counts(app)).total, 0);
      assert.deepEqual(
        (await fileMenu(app)).slice(0, 3).map((m) => [m.label, m.submenu?.map((r) => r.label)]),
        [
          ['New Catalog…', undefined],
          ['Open Catalog…', undefined],
          ['Open Recent', [fresh]],
        ],
      );

      await app.request('answerDialog', { kind: 'open', answer: { canceled: false, filePaths: [other.db] } });
      await app.request('menu', { labels: ['File', 'Open Catalog…'] });
      await waitFor('the switch', async () => ((await catalogFile(app)) === other.db ? true : undefined));
      assert.equal((await counts(app)).total, 3);
      assert.equal((await counts(app)).reviewed, 3);
      assert.equal((await app.record()).windows[0]!.reloads, 1, 'the window reloads its state');
      // Its photos are served: the thumbnail is made again from the photo (this profile never had it).
      const thumb = await app.fetch(`thumb://photo/${other.hashes[0]}`);
      assert.equal(thumb.status, 200);
      assert.deepEqual(readRecentCatalogs(path.join(userData, 'recent-catalogs.json')), [other.db, fresh]);
      const recent = (await fileMenu(app)).find((m) => m.label === 'Open Recent')!;
      assert.deepEqual(
        recent.submenu!.map((m) => m.label),
        [other.db, fresh],
      );

      const created = path.join(documents, 'Spring.sqlite');
      await app.request('answerDialog', { kind: 'save', answer: { canceled: false, filePath: created } });
      await app.request('menu', { labels: ['File', 'New Catalog…'] });
      await waitFor('the new catalog', async () => ((await catalogFile(app)) === created ? true : undefined));
      assert.equal((await counts(app)).total, 0);
      assert.ok(fs.existsSync(created));

      // A new catalog never overwrites a file: it is said, and the open catalog stays.
      await app.request('answerDialog', { kind: 'save', answer: { canceled: false, filePath: other.db } });
      await app.request('menu', { labels: ['File', 'New Catalog…'] });
      const refusal = await waitFor('the message', async () =>
        (await app.record()).dialogs.find((d) => d.kind === 'message'),
      );
      assert.match(refusal.message!, /already exists/);
      assert.equal(await catalogFile(app), created);

      await app.request('menu', { labels: ['File', 'Open Recent', other.db] });
      await waitFor('the switch back', async () => ((await catalogFile(app)) === other.db ? true : undefined));
      assert.equal((await counts(app)).total, 3);
      await app.request('quit');
      assert.equal((await app.exited).code, 0);
    } finally {
      await app.kill();
    }

    const again = launch();
    try {
      await waitFor('the IPC handlers', async () => ((await again.record()).ipcChannels.length > 0 ? true : undefined));
      assert.equal(await catalogFile(again), other.db, 'the next start opens the catalog open last');
    } finally {
      await again.kill();
    }
  },
);

test(
  'a switch is refused while a job runs (the catalog stays open), and made once it has finished',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('switch-busy');
    const photos = path.join(dir, 'photos');
    await writePackshots(testSet.images, 40, photos, { seed: 7 });
    const first = path.join(dir, 'first.sqlite');
    const second = path.join(dir, 'second.sqlite');
    const catalogs = catalogSwitch(
      (catalogFile) => createServices({ catalogFile, thumbnailsDir: path.join(dir, 'thumbs') }),
      first,
    );
    try {
      const started = await catalogs.api.importPaths([photos]);
      assert.equal(started.running, true);
      await assert.rejects(catalogs.switchTo(second), /an import is running/);
      assert.equal(catalogs.catalogFile, first);
      await waitFor('the import', async () => ((await catalogs.api.importStatus())!.running ? undefined : true));
      assert.equal((await catalogs.api.counts(DEFAULT_REVIEW_RULE)).total, 40);
      await catalogs.switchTo(second);
      assert.equal(catalogs.catalogFile, second);
      assert.equal((await catalogs.api.counts(DEFAULT_REVIEW_RULE)).total, 0);
      assert.equal((await catalogs.api.appInfo()).catalogFile, second);
    } finally {
      await catalogs.close();
    }
  },
);
