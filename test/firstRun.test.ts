import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Services } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import {
  axeScript,
  browserServices,
  openRenderer,
  seriousAccessibilityViolations,
  SKIP_WITHOUT_CHROMIUM,
  type RendererSession,
} from './helpers/browser.ts';
import { tempDir } from './helpers/photos.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');
const dir = tempDir('first-run');
const photos = path.join(dir, 'photos');
const broken = path.join(photos, 'broken.jpg');
/** The files the Errors list asked the file manager to show. */
const revealed: string[] = [];
let services: Services;
let ui: RendererSession;

before(async () => {
  if (skip) return;
  const data = await loadFashionMnist({ allowDownload: false });
  // One photo, so that the texts must say "1 photo"; a second one waits outside to mend the broken file.
  await writePackshots(data.test.images, 1, photos, { seed: 31 });
  await writePackshots(data.test.images, 1, path.join(dir, 'spare'), { seed: 32 });
  fs.writeFileSync(broken, 'not a photo at all\n');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  services = browserServices(dir, {
    chooseFolders: async () => [photos],
    showItemInFolder: (file) => void revealed.push(file),
  });
  ui = await openRenderer(services, { initScripts: [axeScript()] });
  await ui.page.setViewportSize({ width: 1280, height: 800 });
});
after(async () => {
  await ui?.close();
  await services?.close();
});

/** The page's background colour as Chromium computed it. */
const pageBackground = () =>
  ui.page.evaluate(() => {
    const page = globalThis as unknown as {
      getComputedStyle(element: unknown): { backgroundColor: string };
      document: { documentElement: unknown };
    };
    return page.getComputedStyle(page.document.documentElement).backgroundColor;
  });

test(
  'a new catalog opens on a welcome that says what the app does and how to begin, accessible in both themes',
  { skip, timeout: 60_000 },
  async (t) => {
    const { page } = ui;
    const welcome = page.getByTestId('welcome');
    await welcome.getByRole('heading', { name: 'Sort product photos into clothing categories' }).waitFor();
    assert.match(
      (await welcome.getByTestId('grid-empty').textContent())!,
      /No photos yet\. Drop folders of product photos on this window, or choose Add photos… \(Ctrl\+O\)\./,
    );
    // The four steps, with the review keys.
    assert.deepEqual(await welcome.getByRole('listitem').locator('strong').allTextContents(), [
      'Add photos',
      'Review the uncertain ones',
      'Improve the model',
      'Export',
    ]);
    assert.match((await welcome.textContent())!, /keys 0–9 set the category, Enter accepts the model's, Z undoes/);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      await page.screenshot({ path: path.join(ARTIFACTS, `welcome-${colorScheme}.png`) });
      assert.deepEqual(
        await seriousAccessibilityViolations(page, (m) => t.diagnostic(m), `welcome (${colorScheme})`),
        [],
      );
    }
    await page.emulateMedia({ colorScheme: null });
    assert.deepEqual(ui.problems, []);
  },
);

test('the Theme setting follows the system, pins light or dark, and is kept across a reload', { skip }, async () => {
  const { page } = ui;
  const theme = page.getByLabel('Theme');
  assert.equal(await theme.inputValue(), 'system');
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await pageBackground();
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await pageBackground();
  assert.notEqual(light, dark, 'System follows the system theme');

  // Light pinned: the dark system theme no longer shows.
  await theme.selectOption('light');
  assert.equal(await pageBackground(), light);
  await page.reload();
  await page.getByLabel('Theme').waitFor();
  assert.equal(await page.getByLabel('Theme').inputValue(), 'light');
  assert.equal(await pageBackground(), light, 'the choice survives a reload');

  // Dark pinned under a light system theme.
  await page.emulateMedia({ colorScheme: 'light' });
  await page.getByLabel('Theme').selectOption('dark');
  assert.equal(await pageBackground(), dark);
  await page.getByLabel('Theme').selectOption('system');
  assert.equal(await pageBackground(), light);
  await page.emulateMedia({ colorScheme: null });
  assert.deepEqual(ui.problems, []);
});

test(
  'one photo is "1 photo"; the Errors list shows the broken file in its folder, tries it again, and clears it once mended',
  { skip, timeout: 300_000 },
  async () => {
    const { page } = ui;
    await page.getByRole('button', { name: 'Add photos…' }).click();
    const summary = page.getByTestId('import-summary');
    await summary.filter({ hasText: 'Imported: 1 photo, 1 failed' }).waitFor({ timeout: 240_000 });
    await page
      .getByTestId('grid-total')
      .filter({ hasText: /^1 photo$/ })
      .waitFor();

    await page.getByRole('button', { name: /^Errors/ }).click();
    const list = page.getByRole('region', { name: /could not be imported/ });
    const row = list.getByRole('row').filter({ hasText: broken });
    await row.waitFor();
    await row.getByRole('button', { name: 'Show in folder' }).click();
    // The click's call reaches the services after the click returns.
    while (revealed.length === 0) await sleep(50);
    assert.deepEqual(revealed, [broken]);

    // Still broken: trying again fails again, and the list holds the file once.
    await row.getByRole('button', { name: 'Try again' }).click();
    await summary.filter({ hasText: 'Imported: 0 photos, 1 failed' }).waitFor({ timeout: 60_000 });
    assert.equal(await list.getByRole('row').filter({ hasText: broken }).count(), 1);
    assert.equal(await list.getByRole('button', { name: /resolved/ }).count(), 0, 'nothing is resolved yet');

    // Mended (a real photo at that path): trying again imports it, and the row says so until cleared.
    const [spare] = fs.readdirSync(path.join(dir, 'spare'));
    fs.copyFileSync(path.join(dir, 'spare', spare!), broken);
    await row.getByRole('button', { name: 'Try again' }).click();
    await summary.filter({ hasText: 'Imported: 1 photo, 0 failed' }).waitFor({ timeout: 60_000 });
    await row.filter({ hasText: 'Imported since' }).waitFor();
    assert.equal(await page.getByTestId('count-all').textContent(), '2');
    await list.getByRole('button', { name: 'Clear 1 resolved' }).click();
    await list.getByText('No errors: every file found was imported.').waitFor();
    assert.equal(await page.getByTestId('count-errors').textContent(), '0');
    assert.deepEqual((await services.api.importErrors(0, 10)).total, 0, 'the catalog forgot the resolved failures');
    assert.deepEqual(ui.problems, []);
  },
);
