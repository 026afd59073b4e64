import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createServices } from '../electron/api/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { CATALOG_COLUMNS } from '../electron/export/catalogExport.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { axeScript, CHROMIUM, openRenderer, seriousAccessibilityViolations } from './helpers/browser.ts';
import { filesByHash, labeledCatalog, testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

const skip = !fs.existsSync(CHROMIUM) && `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');

test('Export dialog: a CSV saved where the user chose, then a preview and a move into category folders, in Chromium', { skip, timeout: 300_000 }, async (t) => {
  const dir = tempDir('export-dialog');
  const { photos, db, paths, hashes } = await labeledCatalog(dir, 24);
  const csvFile = path.join(dir, 'chosen', 'labels.csv');
  fs.mkdirSync(path.dirname(csvFile));
  const dest = path.join(dir, 'sorted');
  const suggested: string[] = [];
  const services = createServices({
    catalogFile: db, thumbnailsDir: path.join(dir, 'thumbs'), thumbnailBase: '/thumb/', photoBase: '/photo/',
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
    await page.setViewportSize({ width: 1280, height: 900 });
    await ui.menu('export');
    const dialog = page.getByRole('dialog', { name: 'Export' });
    await dialog.waitFor();

    // The shop CSV of the reviewed photos, with a BOM for Excel.
    await dialog.getByRole('radio', { name: /^Reviewed only/ }).check();
    await dialog.getByRole('button', { name: 'Save CSV…' }).click();
    await dialog.getByTestId('export-result').filter({ hasText: `Wrote 24 rows to ${csvFile}` }).waitFor();
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
    await dialog.getByRole('table', { name: 'Sorting preview' }).getByRole('row', { name: `Boots ${boots}` }).waitFor();
    await dialog.getByTestId('sort-preview').filter({ hasText: '24 photos' }).filter({ hasText: 'to move' }).waitFor();
    // A move within one drive takes no extra space; sizes read as a person would write them (not "84501.4 MB").
    assert.match(await dialog.getByTestId('sort-preview').innerText(), /\(\d+ kB\) to move\.[\s\S]*No extra space needed \(a move on the same drive\); \d+(\.\d)? (MB|GB) free\./);
    await page.screenshot({ path: path.join(ARTIFACTS, 'export-sort-preview.png'), fullPage: true });
    assert.deepEqual(await seriousAccessibilityViolations(page, (m) => t.diagnostic(m)), []);

    await dialog.getByRole('button', { name: 'Move 24 photos' }).click();
    await dialog.getByTestId('sort-status').filter({ hasText: `Done: 24 photos moved into ${dest}` }).waitFor({ timeout: 60_000 });
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
});
