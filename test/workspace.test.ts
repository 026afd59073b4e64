import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { createServices, type Services } from '../electron/api/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { writePackshots } from '../electron/photos/samplePhotos.ts';
import { CHROMIUM, openRenderer, type RendererSession } from './helpers/browser.ts';
import { tempDir } from './helpers/photos.ts';

const skip = !fs.existsSync(CHROMIUM) && `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');
const dir = tempDir('workspace');
const photos = path.join(dir, 'photos');
const catalogFile = path.join(dir, 'catalog.sqlite');
let services: Services;
let ui: RendererSession;

before(async () => {
  if (skip) return;
  const data = await loadFashionMnist({ allowDownload: false });
  await writePackshots(data.test.images, 40, photos, { seed: 21 });
  fs.writeFileSync(path.join(photos, 'broken.jpg'), 'not a photo at all\n');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  services = createServices({ catalogFile, thumbnailsDir: path.join(dir, 'thumbs'), thumbnailBase: '/thumb/', chooseFolders: async () => [photos], reviewer: 'tester' });
  ui = await openRenderer(services);
  await ui.page.setViewportSize({ width: 1280, height: 800 });
});
after(async () => {
  await ui?.close();
  await services?.close();
});

test('Add photos imports a folder and the grid fills with thumbnails, categories and confidences', { skip, timeout: 300_000 }, async () => {
  const { page } = ui;
  await page.getByRole('button', { name: 'Add photos…' }).click();
  await page.getByTestId('import-summary').filter({ hasText: 'Imported: 40 photos, 1 failed' }).waitFor({ timeout: 240_000 });
  await page.getByTestId('grid-total').filter({ hasText: '40 photos' }).waitFor();
  assert.equal(await page.getByTestId('count-all').textContent(), '40');
  const tiles = page.getByTestId('tile');
  await tiles.first().waitFor();
  assert.ok(await tiles.count() >= 12, 'the visible part of the grid is rendered');
  // Thumbnails really load (served by hash from the catalog's cache).
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="tile"] img')].some((img) => (img as HTMLImageElement).naturalWidth > 0));
  assert.match((await tiles.first().getAttribute('aria-label'))!, /^photo-\d{5}\.(jpg|png): .+, \d+\.\d% sure$/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'catalog-grid.png') });
  assert.deepEqual(ui.problems, []);
});

test('bulk relabel: select a range with shift-click, set a category, and find the labels in the SQLite file', { skip, timeout: 120_000 }, async () => {
  const { page } = ui;
  const tiles = page.getByTestId('tile');
  await tiles.nth(0).click();
  await tiles.nth(4).click({ modifiers: ['Shift'] });
  await tiles.nth(6).click({ modifiers: ['Control'] });
  await page.getByLabel('Set category').selectOption({ label: 'Shirt' });
  await page.getByRole('button', { name: 'Apply to 6' }).click();
  await page.getByTestId('count-reviewed').filter({ hasText: '6' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'catalog-relabeled.png') });
  const db = new Database(catalogFile, { readonly: true });
  try {
    assert.equal(db.prepare(`SELECT count(*) FROM photos WHERE label = 6`).pluck().get(), 6);
    assert.equal(db.prepare(`SELECT count(*) FROM labels WHERE new_label = 6 AND reviewer = 'tester'`).pluck().get(), 6);
  } finally {
    db.close();
  }
});

test('the Errors queue shows the broken file and why', { skip, timeout: 60_000 }, async () => {
  const { page } = ui;
  await page.getByRole('button', { name: /^Errors/ }).click();
  const row = page.getByRole('row').filter({ hasText: 'broken.jpg' });
  await row.waitFor();
  assert.match((await row.textContent())!, /not an image: the file holds text/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'errors.png') });
  assert.deepEqual(ui.problems, []);
});
