import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Services } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { CLASS_NAMES } from '../contract/categories.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import {
  openRenderer,
  type RendererSession,
  servicesWithImport,
  SKIP_WITHOUT_CHROMIUM,
  tileName,
} from './helpers/browser.ts';
import { testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');
const dir = tempDir('review-keys');
const catalogFile = path.join(dir, 'catalog.sqlite');
const csvFile = path.join(dir, 'labels.csv');
let services: Services;
let ui: RendererSession;
let db: Database.Database;

// The catalog as the app's import makes it (the shipped model predicts every photo), 12 unreviewed photos.
before(async () => {
  if (skip) return;
  const photos = path.join(dir, 'photos');
  await writePackshots(testSet.images, 12, photos, { seed: 9, size: { width: 120, height: 150 } });
  services = await servicesWithImport(dir, photos, { chooseSaveFile: async () => csvFile });
  db = new Database(catalogFile, { readonly: true });
  ui = await openRenderer(services);
  await ui.page.setViewportSize({ width: 1280, height: 800 });
});
after(async () => {
  db?.close();
  await ui?.close();
  await services?.close();
});

const labelOf = (id: number) => db.prepare('SELECT label FROM photos WHERE id = ?').pluck().get(id) as number | null;
const nameOf = (id: number) =>
  db.prepare('SELECT name FROM photo_paths WHERE photo_id = ? ORDER BY id LIMIT 1').pluck().get(id) as string;
const idOfName = (name: string) =>
  db.prepare('SELECT photo_id FROM photo_paths WHERE name = ?').pluck().get(name) as number;
const logLength = () => db.prepare('SELECT count(*) FROM labels').pluck().get() as number;
/** The label log's newest entries, newest last: [photo, label]. */
const lastLogged = (n: number) =>
  (db.prepare('SELECT photo_id, new_label FROM labels ORDER BY id DESC LIMIT ?').raw().all(n) as [number, number][])
    .reverse()
    .map(([photo, label]) => ({ photo, label }));

const stage = () => ui.page.getByTestId('review-photo');
const shown = async () => Number(await stage().getAttribute('data-photo-id'));
/** Waits until Review shows a photo other than `id` (or exactly `id` with `is`). */
const waitShown = (id: number, is = false) =>
  ui.page.waitForFunction(
    ([want, equal]) => {
      const at = (
        globalThis as unknown as { document: { querySelector(s: string): { getAttribute(n: string): string } | null } }
      ).document
        .querySelector('[data-testid="review-photo"]')
        ?.getAttribute('data-photo-id');
      return equal ? at === want : at !== undefined && at !== want;
    },
    [String(id), is] as const,
  );
const toast = (text: string) => ui.page.getByTestId('undo-toast').filter({ hasText: text }).waitFor();

test('with the Export dialog open over Review, 5 and Enter do not label: Enter saves the CSV', { skip }, async () => {
  const { page } = ui;
  // All photos, chosen: Review keeps it (it opens on Needs review only while no queue was chosen).
  await page.getByRole('button', { name: /^Reviewed/ }).click();
  await page.getByRole('button', { name: /^All photos/ }).click();
  await page.getByRole('tab', { name: 'Review' }).click();
  await stage().waitFor();
  await page.locator('body').click({ position: { x: 5, y: 600 } });
  const behind = await shown();
  const logged = logLength();
  await ui.menu('export');
  const dialog = page.getByRole('dialog', { name: 'Export' });
  await dialog.waitFor();
  await page.keyboard.press('5');
  await dialog.getByRole('button', { name: 'Save CSV…' }).focus();
  await page.keyboard.press('Enter');
  await dialog
    .getByTestId('export-result')
    .filter({ hasText: `to ${csvFile}` })
    .waitFor();
  assert.ok(fs.existsSync(csvFile), 'Enter on the focused button saved the CSV');
  assert.equal(logLength(), logged, 'nothing was labeled behind the dialog');
  assert.equal(await shown(), behind);
  assert.equal(labelOf(behind), null);
  // Focus is trapped: Tab past the last control comes round to the first, never to the page behind.
  const inDialog = `document.querySelector('[role="dialog"]').contains(document.activeElement)`;
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(inDialog), true, `focus left the dialog at Tab ${i + 1}`);
  }
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  // With the dialog closed the same key labels the photo.
  await page.keyboard.press('5');
  await waitShown(behind);
  assert.equal(labelOf(behind), 5);
});

test('two digits in the same instant label two photos, in order', { skip }, async () => {
  const { page } = ui;
  const first = await shown();
  const logged = logLength();
  await page.evaluate(() => {
    const g = globalThis as unknown as {
      document: { dispatchEvent(e: unknown): void };
      KeyboardEvent: new (type: string, init: object) => unknown;
    };
    for (const key of ['3', '4']) g.document.dispatchEvent(new g.KeyboardEvent('keydown', { key, bubbles: true }));
  });
  while (logLength() < logged + 2) await sleep(50);
  await sleep(300); // a third write would come now if a key were taken twice
  assert.equal(logLength(), logged + 2);
  const [a, b] = lastLogged(2);
  assert.deepEqual(a, { photo: first, label: 3 });
  assert.notEqual(b!.photo, first);
  assert.equal(b!.label, 4);
  // The second photo was the next one, and Review now shows the one after it.
  const third = await shown();
  assert.notEqual(third, b!.photo);
  await page.keyboard.press('k');
  await waitShown(b!.photo, true);
  await page.keyboard.press('j');
  await waitShown(third, true);
});

test('undo survives a switch to Catalog and back, and Z says what it undid', { skip }, async () => {
  const { page } = ui;
  const [, last] = lastLogged(2);
  const strip = page.getByTestId('decision-strip');
  assert.match(
    (await strip.getByRole('button').first().textContent())!,
    new RegExp(`${nameOf(last!.photo)}\\s*→ Coat`),
  );
  await page.getByTestId('review-counter').filter({ hasText: '3 reviewed' }).waitFor();
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await page.getByTestId('tile').first().waitFor();
  await page.getByRole('tab', { name: 'Review' }).click();
  await page.getByTestId('review-counter').filter({ hasText: '3 reviewed' }).waitFor();
  await page.locator('body').click({ position: { x: 5, y: 600 } });
  await page.keyboard.press('z');
  await toast(`Undid: ${nameOf(last!.photo)} back to unreviewed`);
  await waitShown(last!.photo, true);
  assert.equal(labelOf(last!.photo), null);
  await page.getByTestId('review-counter').filter({ hasText: '2 reviewed' }).waitFor();

  // A photo relabeled: Z takes it back to its earlier category, by name.
  await page.keyboard.press('6');
  await waitShown(last!.photo);
  await page.keyboard.press('k');
  await waitShown(last!.photo, true);
  await page.keyboard.press('2');
  await waitShown(last!.photo);
  while (labelOf(last!.photo) !== 2) await sleep(50);
  await page.keyboard.press('z');
  await toast(`Undid: ${nameOf(last!.photo)} back to ${CLASS_NAMES[6]}`);
  assert.equal(labelOf(last!.photo), 6);
  // Shift+Z redoes it.
  await page.keyboard.press('Shift+Z');
  await toast(`Redid: ${nameOf(last!.photo)} to ${CLASS_NAMES[2]}`);
  assert.equal(labelOf(last!.photo), 2);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'review-undo-strip.png') });

  // A click on the strip, from Catalog, shows that photo in Review.
  const [firstDecided] = lastLogged(100).filter((e) => e.label === 5);
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await page
    .getByTestId('decision-strip')
    .getByRole('button', { name: new RegExp(nameOf(firstDecided!.photo)) })
    .click();
  await page.getByRole('tab', { name: 'Review', selected: true }).waitFor();
  await waitShown(firstDecided!.photo, true);
  assert.deepEqual(ui.problems, []);
});

test('a bulk relabel needs a chosen category and is undone and redone as one step', { skip }, async () => {
  const { page } = ui;
  await page.getByRole('tab', { name: 'Catalog' }).click();
  const tiles = page.getByTestId('tile');
  await tiles.first().waitFor();
  await tiles.nth(0).click();
  await tiles.nth(3).click({ modifiers: ['Shift'] });
  const apply = page.getByRole('button', { name: 'Apply to 4' });
  assert.equal(await apply.isDisabled(), true, 'no category is chosen for the reviewer');
  const ids = await Promise.all(
    [0, 1, 2, 3].map(async (i) => idOfName(tileName((await tiles.nth(i).getAttribute('aria-label'))!))),
  );
  const before = new Map(ids.map((id) => [id, labelOf(id)]));
  await page.getByLabel('Set category').selectOption({ label: 'Bag' });
  await apply.click();
  while (ids.some((id) => labelOf(id) !== 8)) await sleep(50);
  await page.keyboard.press('z');
  await toast('Undid: 4 photos back to their earlier categories');
  for (const id of ids) assert.equal(labelOf(id), before.get(id), `photo ${id} is back`);
  await page.keyboard.press('Control+Shift+Z');
  await toast('Redid: 4 photos to Bag');
  for (const id of ids) assert.equal(labelOf(id), 8);
  assert.deepEqual(ui.problems, []);
});
