import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Services } from '../electron/app/services.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { NUM_CLASSES } from '../contract/categories.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import {
  browserServices,
  openRenderer,
  type RendererSession,
  SKIP_WITHOUT_CHROMIUM,
  tileName,
} from './helpers/browser.ts';
import { testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const FIRST = 24;
const ADDED = 12;
const dir = tempDir('grid-keys');
const catalogFile = path.join(dir, 'catalog.sqlite');
let services: Services;
let ui: RendererSession;
let db: Database.Database;

async function importAndWait(folder: string) {
  await services.api.importPaths([folder]);
  while ((await services.api.importStatus())?.running) await sleep(200);
}

// A catalog as the app's import makes it (the shipped model predicts every photo), 24 unreviewed photos.
before(async () => {
  if (skip) return;
  const photos = path.join(dir, 'photos');
  await writePackshots(testSet.images, FIRST, photos, { seed: 3, size: { width: 120, height: 150 } });
  services = browserServices(dir);
  await importAndWait(photos);
  db = new Database(catalogFile, { readonly: true });
  ui = await openRenderer(services);
  await ui.page.setViewportSize({ width: 1280, height: 800 });
  await tiles().first().waitFor();
});
after(async () => {
  db?.close();
  await ui?.close();
  await services?.close();
});

const tiles = () => ui.page.getByTestId('tile');
const tile = (index: number) => ui.page.locator(`[data-testid="tile"][data-index="${index}"]`);
const labelOf = (id: number) => db.prepare('SELECT label FROM photos WHERE id = ?').pluck().get(id) as number | null;
const idOfName = (name: string) =>
  db.prepare('SELECT photo_id FROM photo_paths WHERE name = ?').pluck().get(name) as number;
const nameAt = async (index: number) => tileName((await tile(index).getAttribute('aria-label'))!);
/** Runs `expression` in the page (the page's DOM, which this project's Node types do not describe). */
const inPage = <T>(expression: string) => ui.page.evaluate(expression) as Promise<T>;
const tilesJs = `Array.from(document.querySelectorAll('[data-testid="tile"]'))`;
/** The grid indexes of the selected tiles, ascending. */
const selectedIndexes = () =>
  inPage<number[]>(
    `${tilesJs}.filter((e) => e.getAttribute('aria-pressed') === 'true').map((e) => Number(e.dataset.index)).sort((a, b) => a - b)`,
  );
/** The tiles' file names in grid order. */
const namesInOrder = () =>
  inPage<string[]>(
    `${tilesJs}.sort((a, b) => a.dataset.index - b.dataset.index).map((e) => (${tileName.toString()})(e.getAttribute('aria-label')))`,
  );
/** The grid's layout: its viewport's inner right edge, the first tile's width and the rightmost tile's right edge. */
const layout = () =>
  inPage<{ innerRight: number; tileWidth: number; rightmost: number }>(`(() => {
    const grid = document.querySelector('[aria-label="Photos"]');
    const boxes = ${tilesJs}.map((t) => t.getBoundingClientRect());
    return {
      innerRight: grid.getBoundingClientRect().left + grid.clientWidth,
      tileWidth: boxes[0].width,
      rightmost: Math.max(...boxes.map((b) => b.right)),
    };
  })()`);
/** Polls `expression` in the page until it is true (waitForFunction would compile it, which the app's CSP forbids). */
async function until(expression: string) {
  for (const end = Date.now() + 10_000; !(await inPage<boolean>(expression)); await sleep(50))
    if (Date.now() > end) throw new Error(`timed out waiting for ${expression}`);
}
/** Waits until the keyboard's focus is on the tile at `index`. */
const focusOn = (index: number) => until(`document.activeElement?.getAttribute('data-index') === '${index}'`);
/** The sidebar's count of category `k`. */
const sidebarCount = async (k: number) => Number(await ui.page.getByTestId(`count-category-${k}`).textContent());
/** How many photos of category `k` the queue holds, as the services count them. */
const inQueue = (queue: 'all' | 'needsReview', k: number) =>
  services.api
    .page({ queue, category: k, sort: 'confidence', descending: false, offset: 0, limit: 1, rule: DEFAULT_REVIEW_RULE })
    .then((p) => p.total);
/** Waits until Review shows the photo `id`. */
const reviewShows = (id: number) =>
  until(`document.querySelector('[data-testid="review-photo"]')?.getAttribute('data-photo-id') === '${id}'`);
/** Waits until the grid has rendered `n` tiles. */
const rendered = (n: number) => until(`${tilesJs}.length === ${n}`);
/** The thumbnail size slider's thumb (role="slider"). */
const sizeSlider = () => ui.page.getByRole('slider', { name: 'Thumbnail size' });
/** Sets the thumbnail size slider (96–320 px in steps of 8) from the keyboard: Home, then one arrow press per step. */
async function setSize(px: number) {
  const slider = sizeSlider();
  await slider.focus();
  await ui.page.keyboard.press('Home');
  for (let size = 96; size < px; size += 8) await ui.page.keyboard.press('ArrowRight');
  assert.equal(await slider.getAttribute('aria-valuenow'), String(px));
}

test('the columns fill the grid at two window widths, and the slider sets the tile size', { skip }, async () => {
  const { page } = ui;
  // A tile's box is the cell less its 4-px margin on each side: 8 px is one gutter between tiles.
  const GUTTER = 8;
  for (const width of [1280, 900]) {
    await page.setViewportSize({ width, height: 800 });
    await setSize(176);
    await page.waitForTimeout(100);
    const { innerRight, rightmost, tileWidth } = await layout();
    assert.ok(
      innerRight - rightmost <= GUTTER,
      `at ${width} px the last column ends ${innerRight - rightmost} px from the right`,
    );
    assert.ok(tileWidth >= 176 - GUTTER, `tiles are at least the chosen size (${tileWidth} px)`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  const before = (await layout()).tileWidth;
  await setSize(96);
  await page.waitForTimeout(100);
  const small = await layout();
  assert.ok(
    small.tileWidth < before * 0.65,
    `the smallest size makes tiles smaller (${before} → ${small.tileWidth} px)`,
  );
  assert.ok(small.innerRight - small.rightmost <= GUTTER, 'small tiles fill the width too');
  // The size is kept for the next start.
  await page.reload();
  await tiles().first().waitFor();
  assert.equal(await sizeSlider().getAttribute('aria-valuenow'), '96');
  assert.equal((await layout()).tileWidth, small.tileWidth);
  await setSize(160);
  // The slider positions its thumb under the strict CSP (style-src 'self') without a violation.
  assert.deepEqual(ui.problems, []);
});

test('hovering a tile shows its file name and confidence, and marks the tile', { skip }, async () => {
  const { page } = ui;
  const first = tile(0);
  const hover = first.getByTestId('tile-hover');
  const name = await nameAt(0);
  await page.mouse.move(1, 1);
  assert.equal(await hover.isVisible(), false, 'hidden until hovered');
  const background = () =>
    inPage<string>(`getComputedStyle(document.querySelector('[data-testid="tile"][data-index="0"]')).backgroundColor`);
  const idle = await background();
  await first.hover();
  await hover.waitFor({ state: 'visible' });
  assert.match((await hover.textContent())!, new RegExp(`^${name.replace('.', '\\.')}\\d+\\.\\d% sure$`));
  assert.notEqual(await background(), idle, 'a hover state');
});

test('arrows move and select, Shift+arrows extend, Ctrl+A selects all, Esc clears', { skip }, async () => {
  const { page } = ui;
  await tile(0).click();
  assert.deepEqual(await selectedIndexes(), [0]);
  await page.keyboard.press('ArrowRight');
  await focusOn(1);
  assert.deepEqual(await selectedIndexes(), [1]);
  await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Shift+ArrowRight');
  await focusOn(3);
  assert.deepEqual(await selectedIndexes(), [1, 2, 3]);
  const perRow = Number(await page.getByRole('table', { name: 'Photos' }).getAttribute('aria-colcount'));
  assert.ok(perRow > 1 && FIRST > 3 + perRow, `${perRow} columns, and rows below`);
  await page.keyboard.press('Shift+ArrowDown');
  const below = 3 + perRow;
  await focusOn(below);
  assert.deepEqual(
    await selectedIndexes(),
    Array.from({ length: below }, (_, i) => i + 1),
  );
  await page.keyboard.press('Control+a');
  await page
    .getByTestId('grid-selected')
    .filter({ hasText: `${FIRST} selected` })
    .waitFor();
  await page.keyboard.press('Escape');
  await page.getByTestId('grid-selected').waitFor({ state: 'detached' });
  assert.deepEqual(await selectedIndexes(), []);
  // A digit typed in the name search labels nothing: the grid's keys are the grid's alone.
  await tile(0).click();
  await page.getByRole('searchbox').focus();
  await page.keyboard.press('4');
  await page.getByRole('searchbox').fill('');
  assert.equal(labelOf(idOfName(await nameAt(0))), null);
});

test('a digit labels every selected photo as one step, and Z undoes it', { skip }, async () => {
  const { page } = ui;
  await tile(2).click();
  await tile(4).click({ modifiers: ['Shift'] });
  await tile(7).click({ modifiers: ['Control'] });
  const ids = await Promise.all([2, 3, 4, 7].map(async (i) => idOfName(await nameAt(i))));
  assert.deepEqual(await selectedIndexes(), [2, 3, 4, 7]);
  await page.keyboard.press('8');
  while (ids.some((id) => labelOf(id) !== 8)) await sleep(50);
  assert.ok((await page.getByTestId('tile').count()) >= FIRST, 'the labeled photos stay in the All photos queue');
  await page.keyboard.press('z');
  await page.getByTestId('undo-toast').filter({ hasText: 'Undid: 4 photos' }).waitFor();
  assert.deepEqual(
    ids.map((id) => labelOf(id)),
    [null, null, null, null],
  );
});

test(
  'relabelling the last tile of a category leaves the keyboard on the tile now last; Z undoes it, and its words leave with the view',
  { skip },
  async () => {
    const { page } = ui;
    const sizes = await Promise.all(Array.from({ length: NUM_CLASSES }, (_, k) => inQueue('all', k)));
    const k = sizes.findIndex((n) => n >= 2);
    const n = sizes[k]!;
    const categoryButton = page.getByTestId(`count-category-${k}`).locator('..');
    await categoryButton.click();
    await rendered(n);
    await tile(n - 1).click();
    const id = idOfName(await nameAt(n - 1));
    await page.keyboard.press(String((k + 1) % 10));
    await rendered(n - 1);
    // Its tile and button are gone from this category: the keyboard is on the tile now last, not on the page.
    await focusOn(n - 2);
    await page.keyboard.press('z');
    const undone = page.getByTestId('undo-toast').filter({ hasText: 'Undid:' });
    await undone.waitFor();
    while (labelOf(id) !== null) await sleep(50);
    // Its words are about this view: another view does not get them over its content.
    await page.getByRole('tab', { name: 'Model' }).click();
    await undone.waitFor({ state: 'detached', timeout: 1500 }); // its own timer would keep it 4 s
    await page.getByRole('tab', { name: 'Catalog' }).click();
    await categoryButton.click();
    await rendered(FIRST);
  },
);

test(
  'a label set by another program (the command line) shows in the open window within seconds',
  { skip },
  async () => {
    const id = idOfName(await nameAt(0));
    const predicted = db.prepare('SELECT category FROM photos WHERE id = ?').pluck().get(id) as number;
    const other = (predicted + 1) % NUM_CLASSES;
    const before = await sidebarCount(other);
    const elsewhere = new Catalog(catalogFile);
    try {
      elsewhere.labels.setLabels([{ photoId: id, label: other }], 'cli');
      for (const end = Date.now() + 10_000; (await sidebarCount(other)) !== before + 1; await sleep(100))
        assert.ok(Date.now() < end, `the sidebar still counts ${await sidebarCount(other)} ${other}s`);
      elsewhere.labels.setLabels([{ photoId: id, label: null }], 'cli');
      for (const end = Date.now() + 10_000; (await sidebarCount(other)) !== before; await sleep(100))
        assert.ok(Date.now() < end, 'the undone label shows too');
    } finally {
      elsewhere.close();
    }
  },
);

test('a double-click, or Space on the focused tile, opens the photo in Review', { skip }, async () => {
  const { page } = ui;
  const review = page.getByTestId('review-photo');
  const want = idOfName(await nameAt(5));
  await tile(5).dblclick();
  await reviewShows(want);
  assert.equal(await page.getByRole('tab', { name: 'Review' }).getAttribute('aria-selected'), 'true');
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await tile(6).click();
  await page.keyboard.press('ArrowRight');
  await focusOn(7);
  const seventh = idOfName(await nameAt(7));
  await page.keyboard.press(' ');
  await reviewShows(seventh);
  assert.equal(await review.count(), 1);
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await tiles().first().waitFor();
});

test('the category counts follow the selected queue', { skip }, async () => {
  const { page } = ui;
  const count = sidebarCount;
  const wantAll = await Promise.all(Array.from({ length: NUM_CLASSES }, (_, k) => inQueue('all', k)));
  const wantNeedsReview = await Promise.all(Array.from({ length: NUM_CLASSES }, (_, k) => inQueue('needsReview', k)));
  assert.notDeepEqual(wantAll, wantNeedsReview, 'some confident photos leave the review queue');
  const shows = async (want: number[]) => {
    for (let tries = 0; tries < 50; tries++) {
      const got = await Promise.all(want.map((_, k) => count(k)));
      if (got.every((n, k) => n === want[k])) return;
      await sleep(100);
    }
    assert.deepEqual(await Promise.all(want.map((_, k) => count(k))), want);
  };
  await shows(wantAll);
  await page.getByRole('button', { name: /^Needs review/ }).click();
  await shows(wantNeedsReview);
  await page.getByRole('heading', { name: 'Categories in Needs review' }).waitFor();
  await page.getByRole('button', { name: /^All photos/ }).click();
  await shows(wantAll);
});

test(
  'photos imported while the grid is shown are appended: the tiles already there keep their order',
  { skip },
  async () => {
    const { page } = ui;
    await setSize(96);
    await rendered(FIRST);
    const shown = await namesInOrder();
    const added = path.join(dir, 'added');
    const files = await writePackshots(testSet.images.subarray(FIRST * 784), ADDED, added, {
      seed: 4,
      size: { width: 120, height: 150 },
    });
    for (const file of files) fs.renameSync(file, path.join(added, `added-${path.basename(file)}`));
    await importAndWait(added);
    await page
      .getByTestId('grid-total')
      .filter({ hasText: `${FIRST + ADDED} photos` })
      .waitFor();
    await rendered(FIRST + ADDED);
    const now = await namesInOrder();
    assert.deepEqual(now.slice(0, FIRST), shown, 'the earlier photos kept their places');
    assert.ok(
      now.slice(FIRST).every((name) => name.startsWith('added-')),
      'the new ones follow',
    );
    // The catalog's confidence order would have put some of them in between: that is what the grid held back.
    const sorted = await services.api.page({
      queue: 'all',
      sort: 'confidence',
      descending: false,
      offset: 0,
      limit: FIRST + ADDED,
      rule: DEFAULT_REVIEW_RULE,
    });
    assert.ok(
      sorted.tiles.slice(0, FIRST).some((t) => t.name.startsWith('added-')),
      'sorted afresh, new photos land among the earlier ones',
    );
    // A new order (another sort) sorts them in.
    await page.getByLabel('Sort by').selectOption('name');
    await until(
      `(${tileName.toString()})(document.querySelector('[data-testid="tile"][data-index="0"]')?.getAttribute('aria-label') ?? '').startsWith('added-')`,
    );
  },
);
