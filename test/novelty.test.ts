import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { createServices } from '../electron/app/services.ts';
import { loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { filledOutline } from '../electron/ml/novelty.ts';
import { convertPhoto } from '../electron/photos/photoPipeline.ts';
import { renderPackshot } from './fixtures/samplePhotos.ts';
import { axeScript, openRenderer, seriousAccessibilityViolations, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { DEFAULT_REVIEW_RULE, NOVELTY_LIMIT } from '../contract/review.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-novelty-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Photos of no garment at all: seeded colour noise, and a landscape (sky gradient, a sun, green hills). */
async function nonGarments(dir: string): Promise<void> {
  const random = seededRandom(19);
  const [w, h] = [480, 360];
  const noise = Buffer.from(Array.from({ length: w * h * 3 }, () => Math.floor(random() * 256)));
  await sharp(noise, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(path.join(dir, 'noise.png'));
  const scene = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const hill = h * (0.62 + 0.08 * Math.sin(x / 53) + 0.04 * Math.sin(x / 17));
      const sun = Math.hypot(x - 0.72 * w, y - 0.25 * h) < 0.08 * w;
      const rgb =
        y > hill
          ? [40 + 30 * random(), 120 + 40 * ((y - hill) / h) + 20 * random(), 40]
          : sun
            ? [255, 230, 120]
            : [90 + 100 * (y / h), 150 + 70 * (y / h), 240];
      scene.set(rgb.map(Math.round), (y * w + x) * 3);
    }
  }
  await sharp(scene, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path.join(dir, 'landscape.jpg'));
}

test(
  'photos unlike Fashion-MNIST go to review with their reason on the tile; a rendered packshot does not',
  { skip, timeout: 300_000 },
  async (t) => {
    const dir = path.join(tmp, 'photos');
    fs.mkdirSync(dir);
    await nonGarments(dir);
    // Test images 1 (Pullover) and 2 (Trouser) as packshots on white, as the paper rendered them.
    const data = await loadFashionMnist({ allowDownload: false });
    for (const index of [1, 2]) {
      const png = await renderPackshot(data.test.images.subarray(index * PIXELS, (index + 1) * PIXELS), {
        garment: 280,
        margins: { top: 30, bottom: 40, left: 30, right: 30 },
        format: 'png',
      });
      fs.writeFileSync(path.join(dir, `packshot-${index}.png`), png);
    }
    const services = createServices({
      catalogFile: path.join(tmp, 'catalog.sqlite'),
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
    });
    try {
      let status = await services.api.importPaths([dir]);
      while (status.running) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await services.api.importStatus())!;
      }
      assert.equal(status.phase, 'done');
      const query = { sort: 'name', descending: false, offset: 0, limit: 10, rule: DEFAULT_REVIEW_RULE } as const;
      const all = (await services.api.page({ ...query, queue: 'all' })).tiles;
      const novelty = Object.fromEntries(all.map((t) => [t.name, t.novelty]));
      for (const name of ['noise.png', 'landscape.jpg'])
        assert.ok(novelty[name]! >= NOVELTY_LIMIT, `${name}: novelty ${novelty[name]}`);
      for (const name of ['packshot-1.png', 'packshot-2.png'])
        assert.ok(novelty[name]! < NOVELTY_LIMIT, `${name}: novelty ${novelty[name]}`);
      const inReview = (await services.api.page({ ...query, queue: 'needsReview' })).tiles.map((t) => t.name);
      assert.ok(inReview.includes('noise.png') && inReview.includes('landscape.jpg'), inReview.join(', '));
      const counts = await services.api.counts(DEFAULT_REVIEW_RULE);
      assert.equal(counts.needsReview, inReview.length);

      const ui = await openRenderer(services, { initScripts: [axeScript()] });
      try {
        const { page } = ui;
        await page
          .getByRole('button', { name: /Needs review/ })
          .first()
          .click();
        for (const name of ['noise.png', 'landscape.jpg']) {
          // The name starts with what the tile shows ("Unfamiliar", the category, the confidence).
          const tile = page.getByRole('button', {
            name: new RegExp(
              `^Unfamiliar .*: ${name.replace('.', '\\.')}; needs review: unlike the photos the model learned from`,
            ),
          });
          await tile.waitFor();
          assert.equal(await tile.getByTestId('tile-unusual').textContent(), 'Unfamiliar');
        }
        assert.deepEqual(await seriousAccessibilityViolations(page, (m) => t.diagnostic(m), 'unfamiliar tiles'), []);
        await page
          .getByRole('button', { name: /^All photos/ })
          .first()
          .click();
        for (const name of ['packshot-1.png', 'packshot-2.png']) {
          const tile = page.getByRole('button', { name: new RegExp(`: ${name.replace('.', '\\.')}$`) });
          await tile.waitFor();
          assert.equal(await tile.getByTestId('tile-unusual').count(), 0);
        }
        assert.deepEqual(ui.problems, []);
      } finally {
        await ui.close();
      }
    } finally {
      await services.close();
    }
  },
);

test('an input that fills its own outline is rare in Fashion-MNIST and is what a photo with no background becomes', async () => {
  const data = await loadFashionMnist({ allowDownload: false });
  let filled = 0;
  for (let i = 0; i < data.test.count; i++)
    if (filledOutline(data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS))) filled++;
  // 34 of the 60,000 training images (0.06 %); the test set is of the same kind.
  assert.ok(filled <= 20, `${filled} of 10,000 test images fill their outline`);
  assert.equal(filledOutline(new Uint8Array(PIXELS)), false, 'an empty input has no outline to fill');
  const dir = path.join(tmp, 'outline');
  fs.mkdirSync(dir);
  await nonGarments(dir);
  const { pixels } = await convertPhoto(fs.readFileSync(path.join(dir, 'noise.png')));
  assert.ok(filledOutline(pixels), 'colour noise converts to a rectangle with no background on its outline');
  const packshot = await renderPackshot(data.test.images.subarray(PIXELS, 2 * PIXELS), {
    garment: 280,
    margins: { top: 30, bottom: 40, left: 30, right: 30 },
    format: 'png',
  });
  assert.equal(filledOutline((await convertPhoto(packshot)).pixels), false, 'a pullover packshot leaves background');
});
