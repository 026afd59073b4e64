import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { CDPSession } from 'playwright-core';
import type { Services } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { writePackshots, writeShiftedPhotos } from './fixtures/samplePhotos.ts';
import { openRenderer, type RendererSession, servicesWithImport, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');
const dir = tempDir('review-layout');
const PHOTO = { width: 600, height: 750 };
const LONG_NAME = `${'a-very-long-supplier-file-name-'.repeat(6)}last.jpg`;
let services: Services;
let ui: RendererSession;
let db: Database.Database;
let counts: { total: number; needsReview: number };
let cdp: CDPSession | undefined;

// As the app's import makes them (the shipped model predicts each): 8 packshots of 600×750, one with a long name,
// and 6 photos from another shop (400×400), most of them in Needs review.
before(async () => {
  if (skip) return;
  const photos = path.join(dir, 'photos');
  const files = await writePackshots(testSet.images, 8, photos, { seed: 5, format: 'jpeg', size: PHOTO });
  fs.renameSync(files[7]!, path.join(photos, LONG_NAME));
  await writeShiftedPhotos(testSet.images.subarray(784 * 8), 6, photos, 3, 90);
  services = await servicesWithImport(dir, photos);
  counts = await services.api.counts(DEFAULT_REVIEW_RULE);
  db = new Database(path.join(dir, 'catalog.sqlite'), { readonly: true });
  ui = await openRenderer(services);
  await ui.page.setViewportSize({ width: 1280, height: 800 });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  db?.close();
  await ui?.close();
  await services?.close();
});

const box = async (testId: string) => (await ui.page.getByTestId(testId).boundingBox())!;
const img = () => ui.page.getByTestId('review-frame').locator('img');
const imgBox = async () => (await img().boundingBox())!;
const waitQueueOf = (n: number) =>
  ui.page
    .getByTestId('review-counter')
    .filter({ hasText: ` of ${n} · ` })
    .waitFor();
/** Sets the window's size in CSS px and its device pixel ratio (1.5: the system's 150 % zoom). */
async function windowOf(width: number, height: number, deviceScaleFactor = 1) {
  // The session stays open: the override ends with it.
  cdp ??= await ui.page.context().newCDPSession(ui.page);
  await cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor, mobile: false });
  await ui.page.waitForFunction(
    ([w, h, r]) => {
      const g = globalThis as unknown as Window;
      return g.innerWidth === w && g.innerHeight === h && g.devicePixelRatio === r;
    },
    [width, height, deviceScaleFactor] as const,
  );
  // Svelte's size bindings follow on the next frames.
  await ui.page.evaluate(() => {
    const g = globalThis as unknown as Window;
    return new Promise<void>((r) => g.requestAnimationFrame(() => g.requestAnimationFrame(r)));
  });
}
/** Saves the window as windowOf set it (Playwright's own screenshot would put its viewport back first). */
async function screenshot(name: string) {
  const { data } = await cdp!.send('Page.captureScreenshot', { format: 'png' });
  fs.writeFileSync(path.join(ARTIFACTS, name), Buffer.from(data, 'base64'));
}
/** What these tests use of the page's window (the tests' own types have no DOM). */
type Window = {
  innerWidth: number;
  innerHeight: number;
  devicePixelRatio: number;
  requestAnimationFrame(f: () => void): void;
  document: { querySelector(s: string): { getBoundingClientRect(): { width: number } } | null };
};
/** Waits until the photo's rendered width is `width` CSS px (within half a pixel), or over it with `above`. */
const waitImgWidth = (width: number, above = false) =>
  ui.page.waitForFunction(
    ([w, over]) => {
      const el = (globalThis as unknown as Window).document.querySelector('[data-testid="review-frame"] img');
      const at = el?.getBoundingClientRect().width ?? NaN;
      return over ? at > w : Math.abs(at - w) < 0.5;
    },
    [width, above] as const,
  );

test(
  'Review opens on Needs review; each filter is a chip there, and removing one widens the queue',
  { skip, timeout: 60_000 },
  async () => {
    assert.ok(counts.needsReview >= 2 && counts.needsReview < counts.total, JSON.stringify(counts));
    const { page } = ui;
    await page.getByTestId('tile').first().waitFor();
    await page.getByRole('searchbox').fill('shifted-00000');
    await page.getByRole('tab', { name: 'Review' }).click();
    await page.getByTestId('review-filters').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Needs review/ }).getAttribute('aria-pressed'), 'true');
    const chips = page.getByTestId('review-filters').getByRole('listitem');
    assert.deepEqual(
      (await chips.allTextContents()).map((t) => t.replace('×', '').trim()),
      ['Needs review', 'Name: shifted-00000'],
    );
    const { length: matching } = await services.api.photoIds({
      queue: 'needsReview',
      search: 'shifted-00000',
      sort: 'confidence',
      descending: false,
      offset: 0,
      limit: 1,
      rule: DEFAULT_REVIEW_RULE,
    });
    await waitQueueOf(matching);
    await page.getByRole('button', { name: 'Remove the filter Name: shifted-00000' }).click();
    await waitQueueOf(counts.needsReview);
    assert.ok(counts.needsReview > matching, 'the queue is wider without the name');
    await page.getByRole('button', { name: 'Remove the filter Needs review' }).click();
    await waitQueueOf(counts.total);
    assert.equal(await page.getByTestId('review-filters').count(), 0, 'no filter, no chips');
    assert.equal(await page.getByRole('button', { name: /^All photos/ }).getAttribute('aria-pressed'), 'true');
    // The search box in Catalog was cleared with its chip.
    await page.getByRole('tab', { name: 'Catalog' }).click();
    assert.equal(await page.getByRole('searchbox').inputValue(), '');
    await page.getByRole('tab', { name: 'Review' }).click();
    await waitQueueOf(counts.total); // the queue chosen (All photos, by removing the chip) is kept
    assert.deepEqual(ui.problems, []);
  },
);

test(
  'the 0–9 row and the top three are inside the window at 800×560 and at 150 % zoom; the photo grows with the window',
  { skip, timeout: 60_000 },
  async () => {
    const { page } = ui;
    await page.getByTestId('review-photo').waitFor();
    for (const [width, height, scale] of [
      [800, 560, 1],
      [853, 533, 1.5],
      [1280, 800, 1],
    ] as const) {
      await windowOf(width, height, scale);
      const buttons = page.getByTestId('review-choices').getByRole('button');
      assert.equal(await buttons.count(), 10);
      for (const b of [...(await buttons.all()), page.getByTestId('review-top3')]) {
        const r = (await b.boundingBox())!;
        const where = `${await b.textContent()} at ${width}×${height}: ${JSON.stringify(r)}`;
        assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= width && r.y + r.height <= height, where);
      }
      // The header's controls too: a narrow window wraps them, and nothing scrolls sideways.
      for (const b of [
        page.getByRole('button', { name: 'Export…' }),
        page.getByRole('button', { name: 'Imports…' }),
        page.getByRole('combobox', { name: 'Theme' }),
        page.getByTestId('import-summary'),
      ]) {
        const r = (await b.boundingBox())!;
        assert.ok(
          r.x >= 0 && r.x + r.width <= width,
          `${await b.textContent()} at ${width}×${height}: ${JSON.stringify(r)}`,
        );
      }
      assert.equal(
        await page.evaluate(
          () =>
            (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
              .documentElement.scrollWidth,
        ),
        width,
      );
      // The file name is what a reviewer reads: the outline's legend gives way first.
      if ((await page.getByTestId('review-outline-legend').count()) > 0)
        assert.equal(
          await page.getByTestId('review-name').evaluate((el) => {
            // Its text's own width against its box's, to the fraction of a pixel (scrollWidth rounds).
            const text = el.ownerDocument.createRange();
            text.selectNodeContents(el);
            return text.getBoundingClientRect().width > el.getBoundingClientRect().width + 0.001;
          }),
          false,
          `the file name is cut at ${width}×${height}`,
        );
      const frame = await box('review-frame');
      const top3 = await box('review-top3');
      assert.ok(frame.height >= 120, `the photo keeps ${frame.height} px at ${width}×${height}`);
      // Beside the photo on a wide window, below it on a narrow one.
      if (width >= 1280) assert.ok(top3.x >= frame.x + frame.width, 'beside');
      else assert.ok(top3.y >= frame.y + frame.height, 'below');
      await screenshot(`review-${width}x${height}@${scale}x.png`);
    }
    await windowOf(1280, 600);
    const short = { frame: await box('review-frame'), img: await imgBox() };
    await windowOf(1280, 900);
    const tall = { frame: await box('review-frame'), img: await imgBox() };
    assert.ok(Math.abs(tall.frame.height - short.frame.height - 300) <= 2, 'the frame takes all the added height');
    assert.ok(tall.img.height > short.img.height + 250, `${short.img.height} → ${tall.img.height} px`);
    assert.deepEqual(ui.problems, []);
  },
);

test('+, the wheel and a drag zoom and pan the photo; Space shows it at 1:1, at 150 % zoom too', { skip }, async () => {
  const { page } = ui;
  await windowOf(1280, 800);
  await page.locator('body').click({ position: { x: 5, y: 790 } });
  const photoId = await page.getByTestId('review-photo').getAttribute('data-photo-id');
  const natural = await img().evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth);
  const fit = await imgBox();
  const frame = await box('review-frame');
  assert.ok(Math.abs(fit.height - frame.height) < 1 || Math.abs(fit.width - frame.width) < 1, 'fits the frame');
  await page.keyboard.press('+');
  await waitImgWidth(fit.width * 1.25);
  await page.mouse.move(frame.x + frame.width / 2, frame.y + frame.height / 2);
  await page.mouse.wheel(0, -300);
  await waitImgWidth(fit.width * 1.3, true);
  const zoomed = await imgBox();
  // A drag moves the photo with the pointer (it is taller than the frame now).
  await page.mouse.down();
  await page.mouse.move(frame.x + frame.width / 2, frame.y + frame.height / 2 - 40, { steps: 4 });
  await page.mouse.up();
  const dragged = await imgBox();
  assert.ok(Math.abs(dragged.y - (zoomed.y - 40)) < 1, `${zoomed.y} → ${dragged.y}`);
  assert.equal(dragged.width, zoomed.width);

  // Space: 1:1, one photo pixel per screen pixel, and back to the whole photo.
  await page.keyboard.press(' ');
  await waitImgWidth(natural);
  assert.equal(await page.getByTestId('review-zoom').textContent(), '100%');
  await page.keyboard.press(' ');
  await waitImgWidth(fit.width);
  assert.match((await page.getByTestId('review-zoom').textContent())!, /^Fit \d+%$/);
  // With a category button focused, Space is still the loupe: it does not click the button.
  await page.getByTestId('review-choices').getByRole('button').nth(3).focus();
  await page.keyboard.press(' ');
  await waitImgWidth(natural);
  await sleep(200);
  assert.equal(await page.getByTestId('review-photo').getAttribute('data-photo-id'), photoId);
  assert.equal(db.prepare('SELECT label FROM photos WHERE id = ?').pluck().get(Number(photoId)), null);

  // At 150 % zoom, 1:1 is two thirds of a CSS pixel per photo pixel.
  await windowOf(853, 533, 1.5);
  await page.keyboard.press(' ');
  await waitImgWidth(natural / 1.5);
  assert.equal(await page.getByTestId('review-zoom').textContent(), '100%');
  await screenshot('review-loupe-853x533@1.5x.png');
  await page.keyboard.press(' ');
  assert.deepEqual(ui.problems, []);
});

test('a long file name is cut with an ellipsis and moves nothing', { skip }, async () => {
  const { page } = ui;
  await windowOf(1280, 800);
  const eye = () => page.getByRole('img', { name: /^What the model saw/ }).boundingBox();
  const place = async () => ({
    eye: await eye(),
    choices: await box('review-choices'),
    frame: await box('review-frame'),
  });
  const name = page.getByTestId('review-name');
  await page.getByRole('tab', { name: 'Catalog' }).click();
  await page.getByRole('searchbox').fill('a-very-long');
  await page.getByRole('tab', { name: 'Review' }).click();
  await name.filter({ hasText: LONG_NAME }).waitFor();
  assert.ok(await name.evaluate((el) => el.scrollWidth > el.clientWidth), 'the name is cut');
  // The whole name is a hover away.
  await name.hover();
  await page.getByRole('tooltip').filter({ hasText: LONG_NAME }).waitFor();
  const long = await place();
  await page.getByRole('button', { name: 'Remove the filter Name: a-very-long' }).click();
  await waitQueueOf(counts.total);
  while ((await name.textContent()) === LONG_NAME) await page.keyboard.press('j');
  assert.deepEqual(await place(), long);
  assert.deepEqual(ui.problems, []);
});
