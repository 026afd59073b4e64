/**
 * The built app (`npm run build`), run as Electron would run it but in plain Node: dist/electron/main.js with
 * a stand-in for the `electron` module (test/helpers/electronStandIn) and no tsx anywhere in the child. Through
 * the stand-in the test plays the renderer and the user: IPC calls, protocol requests, menu clicks, closing
 * windows, quitting.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import {
  ARGUMENTS,
  CHANNELS,
  JOB_CHANNEL,
  MENU_CHANNEL,
  type AppInfo,
  type FashionSorterApi,
  type ImportStatus,
  type ImproveStatus,
  type JobUpdate,
  type ModelVersion,
  type Page,
  type PhotoDetail,
  type SelectionCounts,
  type SortPlan,
  type SortStatus,
} from '../contract/api.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { thumbnailPath } from '../electron/photos/photoPipeline.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { contentSecurityPolicy } from '../electron/shellPolicy.ts';
import { ensureDistBuilt } from './helpers/distBuild.ts';
import { launchBuiltApp, waitFor, type BuiltApp } from './helpers/builtApp.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { CLASS_NAMES } from '../contract/categories.ts';
import { rawDb } from './helpers/rawSql.ts';

const data = await loadFashionMnist({ allowDownload: false });
const dist = path.join(projectRoot, 'dist');
const APP_PAGE = 'app://renderer/index.html';
const selectAll = { queue: 'all' as const, rule: DEFAULT_REVIEW_RULE };

before(() => ensureDistBuilt(), { timeout: 300_000 });

/** A fresh user profile: Electron's userData and Documents, and the XDG data folder the CLI would use. */
function profile(name: string) {
  const dir = tempDir(`built-${name}`);
  const userData = path.join(dir, 'userData');
  const documents = path.join(dir, 'Documents');
  fs.mkdirSync(userData);
  fs.mkdirSync(documents);
  return { dir, userData, documents, xdgConfig: path.join(dir, 'xdg-config') };
}

function launch(
  name: string,
  options: { platform?: NodeJS.Platform; singleInstance?: 'denied'; earlyCall?: string } = {},
) {
  const p = profile(name);
  // The platform's default data folder (appPaths.userDataDir) points elsewhere, so a service that fell back to
  // it instead of Electron's userData would be seen.
  const app = launchBuiltApp({
    userData: p.userData,
    documents: p.documents,
    ...options,
    env: { XDG_CONFIG_HOME: p.xdgConfig, FASHION_SORTER_DATA: '' },
  });
  return { ...p, app };
}

/** Waits for the IPC handlers (as the page does, loading after the window) and then for the services to answer. */
async function servicesReady(app: BuiltApp): Promise<AppInfo> {
  await waitFor('the IPC handlers', async () => ((await app.record()).ipcChannels.length > 0 ? true : undefined));
  return app.invoke<AppInfo>(CHANNELS.appInfo, []);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function untilIdle<T extends { running: boolean }>(app: BuiltApp, channel: string, ms = 120_000): Promise<T> {
  return waitFor(
    channel,
    async () => {
      const status = await app.invoke<T | null>(channel, []);
      return status && !status.running ? status : undefined;
    },
    ms,
  );
}

test(
  'the built shell, in plain Node: a sandboxed window shown before sharp and tfjs load, app:// with its CSP and no way out, nothing for other origins',
  { timeout: 120_000 },
  async (t) => {
    const { app, userData } = launch('shell', { earlyCall: CHANNELS.appInfo });
    try {
      await servicesReady(app);
      const record = await app.record();

      assert.equal(record.windows.length, 1);
      const [win] = record.windows;
      const prefs = win!.options.webPreferences!;
      assert.deepEqual(
        {
          contextIsolation: prefs.contextIsolation,
          sandbox: prefs.sandbox,
          nodeIntegration: prefs.nodeIntegration,
          webSecurity: prefs.webSecurity,
        },
        { contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true },
      );
      assert.equal(prefs.preload, path.join(dist, 'electron', 'preload.cjs'));
      assert.match(
        fs.readFileSync(prefs.preload as string, 'utf8'),
        /exposeInMainWorld\("api"/,
        'the preload is the bundled bridge',
      );
      assert.equal(win!.url, APP_PAGE);
      assert.ok(win!.shown, 'shown once ready to show');
      assert.ok(
        win!.hasWindowOpenHandler &&
          win!.webContentsEvents.includes('will-navigate') &&
          win!.webContentsEvents.includes('will-attach-webview'),
      );
      assert.deepEqual(
        record.privilegedSchemes.map((s) => s.scheme),
        ['app', 'thumb', 'photo'],
      );
      assert.deepEqual(record.protocols.sort(), ['app', 'photo', 'thumb']);
      assert.deepEqual(record.ipcChannels.sort(), Object.values(CHANNELS).sort());
      assert.equal(await app.request('permission', { permission: 'media' }), false, 'permission requests are denied');
      assert.equal(await app.request('permission', { permission: 'notifications' }), false);
      const file = record.menu!.find((m) => m.label === 'File')!;
      assert.deepEqual(
        file.submenu!.map((m) => m.label ?? m.role),
        ['New Catalog…', 'Open Catalog…', 'Open Recent', undefined, 'Add Photos…', 'Export…', undefined, 'quit'],
      );

      // Start-up order: the window exists before SQLite, sharp and tfjs are even resolved; they come after.
      const first = record.firstWindow!;
      for (const heavy of ['better-sqlite3', 'sharp', '@tensorflow/tfjs-core']) {
        assert.ok(!first.resolved.includes(heavy), `${heavy} was loaded before the window`);
        assert.ok(record.resolved[heavy]! > first.at, `${heavy} is loaded after the window`);
      }
      t.diagnostic(
        `main process: window created ${first.sinceEntry.toFixed(0)} ms after main.js was resolved (${first.at.toFixed(0)} ms after the process started); sharp resolved at ${record.resolved.sharp!.toFixed(0)} ms, tfjs-core at ${record.resolved['@tensorflow/tfjs-core']!.toFixed(0)} ms`,
      );
      // A call reaching its handler before the services exist waits for them instead of failing.
      // sharp resolves its native package (@img/sharp-<platform>) while it evaluates: not yet when the call was made.
      assert.ok(
        !record.earlyCall!.resolvedAtCall.some((name) => name.startsWith('@img/')),
        `the early call was made before the services were loaded: ${record.earlyCall!.resolvedAtCall}`,
      );
      assert.equal(record.earlyCall!.error, undefined);
      assert.equal((record.earlyCall!.value as AppInfo).model?.name, 'resnet9-mini');

      // app:// serves the built renderer, every file with the app's CSP.
      const index = await app.fetch(APP_PAGE);
      assert.equal(index.status, 200);
      assert.equal(index.headers['content-security-policy'], contentSecurityPolicy());
      assert.match(index.headers['content-type']!, /text\/html/);
      assert.deepEqual(index.body, fs.readFileSync(path.join(dist, 'renderer', 'index.html')));
      assert.deepEqual((await app.fetch('app://renderer/')).body, index.body);
      const assets = [...index.body.toString().matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
      assert.ok(
        assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')),
        `assets in index.html: ${assets}`,
      );
      for (const asset of assets) {
        const response = await app.fetch(`app://renderer/${asset}`);
        assert.equal(response.status, 200, asset);
        assert.equal(response.headers['content-security-policy'], contentSecurityPolicy(), asset);
        assert.deepEqual(response.body, fs.readFileSync(path.join(dist, 'renderer', asset)), asset);
      }
      // package.json is two folders up from the renderer: a handler that let the path out would serve it.
      assert.ok(fs.existsSync(path.join(dist, 'renderer', '..', '..', 'package.json')));
      for (const url of [
        'app://renderer/../../package.json',
        'app://renderer/%2e%2e/%2e%2e/package.json',
        'app://renderer/..%2f..%2fpackage.json',
        'app://renderer/assets/..%2f..%2f..%2fpackage.json',
        'app://renderer/%2e%2e%2f%2e%2e%2fpackage.json',
        'app://renderer/..%5c..%5cpackage.json',
        'app://renderer/%2F' + encodeURIComponent(path.join(projectRoot, 'package.json').slice(1)),
        'app://renderer/index.html%00',
        'app://renderer/no-such-file.js',
      ]) {
        const response = await app.fetch(url);
        assert.equal(response.status, 404, url);
        assert.doesNotMatch(response.body.toString(), /fashion-sorter/, url);
      }
      assert.ok(fs.existsSync(path.join(userData, 'catalog.sqlite')), 'the catalog lives in Electron userData');
    } finally {
      await app.kill();
    }
  },
);

test(
  'one folder of photos through the built services and their worker threads: imported, classified, served by hash, exported to CSV and sorted; every IPC channel answers the app and refuses others',
  { timeout: 300_000 },
  async () => {
    const { app, dir, userData, xdgConfig } = launch('flow');
    const photos = path.join(dir, 'photos');
    const files = await writePackshots(data.test.images, 24, path.join(photos, 'shoot 1'), { seed: 5 });
    fs.writeFileSync(path.join(photos, 'broken.jpg'), 'not a photo');
    const truth = new Map(files.map((f, i) => [f, data.test.labels[i]!]));
    const answered = new Set<string>();
    /** A valid call from the app's page; notes the channel as answered. */
    const call = async <T>(channel: string, ...args: unknown[]): Promise<T> => {
      const value = await app.invoke<T>(channel, args);
      answered.add(channel);
      return value;
    };
    try {
      await servicesReady(app);
      assert.equal((await call<AppInfo>(CHANNELS.appInfo)).thumbnailBase, 'thumb://photo/');

      // Import through the IPC handler, as a drop on the window does; the photo and inference workers do the work.
      const started = await call<ImportStatus>(CHANNELS.importPaths, [photos]);
      assert.ok(started.running);
      const imported = await untilIdle<ImportStatus>(app, CHANNELS.importStatus);
      answered.add(CHANNELS.importStatus);
      assert.deepEqual(
        { phase: imported.phase, found: imported.found, done: imported.done, failed: imported.failed },
        { phase: 'done', found: 25, done: 24, failed: 1 },
      );
      // The window heard of it over the one job channel: its start, and its end as importStatus tells it.
      const pushed = (await app.record()).windows[0]!.sent.filter((m) => m.channel === JOB_CHANNEL).map(
        (m) => m.args[0] as JobUpdate,
      );
      assert.deepEqual(pushed[0], { kind: 'import', status: started });
      assert.deepEqual(pushed.at(-1), { kind: 'import', status: imported });
      const errors = await call<{ total: number; rows: { path: string; reason: string }[] }>(
        CHANNELS.importErrors,
        0,
        10,
      );
      assert.deepEqual(
        errors.rows.map((r) => r.path),
        [path.join(photos, 'broken.jpg')],
      );
      const counts = await call<{ total: number; perCategory: number[] }>(CHANNELS.counts, DEFAULT_REVIEW_RULE);
      assert.equal(counts.total, 24);
      assert.equal(
        counts.perCategory.reduce((a, b) => a + b, 0),
        24,
        'every photo classified',
      );
      const sizes = await call<SelectionCounts>(CHANNELS.selectionCounts, { rule: DEFAULT_REVIEW_RULE });
      assert.deepEqual(sizes.all, { photos: 24, files: 24, catalogRows: 24, fashionMnistRows: 24 });
      assert.equal(await call(CHANNELS.catalogWait), null, 'nothing waits for the catalog');
      const version = await call<number>(CHANNELS.catalogChanges);
      assert.equal(typeof version, 'number');
      assert.equal(await call(CHANNELS.catalogChanges), version, 'no other program wrote to the catalog');

      const query = { ...selectAll, sort: 'name' as const, descending: false, offset: 0, limit: 100 };
      const page = await call<Page>(CHANNELS.page, query);
      assert.equal(page.tiles.length, 24);
      const ids = await call<number[]>(CHANNELS.photoIds, query);
      assert.deepEqual(
        ids,
        page.tiles.map((tile) => tile.id),
      );
      const detail = await call<PhotoDetail>(CHANNELS.photo, ids[0]);
      assert.equal(detail.pixels.length, 784);
      const firstFile = detail.paths[0]!;
      assert.equal(detail.hash, sha256(firstFile));

      // thumb:// and photo:// serve catalog files by content hash, and nothing else.
      const thumb = await app.fetch(`thumb://photo/${detail.hash}`);
      assert.equal(thumb.status, 200);
      assert.deepEqual(
        thumb.body,
        fs.readFileSync(thumbnailPath(path.join(userData, 'thumbnails'), detail.hash)),
        'thumbnails are kept in userData',
      );
      const photo = await app.fetch(`photo://file/${detail.hash}`);
      assert.equal(photo.status, 200);
      assert.deepEqual(photo.body, fs.readFileSync(firstFile));
      const secret = path.join(dir, 'secret.txt');
      fs.writeFileSync(secret, 'secret');
      for (const url of [
        `photo://file/${encodeURIComponent(firstFile)}`,
        `photo://file/${encodeURIComponent(secret)}`,
        `thumb://photo/${encodeURIComponent(secret)}`,
        'photo://file/../../../../etc/passwd',
        'photo://file/..%2f..%2f..%2fetc%2fpasswd',
        `thumb://photo/..%2f..%2fcatalog.sqlite`,
        `photo://file/${'0'.repeat(64)}`,
        `thumb://photo/${'f'.repeat(64)}`,
        `photo://file/${detail.hash.toUpperCase()}`,
        `photo://file/${detail.hash}%00`,
        'photo://file/',
        `photo://file/${sha256(secret)}`,
      ]) {
        assert.equal((await app.fetch(url)).status, 404, url);
      }

      // A reviewer's label, the model's pages.
      const trueLabel = truth.get(firstFile)!;
      await call(CHANNELS.setLabels, [{ photoId: ids[0], label: trueLabel }]);
      assert.ok((await call<{ accuracy: number } | null>(CHANNELS.modelReport))!.accuracy > 0.9);
      assert.equal((await call<{ minimumLabels: number }>(CHANNELS.improveRequirements)).minimumLabels, 50);
      const versions = await call<ModelVersion[]>(CHANNELS.modelVersions);
      assert.deepEqual(
        versions.map((v) => [v.name, v.active]),
        [['resnet9-mini', true]],
      );

      // Export: the save dialog (the stand-in answers it) and the export worker.
      const csvFile = path.join(dir, 'out', 'catalog.csv');
      fs.mkdirSync(path.dirname(csvFile));
      await app.request('answerDialog', { kind: 'save', answer: { canceled: false, filePath: csvFile } });
      const exported = await call<{ file: string; rows: number; photos: number }>(CHANNELS.exportCsv, {
        format: 'catalog',
        selection: selectAll,
        bom: false,
      });
      assert.deepEqual(
        { file: exported.file, rows: exported.rows, photos: exported.photos },
        { file: csvFile, rows: 24, photos: 24 },
      );
      const rows = parse(fs.readFileSync(csvFile), { columns: true }) as Record<string, string>[];
      assert.deepEqual(rows.map((r) => r.path).sort(), [...files].sort());
      let correct = 0;
      for (const row of rows) {
        assert.equal(row.hash, sha256(row.path!), row.path);
        assert.equal(row.file_name, path.basename(row.path!));
        assert.equal(row.category_name, CLASS_NAMES[Number(row.category_id)], row.path);
        assert.equal(row.source, row.path === firstFile ? 'reviewer' : 'model', row.path);
        assert.equal(row.model_version !== '', true);
        if (Number(row.predicted_id) === truth.get(row.path!)) correct++;
      }
      assert.ok(correct >= 18, `the shipped model got ${correct} of 24 packshots right`);

      // Sort into folders: the folder dialog, the dry run, the copy.
      const dest = path.join(dir, 'sorted');
      await app.request('answerDialog', { kind: 'open', answer: { canceled: false, filePaths: [dest] } });
      assert.equal(await call(CHANNELS.chooseSortDestination), dest);
      const defaults = await call<{ folders: string[]; dest: string }>(CHANNELS.sortDefaults);
      assert.deepEqual(defaults, { folders: [...DEFAULT_FOLDER_NAMES], dest });
      const sortOptions = { mode: 'copy', selection: selectAll, folders: defaults.folders };
      const plan = await call<SortPlan>(CHANNELS.previewSort, sortOptions);
      assert.equal(plan.photos, 24);
      assert.ok((await call<SortStatus>(CHANNELS.startSort, sortOptions)).running);
      const sorted = await untilIdle<SortStatus>(app, CHANNELS.sortStatus);
      answered.add(CHANNELS.sortStatus);
      assert.equal(sorted.phase, 'done', sorted.problem ?? '');
      for (const row of rows) {
        const target = path.join(dest, defaults.folders[Number(row.category_id)]!, row.file_name!);
        assert.deepEqual(fs.readFileSync(target), fs.readFileSync(row.path!), target);
      }
      assert.equal(fs.readdirSync(dest, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length, 24);

      // The rest of the channels: nothing to cancel, a cancelled folder dialog, improving without enough labels, activation.
      await call(CHANNELS.cancelSort);
      await call(CHANNELS.cancelImport);
      const dialogsBefore = (await app.record()).dialogs.length;
      assert.equal(await call(CHANNELS.chooseAndImport), null, 'the user cancelled the folder dialog');
      assert.deepEqual((await app.record()).dialogs.slice(dialogsBefore), [
        { kind: 'open', window: 1, title: 'Add photos' },
      ]);
      await call<ImproveStatus>(CHANNELS.improveModel);
      await call(CHANNELS.cancelImprove);
      const improved = await call<ImproveStatus>(CHANNELS.improveStatus);
      assert.ok(improved.phase === 'failed' || improved.phase === 'cancelled', improved.phase);
      if (improved.phase === 'failed') assert.match(improved.problem!, /at least 50 reviewed photos/);
      await call<ImproveStatus>(CHANNELS.activateModel, versions[0]!.id);
      assert.equal((await untilIdle<ImproveStatus>(app, CHANNELS.improveStatus)).phase, 'activated');

      // Fine-tuned versions live beside the catalog in userData/models: a version published there is deleted with
      // its files when discarded; one anywhere else (here: the platform's default data folder) keeps its files.
      const inUserData = path.join(userData, 'models', 'resnet9-mini-ft1');
      const elsewhere = path.join(xdgConfig, 'Fashion Sorter', 'models', 'resnet9-mini-ft2');
      const catalog = new Catalog(path.join(userData, 'catalog.sqlite'));
      const published = [inUserData, elsewhere].map((modelDir, i) => {
        fs.mkdirSync(modelDir, { recursive: true });
        fs.writeFileSync(path.join(modelDir, 'model.json'), '{}');
        return catalog.models.registerModel({
          name: path.basename(modelDir),
          version: `ft${i}`,
          dir: modelDir,
          card: {},
        }).id;
      });
      catalog.close();
      for (const id of published) await call(CHANNELS.discardModel, id);
      assert.ok(!fs.existsSync(inUserData), "a version in userData/models is the app's own");
      assert.ok(fs.existsSync(elsewhere), 'a version outside userData/models is not');
      assert.deepEqual(
        (await call<ModelVersion[]>(CHANNELS.modelVersions)).map((v) => v.name),
        ['resnet9-mini'],
      );

      // Removal and its undo through the built shell: a photo, then the whole import.
      const allIds = {
        queue: 'all',
        sort: 'name',
        descending: false,
        offset: 0,
        limit: 1000,
        rule: DEFAULT_REVIEW_RULE,
      };
      const [first] = await call<number[]>(CHANNELS.photoIds, allIds);
      const one = await call<{ id: number; photos: number }>(CHANNELS.removePhotos, [first]);
      assert.equal(one.photos, 1);
      assert.equal((await call<{ total: number }>(CHANNELS.counts, DEFAULT_REVIEW_RULE)).total, 23);
      assert.equal(await call(CHANNELS.restoreRemoval, one.id), 1);
      const whole = await call<{ id: number; photos: number }>(CHANNELS.removeImport, imported.jobId);
      assert.equal(whole.photos, 24);
      assert.deepEqual(
        (await call<{ id: number; removalId: number | null }[]>(CHANNELS.imports)).map((i) => [i.id, i.removalId]),
        [[imported.jobId, whole.id]],
      );
      assert.equal(await call(CHANNELS.restoreRemoval, whole.id), 24);

      // The Errors list's actions: the broken file shown in the file manager, imported again (and failing again,
      // so the first failure is superseded and cleared); a path no import found is refused.
      const broken = path.join(photos, 'broken.jpg');
      await call(CHANNELS.revealFile, broken);
      assert.deepEqual((await app.record()).revealed, [broken]);
      await assert.rejects(
        app.invoke(CHANNELS.revealFile, [path.join(dir, 'elsewhere.jpg')]),
        /not a file an import found/,
      );
      await assert.rejects(app.invoke(CHANNELS.retryImport, [path.join(photos, 'x.jpg')]), /is not in the Errors list/);
      assert.ok((await call<ImportStatus>(CHANNELS.retryImport, broken)).running);
      const retried = await untilIdle<ImportStatus>(app, CHANNELS.importStatus);
      assert.equal(retried.failed, 1);
      assert.equal(await call(CHANNELS.clearResolvedErrors), 1);
      assert.deepEqual(
        (await call<{ rows: { path: string }[] }>(CHANNELS.importErrors, 0, 10)).rows.map((r) => r.path),
        [broken],
      );

      assert.deepEqual([...answered].sort(), Object.values(CHANNELS).sort(), 'every channel answered a valid call');

      // Every channel refuses other frames and malformed payloads, with a message saying which and why.
      for (const [method, channel] of Object.entries(CHANNELS) as [keyof FashionSorterApi, string][]) {
        for (const sender of [
          'https://evil.example/',
          'file:///tmp/page.html',
          'app://renderer.evil.example/index.html',
        ]) {
          await assert.rejects(
            app.invoke(channel, [], sender),
            { message: new RegExp(`^refused ${channel} from ${escapeRegExp(sender)}$`) },
            `${channel} from ${sender}`,
          );
        }
        const arity = (ARGUMENTS[method] as unknown as { def: { items: unknown[] } }).def.items.length;
        await assert.rejects(
          app.invoke(channel, new Array(arity + 1).fill(1)),
          { message: new RegExp(`^invalid arguments for ${method}: `) },
          channel,
        );
        if (arity > 0)
          await assert.rejects(
            app.invoke(channel, new Array(arity).fill({ path: '/etc/passwd' })),
            { message: new RegExp(`^invalid arguments for ${method}: `) },
            channel,
          );
      }
      await assert.rejects(app.invoke(CHANNELS.importPaths, [['relative/folder']]), {
        message: 'invalid arguments for importPaths: 0.0: must be an absolute path',
      });
      // None of them reached a service: no dialog opened, no import started, the catalog as it was.
      assert.equal((await app.record()).dialogs.length, dialogsBefore + 1);
      assert.equal((await call<ImportStatus>(CHANNELS.importStatus)).jobId, retried.jobId);
      assert.equal((await call<{ total: number }>(CHANNELS.counts, DEFAULT_REVIEW_RULE)).total, 24);
    } finally {
      await app.kill();
    }
  },
);

test(
  'quitting during an import cancels it and closes the catalog before the process exits, within the bound',
  { timeout: 180_000 },
  async (t) => {
    const { app, dir, userData } = launch('quit');
    const photos = path.join(dir, 'photos');
    await writePackshots(data.test.images, 400, photos, { seed: 9, size: { width: 96, height: 96 } });
    const catalogFile = path.join(userData, 'catalog.sqlite');
    await servicesReady(app);
    await app.invoke(CHANNELS.importPaths, [[photos]]);
    const midway = await waitFor('the import under way', async () => {
      const status = await app.invoke<ImportStatus>(CHANNELS.importStatus, []);
      assert.ok(
        status.running,
        `the import finished before the test could quit (${status.phase}, ${status.done} done): import more photos`,
      );
      return status.done > 0 ? status : undefined;
    });
    assert.ok(fs.existsSync(`${catalogFile}-wal`), 'the catalog is being written');
    const quitAt = performance.now();
    await app.request('quit');
    const { code, record } = await app.exited;
    const seconds = (performance.now() - quitAt) / 1000;
    t.diagnostic(`quit ${midway.done} of 400 photos into the import; the process exited ${seconds.toFixed(2)} s later`);
    assert.equal(code, 0, app.stderr());
    assert.ok(seconds < 5 + 3, `exited within the 5 s bound (plus start-up slack): ${seconds} s`);
    assert.deepEqual(record!.quitEvents, ['before-quit prevented', 'before-quit', 'will-quit', 'quit']);
    // Closed cleanly: SQLite removes the write-ahead log when the last connection closes after a checkpoint.
    assert.ok(!fs.existsSync(`${catalogFile}-wal`), 'the catalog was closed (no write-ahead log left)');
    const catalog = new Catalog(catalogFile);
    try {
      assert.equal(catalog.imports.job(midway.jobId)?.status, 'cancelled');
      const imported = rawDb(catalog).prepare('SELECT COUNT(*) FROM photos').pluck().get() as number;
      assert.ok(imported >= midway.done && imported < 400, `${imported} photos imported`);
    } finally {
      catalog.close();
    }
  },
);

test(
  'on macOS, menus, dialogs and a second launch reach the window opened again after the first was closed',
  { timeout: 120_000 },
  async () => {
    const { app } = launch('mac', { platform: 'darwin' });
    try {
      await servicesReady(app);
      const menu = (await app.record()).menu!;
      assert.equal(menu[0]!.role, 'appMenu', 'the shell saw darwin');
      assert.equal(menu.find((m) => m.label === 'File')!.submenu!.at(-1)!.role, 'close');

      await app.request('closeWindow', { window: 1 });
      let record = await app.record();
      assert.ok(record.windows[0]!.destroyed);
      assert.deepEqual(record.quitEvents, [], 'closing the last window does not quit on macOS');
      // With no window: a menu command goes nowhere, a dialog stands alone, and nothing throws.
      await app.request('menu', { labels: ['File', 'Export…'] });
      assert.equal(await app.invoke(CHANNELS.chooseAndImport, []), null);

      await app.request('emit', { event: 'activate' });
      record = await app.record();
      assert.deepEqual(
        record.windows.map((w) => [w.id, w.destroyed]),
        [
          [1, true],
          [2, false],
        ],
      );
      await app.request('menu', { labels: ['File', 'Export…'] });
      await app.request('menu', { labels: ['View', 'Review'] });
      await app.request('answerDialog', { kind: 'save', answer: { canceled: true } });
      assert.equal(
        await app.invoke(CHANNELS.exportCsv, [{ format: 'catalog', selection: selectAll, bom: false }]),
        null,
      );
      assert.equal(await app.invoke(CHANNELS.chooseAndImport, []), null);
      await app.request('minimize', { window: 2 });
      await app.request('emit', { event: 'second-instance', args: [['fashion-sorter'], '/'] });
      record = await app.record();
      const [closed, reopened] = record.windows;
      assert.deepEqual(closed!.sent, []);
      assert.deepEqual(reopened!.sent, [
        { channel: MENU_CHANNEL, args: ['export'] },
        { channel: MENU_CHANNEL, args: ['show-review'] },
      ]);
      assert.deepEqual(
        record.dialogs.map((d) => [d.kind, d.window]),
        [
          ['open', null],
          ['save', 2],
          ['open', 2],
        ],
      );
      assert.deepEqual(
        { minimized: reopened!.minimized, focused: reopened!.focusCount },
        { minimized: false, focused: 1 },
        'a second launch restores and focuses the window',
      );

      // A second launch with no window open brings one.
      await app.request('closeWindow', { window: 2 });
      await app.request('emit', { event: 'second-instance', args: [['fashion-sorter'], '/'] });
      record = await app.record();
      assert.deepEqual(
        record.windows.map((w) => [w.id, w.destroyed, w.focusCount]),
        [
          [1, true, 0],
          [2, true, 1],
          [3, false, 1],
        ],
      );
    } finally {
      await app.kill();
    }
  },
);

test(
  'a second instance that does not get the single-instance lock quits without setting anything up',
  { timeout: 60_000 },
  async () => {
    const { app, userData } = launch('second', { singleInstance: 'denied' });
    const { code, record } = await app.exited;
    assert.equal(code, 0, app.stderr());
    assert.ok(record!.singleInstanceLockRequested);
    assert.deepEqual(
      {
        windows: record!.windows,
        protocols: record!.protocols,
        schemes: record!.privilegedSchemes,
        ipc: record!.ipcChannels,
        menu: record!.menu,
        permissionHandler: record!.permissionHandler,
      },
      { windows: [], protocols: [], schemes: [], ipc: [], menu: null, permissionHandler: false },
    );
    assert.deepEqual(record!.appEvents, [], 'no app event handlers');
    assert.deepEqual(record!.quitEvents, ['before-quit', 'will-quit', 'quit']);
    assert.ok(
      !('better-sqlite3' in record!.resolved) && !('sharp' in record!.resolved),
      'the services were never loaded',
    );
    assert.deepEqual(fs.readdirSync(userData), [], 'nothing written to userData');
  },
);
