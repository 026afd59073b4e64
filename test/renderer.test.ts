import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createServices } from '../electron/app/services.ts';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { openRenderer, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-ui-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the window shows the shipped model and its scores from the model card', { skip, timeout: 120_000 }, async () => {
  fs.mkdirSync(path.join(projectRoot, 'test-artifacts'), { recursive: true });
  const card = readModelCard(defaultModelDir());
  assert.ok(card, 'the shipped model card is missing');
  const services = createServices({
    catalogFile: path.join(tmp, 'catalog.sqlite'),
    thumbnailBase: '/thumb/',
    photoBase: '/photo/',
  });
  const ui = await openRenderer(services);
  try {
    const { page } = ui;
    // A new catalog says how to begin.
    await page
      .getByTestId('grid-empty')
      .filter({ hasText: 'No photos yet. Drop folders of product photos on this window, or choose Add photos…' })
      .waitFor();
    await page.getByRole('tab', { name: 'Model' }).click();
    await page.getByRole('heading', { name: `Model ${card.name}` }).waitFor();
    assert.equal(await page.getByTestId('test-accuracy').textContent(), `${(100 * card.accuracy).toFixed(1)}%`);
    const rows = page.getByRole('table').first().getByRole('row');
    assert.equal(await rows.count(), 11);
    // The confusion matrix: each true class's row sums to its test images.
    const confusion = page.getByRole('table', { name: /Confusion matrix/ });
    assert.equal(await confusion.getByRole('row').count(), 11);
    assert.equal(
      (await confusion.getByRole('cell', { name: String(card.confusion[6]![6]), exact: true }).count()) >= 1,
      true,
    );
    await page.locator('canvas[aria-label^="Training curves"]').waitFor();
    await page.screenshot({ path: path.join(projectRoot, 'test-artifacts', 'model.png'), fullPage: true });
    assert.match(
      (await rows.filter({ has: page.getByRole('rowheader', { name: 'Shirt', exact: true }) }).textContent())!,
      new RegExp(card.perClass[6]!.f1.toFixed(3)),
    );
    assert.deepEqual(ui.problems, []);
  } finally {
    await ui.close();
    await services.close();
  }
});

test('without a model the window says why instead of failing', { skip, timeout: 120_000 }, async () => {
  const services = createServices({
    catalogFile: path.join(tmp, 'catalog2.sqlite'),
    modelDir: path.join(tmp, 'no-model'),
  });
  const ui = await openRenderer(services);
  try {
    await ui.page.getByRole('tab', { name: 'Model' }).click();
    const alert = ui.page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent())!, /No model is available: no model card at .*no-model/);
  } finally {
    await ui.close();
    await services.close();
  }
});

test(
  'the training curves take their text colour from the theme, in dark and light',
  { skip, timeout: 120_000 },
  async () => {
    const services = createServices({ catalogFile: path.join(tmp, 'catalog3.sqlite') });
    const ui = await openRenderer(services);
    try {
      const { page } = ui;
      const curves = page.locator('canvas[aria-label^="Training curves"]');
      /** app.css's --text-muted as the page resolves it now, through an element of its own. */
      const mutedText = () =>
        page.evaluate(() => {
          interface Probe {
            style: { color: string };
            remove(): void;
          }
          const g = globalThis as unknown as {
            document: { body: { appendChild(e: Probe): Probe }; createElement(tag: string): Probe };
            getComputedStyle(e: Probe): { color: string };
          };
          const probe = g.document.body.appendChild(g.document.createElement('span'));
          probe.style.color = 'var(--text-muted)';
          const colour = g.getComputedStyle(probe).color;
          probe.remove();
          return colour;
        });
      /** Waits until the chart's ticks and legend are drawn in `colour`. */
      const drawnIn = async (colour: string) => {
        await page.locator(`canvas[data-tick-color="${colour}"][data-legend-color="${colour}"]`).waitFor();
      };
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.getByRole('tab', { name: 'Model' }).click();
      await curves.waitFor();
      const dark = await mutedText();
      await drawnIn(dark);
      // Not Chart.js's default grey, which is unreadable on the dark background.
      assert.notEqual(dark, 'rgb(102, 102, 102)');

      // The system turns light: the chart is drawn again in the light token.
      await page.emulateMedia({ colorScheme: 'light' });
      const light = await mutedText();
      assert.notEqual(light, dark);
      await drawnIn(light);
      // The Theme setting pins dark under the light system.
      await page.getByLabel('Theme').selectOption('dark');
      await drawnIn(dark);
      await page.getByLabel('Theme').selectOption('system');
      assert.deepEqual(ui.problems, []);
    } finally {
      await ui.page.emulateMedia({ colorScheme: null });
      await ui.close();
      await services.close();
    }
  },
);
