import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { PageQuery } from '../contract/api.ts';
import { createServices, type Services } from '../electron/app/services.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { callValidated } from '../electron/ipc.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

const data = await loadFashionMnist({ allowDownload: false });
const dir = tempDir('services');
const photos = path.join(dir, 'photos');
let services: Services;
const query: PageQuery = {
  queue: 'all',
  sort: 'confidence',
  descending: false,
  offset: 0,
  limit: 100,
  rule: DEFAULT_REVIEW_RULE,
};

before(async () => {
  await writePackshots(data.test.images, 30, photos, { seed: 9 });
  services = createServices({
    catalogFile: path.join(dir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dir, 'thumbs'),
    chooseFolders: async () => [photos],
    reviewer: 'ana',
  });
  const started = await services.api.chooseAndImport();
  assert.equal(started?.running, true);
  for (;;) {
    const status = await services.api.importStatus();
    if (!status!.running) break;
    await new Promise((r) => setTimeout(r, 50));
  }
});
after(() => services.close());

test('an import through the services fills the catalog: counts, pages, detail with the model-eye view', async () => {
  const status = (await services.api.importStatus())!;
  assert.equal(status.phase, 'done');
  assert.equal(status.done, 30);
  const counts = await services.api.counts(DEFAULT_REVIEW_RULE);
  assert.equal(counts.total, 30);
  assert.equal(
    counts.perCategory.reduce((a, b) => a + b, 0),
    30,
  );
  const page = await services.api.page(query);
  assert.equal(page.total, 30);
  assert.ok(
    page.tiles.every((t, i) => i === 0 || t.confidence! >= page.tiles[i - 1]!.confidence!),
    'least confident first',
  );
  const byName = await services.api.page({ ...query, sort: 'name', search: 'photo-0001' });
  assert.deepEqual(
    byName.tiles.map((t) => t.name),
    Array.from({ length: 10 }, (_, i) => `photo-0001${i}.${i % 2 ? 'png' : 'jpg'}`),
  );
  const detail = await services.api.photo(page.tiles[0]!.id);
  assert.equal(detail.pixels.length, 784);
  assert.equal(detail.probabilities!.length, 10);
  assert.equal(detail.paths.length, 1);
  assert.ok(await services.thumbnailFile(detail.hash));
  assert.equal(await services.photoFile(detail.hash), detail.paths[0]);
});

test('labels: set in bulk, undone with what setLabels returned, every step kept in the log', async () => {
  const { tiles } = await services.api.page(query);
  const ids = tiles.slice(0, 3).map((t) => t.id);
  const previous = await services.api.setLabels(ids.map((photoId) => ({ photoId, label: 6 })));
  assert.deepEqual(
    previous,
    ids.map((photoId) => ({ photoId, label: null })),
  );
  assert.equal((await services.api.counts(DEFAULT_REVIEW_RULE)).reviewed, 3);
  assert.equal((await services.api.page({ ...query, queue: 'reviewed' })).total, 3);
  await services.api.setLabels(previous);
  assert.equal((await services.api.counts(DEFAULT_REVIEW_RULE)).reviewed, 0);
  const detail = await services.api.photo(ids[0]!);
  assert.deepEqual(
    detail.history.map((h) => [h.oldLabel, h.newLabel, h.reviewer]),
    [
      [null, 6, 'ana'],
      [6, null, 'ana'],
    ],
  );
  const report = (await services.api.modelReport())!;
  assert.equal(report.agreement.length, 10);
  assert.equal(report.confusion.length, 10);
  assert.ok(report.history.length > 0);
});

test('malformed calls are refused before any service runs, with the reason', async () => {
  const refused = async (method: Parameters<typeof callValidated>[1], args: unknown[], pattern: RegExp) => {
    await assert.rejects(callValidated(services.api, method, args), pattern);
  };
  await refused('setLabels', [[{ photoId: 1, label: 10 }]], /invalid arguments for setLabels: 0\.0\.label/);
  await refused('setLabels', [[{ photoId: 1, label: 2, sneaky: true }]], /invalid arguments for setLabels/);
  await refused('setLabels', [[]], /invalid arguments for setLabels/);
  await refused('photo', ['1'], /invalid arguments for photo/);
  await refused('page', [{ ...query, limit: 1e9 }], /invalid arguments for page: 0\.limit/);
  await refused('page', [{ ...query, sort: 'path; DROP TABLE photos' }], /invalid arguments for page/);
  await refused('appInfo', ['extra'], /invalid arguments for appInfo/);
  assert.equal((await services.api.counts(DEFAULT_REVIEW_RULE)).reviewed, 0);
  assert.equal(((await callValidated(services.api, 'counts', [DEFAULT_REVIEW_RULE])) as { total: number }).total, 30);
});

test('thumbnails are served only for photos in the catalog, by hash; no path gets through', async () => {
  for (const name of ['../../etc/passwd', '/etc/passwd', 'a'.repeat(64), `${'0'.repeat(63)}/`, '']) {
    assert.equal(await services.thumbnailFile(name), undefined);
    assert.equal(await services.photoFile(name), undefined);
  }
});

// Last: it edits a photo of the shared folder.
test('a photo edited in place since its import is not served as the photo it was (the review would show another one)', async () => {
  const { tiles } = await services.api.page(query);
  const detail = await services.api.photo(tiles[0]!.id);
  const file = detail.paths[0]!;
  assert.equal(await services.photoFile(detail.hash), file);
  fs.writeFileSync(file, Buffer.concat([fs.readFileSync(file), Buffer.from('retouched')]));
  assert.equal(await services.photoFile(detail.hash), undefined);
});

test("files that share their bytes: the window's import status says files and distinct photos", async () => {
  const dupDir = tempDir('services-same-bytes');
  const [first] = await writePackshots(data.test.images, 2, path.join(dupDir, 'photos'), { seed: 12 });
  fs.copyFileSync(first!, path.join(dupDir, 'photos', 'SKU-1002.jpg'));
  const own = createServices({
    catalogFile: path.join(dupDir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dupDir, 'thumbs'),
    chooseFolders: async () => [path.join(dupDir, 'photos')],
  });
  try {
    assert.equal((await own.api.chooseAndImport())?.photos, null, 'not known while it runs');
    let status = (await own.api.importStatus())!;
    while (status.running) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await own.api.importStatus())!;
    }
    assert.deepEqual([status.phase, status.done, status.photos], ['done', 3, 2]);
    const counts = await own.api.counts(DEFAULT_REVIEW_RULE);
    assert.deepEqual([counts.files, counts.total], [3, 2], 'the window says 3 files (2 distinct photos)');
    // Imported again: the same paths are no new files.
    await own.api.chooseAndImport();
    while ((await own.api.importStatus())!.running) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      [(await own.api.counts(DEFAULT_REVIEW_RULE)).files, (await own.api.counts(DEFAULT_REVIEW_RULE)).total],
      [3, 2],
    );
  } finally {
    await own.close();
  }
});
