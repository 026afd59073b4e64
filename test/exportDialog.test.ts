import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Locator } from 'playwright-core';
import { createServices, type Services } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { CATALOG_COLUMNS } from '../electron/export/catalogExport.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import {
  axeScript,
  openRenderer,
  seriousAccessibilityViolations,
  type RendererSession,
  SKIP_WITHOUT_CHROMIUM,
} from './helpers/browser.ts';
import { filesByHash, labeledCatalog, testSet, unsureCatalog } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { CLASS_NAMES } from '../contract/categories.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');

test(
  'Export dialog: a CSV saved where the user chose, then a preview and a move into category folders, in Chromium',
  { skip, timeout: 300_000 },
  async (t) => {
    const dir = tempDir('export-dialog');
    const { photos, db, paths, hashes } = await labeledCatalog(dir, 24);
    const csvFile = path.join(dir, 'chosen', 'labels.csv');
    fs.mkdirSync(path.dirname(csvFile));
    const dest = path.join(dir, 'sorted');
    const suggested: string[] = [];
    const services = createServices({
      catalogFile: db,
      thumbnailsDir: path.join(dir, 'thumbs'),
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
      // The system dialogs, as the user answers them.
      chooseSaveFile: async (name) => {
        suggested.push(name);
        return csvFile;
      },
      chooseDestination: async () => dest,
    });
    const ui = await openRenderer(services, { initScripts: [axeScript()] });
    try {
      const { page } = ui;
      const dialog = await openExportDialog(ui);

      // The shop CSV of the reviewed photos, with a BOM for Excel.
      await dialog.getByRole('radio', { name: /^Reviewed only/ }).check();
      await dialog.getByRole('button', { name: 'Save CSV…' }).click();
      await dialog
        .getByTestId('export-result')
        .filter({ hasText: `Wrote 24 rows to ${csvFile}` })
        .waitFor();
      assert.match(suggested[0]!, /^catalog-\d{4}-\d\d-\d\d\.csv$/);
      const text = fs.readFileSync(csvFile, 'utf8');
      assert.ok(text.startsWith(`\ufeff${CATALOG_COLUMNS.join(',')}\r\n`));
      assert.equal(text.trim().split('\r\n').length, 25);

      // Sort: choose the folder, read the preview, move.
      await dialog.getByRole('radio', { name: /^Photos sorted into folders/ }).check();
      await dialog.getByRole('button', { name: 'Choose folder…' }).click();
      await dialog.getByTestId('sort-destination').filter({ hasText: dest }).waitFor();
      await dialog.getByRole('radio', { name: /^Move/ }).check();
      await dialog.getByText('Folder names').click();
      await dialog.getByRole('textbox', { name: 'Ankle boot' }).fill('Boots');
      const boots = testSet.labels.subarray(0, 24).filter((l) => l === 9).length;
      await dialog
        .getByRole('table', { name: 'Sorting preview' })
        .getByRole('row', { name: `Boots ${boots}` })
        .waitFor();
      await dialog
        .getByTestId('sort-preview')
        .filter({ hasText: '24 photos' })
        .filter({ hasText: 'to move' })
        .waitFor();
      // A move within one drive takes no extra space; sizes read as a person would write them (not "84501.4 MB").
      assert.match(
        await dialog.getByTestId('sort-preview').innerText(),
        /\(\d+ kB\) to move\.[\s\S]*No extra space needed \(a move on the same drive\); \d+(\.\d)? (MB|GB) free\./,
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'export-sort-preview.png'), fullPage: true });
      assert.deepEqual(await seriousAccessibilityViolations(page, (m) => t.diagnostic(m)), []);

      await dialog.getByRole('button', { name: 'Move 24 photos' }).click();
      await dialog
        .getByTestId('sort-status')
        .filter({ hasText: `Done: 24 photos moved into ${dest}` })
        .waitFor({ timeout: 60_000 });
      const sorted = filesByHash(dest);
      assert.deepEqual([...sorted.keys()].sort(), [...hashes].sort());
      assert.equal(fs.readdirSync(path.join(dest, 'Boots')).length, boots);
      assert.ok(fs.readdirSync(dest).every((f) => f === 'Boots' || DEFAULT_FOLDER_NAMES.includes(f)));
      assert.ok(paths.every((p) => !fs.existsSync(p)));
      assert.deepEqual(fs.readdirSync(photos), []);
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui.close();
      await services.close();
    }
  },
);

test(
  'photos that still need review: the warning counts them with the lowest confidence, leaving them out changes the CSV and the sort, a second sort in the same session, an empty folder name in plain words, in Chromium',
  { skip, timeout: 300_000 },
  async (t) => {
    const dir = tempDir('export-dialog-unsure');
    const { db, paths, hashes, guess } = await unsureCatalog(dir);
    const csvFile = path.join(dir, 'shop.csv');
    const dest = path.join(dir, 'sorted');
    const services = createServices({
      catalogFile: db,
      thumbnailsDir: path.join(dir, 'thumbs'),
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
      chooseSaveFile: async () => csvFile,
      chooseDestination: async () => dest,
    });
    const ui = await openRenderer(services, { initScripts: [axeScript()] });
    try {
      const { page } = ui;
      const dialog = await openExportDialog(ui);
      await dialog.getByRole('radio', { name: /^All/ }).check();
      const warning = dialog.getByTestId('needs-review-warning');
      await warning.filter({ hasText: '2 of these photos still need review (lowest confidence 23%)' }).waitFor();
      const leaveOut = dialog.getByRole('checkbox', { name: /^Leave them out/ });
      assert.equal(await leaveOut.isChecked(), true, 'left out unless the user includes them');

      // The shop CSV without them, then with them.
      const count = dialog.getByTestId('export-count');
      await count.filter({ hasText: 'The CSV will have 10 rows' }).waitFor();
      await dialog.getByRole('button', { name: 'Save CSV…' }).click();
      await dialog.getByTestId('export-result').filter({ hasText: 'Wrote 10 rows' }).waitFor();
      const names = (file: string) =>
        fs
          .readFileSync(file, 'utf8')
          .trim()
          .split('\r\n')
          .slice(1)
          .map((row) => paths.findIndex((p) => row.includes(path.basename(p))));
      assert.deepEqual(
        names(csvFile).sort((a, b) => a - b),
        [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      );
      await leaveOut.uncheck();
      await count.filter({ hasText: 'The CSV will have 12 rows' }).waitFor();
      await dialog.getByRole('button', { name: 'Save CSV…' }).click();
      await dialog.getByTestId('export-result').filter({ hasText: 'Wrote 12 rows' }).waitFor();
      assert.equal(names(csvFile).length, 12);
      await leaveOut.check();
      // The review queue itself: all of it needs review, and there is nothing to leave out.
      await dialog.getByRole('radio', { name: /^Needs review/ }).check();
      await warning.filter({ hasText: 'All 2 of these photos still need review (lowest confidence 23%)' }).waitFor();
      assert.equal(await leaveOut.count(), 0);
      await dialog.getByRole('radio', { name: /^Reviewed only/ }).check();
      await warning.waitFor({ state: 'detached' });
      await dialog.getByRole('radio', { name: /^All/ }).check();

      // An empty folder name: said beside its field, in plain words, and nothing is asked of the services.
      await dialog.getByRole('radio', { name: /^Photos sorted into folders/ }).check();
      await dialog.getByRole('button', { name: 'Choose folder…' }).click();
      await dialog
        .getByTestId('sort-preview')
        .filter({ hasText: '10 photos' })
        .filter({ hasText: 'to copy' })
        .waitFor();
      await warning.filter({ hasText: '2 of these photos still need review' }).waitFor();
      await dialog.getByText('Folder names').click();
      const bag = dialog.getByRole('textbox', { name: 'Bag' });
      await bag.fill('');
      await dialog.getByText('Give this folder a name.').waitFor();
      assert.equal(await bag.getAttribute('aria-invalid'), 'true');
      // The message is the field's description, so a screen reader says it with the field.
      const describedBy = await bag.getAttribute('aria-describedby');
      assert.equal(await dialog.locator(`#${describedBy}`).textContent(), 'Give this folder a name.');
      await dialog.getByTestId('sort-preview').waitFor({ state: 'detached' });
      assert.doesNotMatch(await dialog.innerText(), /invalid arguments|Too small/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'export-needs-review.png'), fullPage: true });
      assert.deepEqual(await seriousAccessibilityViolations(page, (m) => t.diagnostic(m)), []);
      await bag.fill('Bag');

      // The first sort leaves the two out; the sure guess goes where the model put it.
      await dialog.getByRole('button', { name: 'Copy 10 photos' }).click();
      const status = dialog.getByTestId('sort-status');
      await status.filter({ hasText: `Done: 10 photos copied into ${dest}` }).waitFor({ timeout: 60_000 });
      let sorted = filesByHash(dest);
      assert.deepEqual([...sorted.keys()].sort(), hashes.slice(2).sort());
      assert.equal(path.basename(path.dirname(sorted.get(hashes[2]!)![0]!)), DEFAULT_FOLDER_NAMES[guess(2)]);

      // A second sort in the same session: a fresh preview, now with the two.
      await dialog.getByRole('button', { name: 'New sort…' }).click();
      await dialog.getByTestId('sort-preview').filter({ hasText: '10 already there' }).waitFor();
      await leaveOut.uncheck();
      await dialog
        .getByTestId('sort-preview')
        .filter({ hasText: '2 photos' })
        .filter({ hasText: '10 already there' })
        .waitFor();
      await dialog.getByRole('button', { name: 'Copy 2 photos' }).click();
      await status
        .filter({ hasText: `Done: 2 photos copied into ${dest}, 10 were already there` })
        .waitFor({ timeout: 60_000 });
      sorted = filesByHash(dest);
      assert.deepEqual([...sorted.keys()].sort(), [...hashes].sort());
      for (const i of [0, 1])
        assert.equal(path.basename(path.dirname(sorted.get(hashes[i]!)![0]!)), DEFAULT_FOLDER_NAMES[guess(i)]);

      // A move after the copies: nothing to write, and the preview and the button say the 12 originals go.
      await dialog.getByRole('button', { name: 'New sort…' }).click();
      await dialog.getByRole('radio', { name: /^Move/ }).check();
      await dialog
        .getByTestId('sort-preview')
        .filter({
          hasText:
            '0 photos (0 kB) to move, and remove 12 original files whose copies are already there. 12 already there.',
        })
        .waitFor();
      await dialog.getByRole('button', { name: 'Move 12 photos' }).click();
      await status.filter({ hasText: '12 originals elsewhere removed' }).waitFor({ timeout: 60_000 });
      assert.deepEqual([...filesByHash(dest).keys()].sort(), [...hashes].sort());
      assert.ok(
        paths.every((p) => !fs.existsSync(p)),
        'the originals are gone',
      );
      await dialog.getByRole('button', { name: 'New sort…' }).waitFor();
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui.close();
      await services.close();
    }
  },
);

/** Opens the Export dialog from the menu, in a 1280×900 window. */
async function openExportDialog(ui: RendererSession): Promise<Locator> {
  await ui.page.setViewportSize({ width: 1280, height: 900 });
  await ui.menu('export');
  const dialog = ui.page.getByRole('dialog', { name: 'Export' });
  await dialog.waitFor();
  return dialog;
}

/**
 * Checks that the dialog counts the photos that still need review (the model's own predictions decide how many),
 * then takes them in (the dialog leaves them out by default), so the rest of a test can count every photo.
 */
async function includeNeedsReview(dialog: Locator, services: Services) {
  const n = (await services.api.counts(DEFAULT_REVIEW_RULE)).needsReview;
  const warning = dialog.getByTestId('needs-review-warning');
  if (n === 0) return assert.equal(await warning.count(), 0);
  await warning.filter({ hasText: `${n} of these photos still ${n === 1 ? 'needs' : 'need'} review` }).waitFor();
  await dialog.getByRole('checkbox', { name: /^Leave them out/ }).uncheck();
}

/**
 * A folder imported through the window with "Add photos…": `copies` byte-identical copies of one packshot
 * saved as SKU files (as shops reuse one image for several SKUs), plus `others` other photos.
 */
async function importThroughWindow(name: string, copies: number, others: number) {
  const dir = tempDir(name);
  const photos = path.join(dir, 'photos');
  const made = await writePackshots(testSet.images, 1 + others, path.join(dir, 'made'), { seed: 31 });
  fs.mkdirSync(photos);
  const skus = Array.from({ length: copies }, (_, i) => path.join(photos, `SKU-${1001 + i}.jpg`));
  for (const sku of skus) fs.copyFileSync(made[0]!, sku);
  made.slice(1).forEach((file, i) => fs.copyFileSync(file, path.join(photos, `SKU-${1001 + copies + i}.jpg`)));
  const services = createServices({
    catalogFile: path.join(dir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dir, 'thumbs'),
    thumbnailBase: '/thumb/',
    photoBase: '/photo/',
    chooseFolders: async () => [photos],
    chooseSaveFile: async () => path.join(dir, 'catalog.csv'),
    chooseDestination: async () => path.join(dir, 'sorted'),
    reviewer: 'tester',
  });
  const ui = await openRenderer(services);
  await ui.page.setViewportSize({ width: 1280, height: 900 });
  await ui.page.getByRole('button', { name: 'Add photos…' }).click();
  const files = copies + others;
  const photosImported = 1 + others;
  await ui.page
    .getByTestId('import-summary')
    .filter({
      hasText:
        files === photosImported
          ? `Imported: ${files} photos, 0 failed`
          : `Imported: ${files} files (${photosImported} distinct photos), 0 failed`,
    })
    .waitFor({ timeout: 240_000 });
  return { dir, services, ui, skus, csv: path.join(dir, 'catalog.csv'), dest: path.join(dir, 'sorted') };
}

test(
  'one packshot saved for two SKUs and a third photo: the sidebar, the Export dialog (every queue and a category) and the sort say 3 files of 2 distinct photos; a catalog without duplicates says photos alone, in Chromium',
  { skip, timeout: 300_000 },
  async () => {
    const shared = await importThroughWindow('export-dialog-duplicates', 2, 1);
    try {
      const { page } = shared.ui;
      await page.getByTestId('files-and-photos').filter({ hasText: '3 files (2 distinct photos)' }).waitFor();
      assert.equal(await page.getByTestId('count-all').textContent(), '2', 'the queues count photos');

      // The reviewer labels the packshot (both SKUs' files hold it); the third photo keeps the model's category.
      const tiles = (
        await shared.services.api.page({
          queue: 'all',
          sort: 'name',
          descending: false,
          offset: 0,
          limit: 10,
          rule: DEFAULT_REVIEW_RULE,
        })
      ).tiles;
      const packshot = tiles.find((t) => t.name === 'SKU-1001.jpg' || t.name === 'SKU-1002.jpg')!;
      const third = tiles.find((t) => t.name === 'SKU-1003.jpg')!;
      await shared.services.api.setLabels([{ photoId: packshot.id, label: 8 }]);
      const needsReview = (await shared.services.api.counts(DEFAULT_REVIEW_RULE)).needsReview;
      assert.ok(needsReview <= 1, 'only the third photo can need review');

      await page.getByRole('button', { name: 'Export…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Export' });
      await dialog.waitFor();
      // Every selection the dialog offers counts the files the CSV has a row for, with the distinct photos beside them.
      await dialog.getByRole('radio', { name: 'All (3 files, 2 distinct photos)' }).waitFor();
      await dialog.getByRole('radio', { name: 'Reviewed only (2 files, 1 distinct photo)' }).waitFor();
      await dialog.getByRole('radio', { name: `Needs review (${needsReview})` }).waitFor();
      await includeNeedsReview(dialog, shared.services);
      const count = dialog.getByTestId('export-count');
      await count
        .filter({
          hasText:
            'The CSV will have 3 rows, one per file: 3 files of 2 distinct photos; rows with the same hash are files with the same image.',
        })
        .waitFor();
      await dialog.getByRole('radio', { name: /^Reviewed only/ }).check();
      await count.filter({ hasText: 'The CSV will have 2 rows, one per file: 2 files of 1 distinct photo;' }).waitFor();
      // The Fashion-MNIST layout has a row per photo, and says which files hold them.
      await dialog.getByRole('radio', { name: /^Fashion-MNIST CSV/ }).check();
      await count
        .filter({
          hasText: 'The CSV will have 1 row, one per distinct photo with a category (2 files hold 1 distinct photo).',
        })
        .waitFor();
      await dialog.getByRole('radio', { name: /^CSV for the shop system/ }).check();
      await dialog.getByRole('radio', { name: /^All/ }).check();

      // A category: Bag holds the packshot's two files, and the third photo where the model put it there too.
      await dialog.getByRole('combobox', { name: /^Category/ }).selectOption({ label: 'Bag' });
      const thirdIsBag = third.category === 8;
      await dialog
        .getByRole('radio', {
          name: thirdIsBag ? 'All (3 files, 2 distinct photos)' : 'All (2 files, 1 distinct photo)',
        })
        .waitFor();
      await dialog.getByRole('combobox', { name: /^Category/ }).selectOption({ label: CLASS_NAMES[third.category!]! });
      await dialog.getByRole('radio', { name: thirdIsBag ? 'All (3 files, 2 distinct photos)' : 'All (1)' }).waitFor();
      await dialog.getByRole('combobox', { name: /^Category/ }).selectOption({ label: 'every category' });

      await dialog.getByRole('button', { name: 'Save CSV…' }).click();
      await dialog
        .getByTestId('export-result')
        .filter({ hasText: `Wrote 3 rows to ${shared.csv}` })
        .filter({ hasText: '(2 distinct photos: rows with the same hash are files with the same image)' })
        .waitFor();
      assert.equal(fs.readFileSync(shared.csv, 'utf8').trim().split('\r\n').length, 4);

      // The sort places files too.
      await dialog.getByRole('radio', { name: /^Photos sorted into folders/ }).check();
      await dialog.getByRole('button', { name: 'Choose folder…' }).click();
      await dialog
        .getByTestId('sort-preview')
        .filter({ hasText: '3 files (2 distinct photos)' })
        .filter({ hasText: 'to copy' })
        .waitFor();
      assert.equal(
        await dialog.getByRole('table', { name: 'Sorting preview' }).getByRole('columnheader').nth(1).textContent(),
        'Files',
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'export-duplicates.png'), fullPage: true });
      await dialog.getByRole('button', { name: 'Copy 3 files' }).click();
      await dialog
        .getByTestId('sort-status')
        .filter({ hasText: `Done: 3 files copied into ${shared.dest} (2 distinct photos)` })
        .waitFor({ timeout: 60_000 });
      assert.deepEqual(fs.readdirSync(path.join(shared.dest, 'Bag')).sort(), [
        'SKU-1001.jpg',
        'SKU-1002.jpg',
        ...(thirdIsBag ? ['SKU-1003.jpg'] : []),
      ]);
      assert.deepEqual(shared.ui.problems, []);
    } finally {
      await shared.ui.close();
      await shared.services.close();
    }

    // Without two files of one photo, nothing is split: the counts are photos.
    const plain = await importThroughWindow('export-dialog-no-duplicates', 1, 1);
    try {
      const { page } = plain.ui;
      await page.getByTestId('count-all').filter({ hasText: '2' }).waitFor();
      assert.equal(await page.getByTestId('files-and-photos').count(), 0);
      await page.getByRole('button', { name: 'Export…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Export' });
      await dialog.getByRole('radio', { name: 'All (2)' }).waitFor();
      await dialog.getByRole('radio', { name: 'Reviewed only (0)' }).waitFor();
      await includeNeedsReview(dialog, plain.services);
      const count = dialog.getByTestId('export-count');
      await count.filter({ hasText: 'The CSV will have 2 rows, one per file.' }).waitFor();
      assert.doesNotMatch(await dialog.innerText(), /distinct/);
      await dialog.getByRole('button', { name: 'Save CSV…' }).click();
      await dialog
        .getByTestId('export-result')
        .filter({ hasText: `Wrote 2 rows to ${plain.csv}` })
        .waitFor();
      assert.doesNotMatch(await dialog.getByTestId('export-result').innerText(), /distinct/);
      await dialog.getByRole('radio', { name: /^Photos sorted into folders/ }).check();
      await dialog.getByRole('button', { name: 'Choose folder…' }).click();
      await dialog.getByTestId('sort-preview').filter({ hasText: '2 photos' }).waitFor();
      await dialog.getByRole('button', { name: 'Copy 2 photos' }).waitFor();
      assert.deepEqual(plain.ui.problems, []);
    } finally {
      await plain.ui.close();
      await plain.services.close();
    }
  },
);
