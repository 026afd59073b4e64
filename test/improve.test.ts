import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { differenceInterval } from '../contract/intervals.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { DEFAULT_FINETUNE_OPTIONS, MIN_LABELS } from '../electron/ml/fineTune.ts';
import { writeShiftedPhotos } from './fixtures/samplePhotos.ts';
import { axeScript, openRenderer, seriousAccessibilityViolations, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { catalogServices, importPredicted } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';
import { rawDb } from './helpers/rawSql.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const ARTIFACTS = path.join(projectRoot, 'test-artifacts');

test(
  'Model view: Improve model fine-tunes on the reviews, shows the comparison, activates the new version and rolls back',
  { skip, timeout: 600_000 },
  async (t) => {
    const dir = tempDir('improve');
    const catalogFile = path.join(dir, 'catalog.sqlite');
    const data = await loadFashionMnist({ allowDownload: false });
    await writeShiftedPhotos(data.test.images, 100, path.join(dir, 'photos'), 3);
    const catalog = new Catalog(catalogFile);
    const { model } = await importPredicted(catalog, path.join(dir, 'photos'), path.join(dir, 'thumbs'));
    // Reviewers label the first photos with their true categories (the file name holds the test-set index).
    const photos = rawDb(catalog)
      .prepare('SELECT p.id, pp.path FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id ORDER BY pp.path')
      .raw()
      .all() as [number, string][];
    const truth = (file: string) => data.test.labels[Number(/shifted-(\d+)/.exec(file)![1])]!;
    catalog.labels.setLabels(
      photos.slice(0, MIN_LABELS + 10).map(([photoId, file]) => ({ photoId, label: truth(file) })),
      'tester',
    );
    catalog.close();

    const services = catalogServices(dir, { ...DEFAULT_FINETUNE_OPTIONS, epochs: 1, minSteps: 0 });
    const ui = await openRenderer(services, { initScripts: [axeScript()] });
    try {
      const { page } = ui;
      await page.setViewportSize({ width: 1280, height: 900 });
      await ui.menu('show-model');
      const improve = page.getByRole('button', { name: 'Improve model' });
      await improve.waitFor();
      assert.equal(await improve.isEnabled(), true);
      await improve.click();
      // Comparing (about a minute) shows a bar and, once its pace is known, the time left.
      const bar = page.getByRole('progressbar', { name: 'Comparing with the active model' });
      await bar.waitFor({ timeout: 300_000 });
      await page
        .getByTestId('improve-status')
        .filter({ hasText: /Comparing with the active model · about \d+/ })
        .waitFor({ timeout: 120_000 });
      const [value, max] = await bar.evaluate((el) => [
        (el as unknown as { value: number }).value,
        (el as unknown as { max: number }).max,
      ]);
      assert.ok(value! > 0 && value! < max!, `${value} of ${max}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'improve-comparing.png'), fullPage: true });
      const comparison = page.getByRole('table', { name: 'Active model and new version compared' });
      await comparison.waitFor({ timeout: 400_000 });
      await page.screenshot({ path: path.join(ARTIFACTS, 'improve-comparison.png'), fullPage: true });

      // What the table shows is what the services measured.
      const status = (await services.api.improveStatus())!;
      const candidate = status.candidate!;
      assert.equal(status.phase, 'ready');
      assert.match(
        (await comparison.textContent()) ?? '',
        new RegExp(`${(100 * candidate.testSet.candidate.accuracy).toFixed(1)}%`),
      );
      // Each number says on how many of the user's photos it rests; the Fashion-MNIST replay is apart.
      const table = (await comparison.textContent()) ?? '';
      assert.ok(table.includes(`Held-out: ${candidate.heldOut.count} of your photos it never saw`), table);
      assert.ok(table.includes(`Validation: ${candidate.validation.count} of your photos`), table);
      // A change in accuracy carries its photo count and interval (Newcombe's, from the two Wilson intervals).
      const { heldOut } = candidate;
      const right = (accuracy: number) => Math.round(accuracy * heldOut.count);
      const ci = differenceInterval(
        right(heldOut.candidate.accuracy),
        heldOut.count,
        right(heldOut.current.accuracy),
        heldOut.count,
      );
      const points = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(0)}`;
      const change = `pts from ${heldOut.count} photos (95% CI ${points(Math.round(100 * ci.low))} to ${points(Math.round(100 * ci.high))})`;
      assert.ok(table.includes(change), `${change} in ${table}`);
      // F1 changes on F1's own 0–1 scale, not in points.
      const f1Row = (await comparison.getByRole('row', { name: /^F1 Shirt / }).textContent()) ?? '';
      const f1Change = candidate.testSet.candidate.f1[6]! - candidate.testSet.current.f1[6]!;
      assert.ok(f1Row.endsWith(Math.abs(f1Change).toFixed(3)) && !f1Row.includes('pts'), f1Row);
      const counts = (await page.getByTestId('improve-counts').textContent()) ?? '';
      assert.match(
        counts,
        new RegExp(
          `Learned from ${MIN_LABELS + 10 - candidate.heldOut.count - candidate.validation.count} of your ${MIN_LABELS + 10} reviewed photos`,
        ),
      );
      assert.match(
        counts,
        new RegExp(
          `Fashion-MNIST replay \\(forgetting check, not your photos\\): ${(100 * candidate.replay.accuracy!).toFixed(1)}% of ${candidate.replay.count}`,
        ),
      );
      assert.match(
        (await page.getByTestId('improve-changes').textContent()) ?? '',
        new RegExp(
          `changes the category of ${candidate.changes.changed} of ${candidate.changes.photos} unreviewed photos`,
        ),
      );
      assert.equal(candidate.changes.photos, 100 - MIN_LABELS - 10);
      assert.deepEqual(await seriousAccessibilityViolations(page, (m) => t.diagnostic(m)), []);

      // Activate: the new version becomes active and the unreviewed photos are re-predicted.
      await page.getByRole('button', { name: `Activate ${candidate.name}` }).click();
      await page.getByTestId('improve-status').filter({ hasText: 'Switched models' }).waitFor({ timeout: 120_000 });
      const versions = await services.api.modelVersions();
      assert.deepEqual(
        versions.map((v) => [v.name, v.active]),
        [
          [candidate.name, true],
          [model.name, false],
        ],
      );
      assert.equal(versions[0]!.parentName, model.name);
      assert.equal(versions[0]!.labels, MIN_LABELS + 10);
      await page.getByRole('heading', { name: `Model ${candidate.name}`, exact: true }).waitFor();

      // Roll back from the versions table.
      await page
        .getByRole('row', { name: new RegExp(`^${model.name} `) })
        .getByRole('button', { name: 'Make active' })
        .click();
      await page.getByRole('heading', { name: `Model ${model.name}`, exact: true }).waitFor({ timeout: 120_000 });
      await page
        .getByTestId('improve-status')
        .filter({
          hasText: `Switched models; every unreviewed photo is re-predicted · ${candidate.changes.photos} of ${candidate.changes.photos}`,
        })
        .waitFor();
      assert.equal((await services.api.modelVersions()).find((v) => v.active)!.name, model.name);
      await page.screenshot({ path: path.join(ARTIFACTS, 'improve-rolled-back.png'), fullPage: true });
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui.close();
      await services.close();
    }
  },
);
