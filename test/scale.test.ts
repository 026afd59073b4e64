import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { createServices } from '../electron/app/services.ts';
import { projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { fillSyntheticCatalog } from './fixtures/syntheticCatalog.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { convertPhoto, thumbnailPath } from '../electron/photos/photoPipeline.ts';
import { renderPackshot } from './fixtures/samplePhotos.ts';
import { openRenderer, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

const skip = SKIP_WITHOUT_CHROMIUM;
const PHOTOS = 100_000;
const THUMBNAILS = 4000;

/**
 * Scrolls the grid for three seconds, 240 px a frame (a screenful every few frames), timing every frame:
 * frames per second, the 95th percentile frame in ms, and how far it scrolled in px.
 */
async function scrollFrames(page: Page) {
  return page.evaluate(async () => {
    const g = globalThis as unknown as {
      document: { querySelector(s: string): { scrollTop: number; scrollHeight: number; clientHeight: number } };
      requestAnimationFrame(f: (t: number) => void): void;
    };
    const grid = g.document.querySelector('[aria-label="Photos"]');
    const frames: number[] = [];
    let last = await new Promise<number>((r) => g.requestAnimationFrame(r));
    const end = last + 3000;
    while (last < end) {
      grid.scrollTop += 240;
      const now = await new Promise<number>((r) => g.requestAnimationFrame(r));
      frames.push(now - last);
      last = now;
    }
    const sorted = [...frames].sort((a, b) => a - b);
    return {
      frames: frames.length,
      fps: frames.length / 3,
      p95FrameMs: sorted[Math.floor(0.95 * sorted.length)]!,
      scrolledPx: grid.scrollTop,
    };
  });
}

test(
  'a 100,000-photo catalog: the grid shows its first thumbnails at once and scrolls to the last photo',
  { skip, timeout: 600_000 },
  async (t) => {
    const dir = tempDir('scale');
    const catalogFile = path.join(dir, 'catalog.sqlite');
    const thumbs = path.join(dir, 'thumbs');
    const catalog = new Catalog(catalogFile);
    fillSyntheticCatalog(catalog, dir, PHOTOS);
    // Real thumbnails for every tile the scroll below passes (about 1,700); beyond them, tiles show no image.
    const data = await loadFashionMnist({ allowDownload: false });
    const samples = await Promise.all(
      Array.from({ length: 16 }, (_, i) => i).map(
        async (i) =>
          (
            await convertPhoto(
              await renderPackshot(data.test.images.subarray(i * 784, (i + 1) * 784), {
                garment: 300,
                margins: { top: 20, bottom: 20, left: 20, right: 20 },
                format: 'jpeg',
              }),
            )
          ).thumbnail,
      ),
    );
    const first = catalog.queries.photoPage({
      queue: 'all',
      sort: 'confidence',
      descending: false,
      offset: 0,
      limit: THUMBNAILS,
      rule: DEFAULT_REVIEW_RULE,
    }).tiles;
    for (const [i, tile] of first.entries()) {
      const file = thumbnailPath(thumbs, tile.hash);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, samples[i % samples.length]!);
    }
    catalog.close();

    const services = createServices({
      catalogFile,
      thumbnailsDir: thumbs,
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
    });
    const ui = await openRenderer(services);
    try {
      const { page } = ui;
      await page.setViewportSize({ width: 1280, height: 800 });
      // Milliseconds from the start of navigation to the first loaded thumbnail, polled every frame.
      const firstThumbnailMs = (await (
        await page.waitForFunction(
          () => {
            const g = globalThis as unknown as {
              document: { querySelector(s: string): { naturalWidth: number } | null };
            };
            return (g.document.querySelector('[data-testid="tile"] img')?.naturalWidth ?? 0) > 0 && performance.now();
          },
          undefined,
          { polling: 'raf', timeout: 60_000 },
        )
      ).jsonValue()) as number;
      assert.equal(await page.getByTestId('grid-total').textContent(), `${PHOTOS} photos`);

      const scroll = await scrollFrames(page);
      // Tiles that flew past show their thumbnails as soon as the scrolling stops.
      const settledThumbnailMs = await page.evaluate(async () => {
        const g = globalThis as unknown as {
          document: {
            querySelector(s: string): { scrollTop: number };
            querySelectorAll(s: string): ArrayLike<{ naturalWidth: number }>;
          };
          requestAnimationFrame(f: (t: number) => void): void;
        };
        const started = performance.now();
        for (;;) {
          await new Promise((r) => g.requestAnimationFrame(r));
          const images = Array.from(g.document.querySelectorAll('[data-testid="tile"] img'));
          if (images.length >= 20 && images.every((img) => img.naturalWidth > 0)) return performance.now() - started;
          if (performance.now() - started > 10_000) return Infinity;
        }
      });
      assert.ok(
        Number.isFinite(settledThumbnailMs),
        'the thumbnails of the tiles in view appear once the scrolling stops',
      );
      t.diagnostic(
        `100,000 photos: first thumbnail ${firstThumbnailMs.toFixed(0)} ms after navigation; scrolling ${scroll.fps.toFixed(1)} frames/s, 95th percentile frame ${scroll.p95FrameMs.toFixed(1)} ms; thumbnails in view ${settledThumbnailMs.toFixed(0)} ms after it stops`,
      );
      assert.ok(scroll.scrolledPx > 10_000, 'the grid scrolled');

      // The end of the grid holds the last photo of the order (the most confident).
      await page.evaluate(() => {
        const g = globalThis as unknown as {
          document: { querySelector(s: string): { scrollTop: number; scrollHeight: number } };
        };
        const grid = g.document.querySelector('[aria-label="Photos"]');
        grid.scrollTop = grid.scrollHeight;
      });
      const lastTile = services.api.page({
        queue: 'all',
        sort: 'confidence',
        descending: true,
        offset: 0,
        limit: 1,
        rule: DEFAULT_REVIEW_RULE,
      });
      const lastName = (await lastTile).tiles[0]!.name;
      await page.getByRole('button', { name: new RegExp(`: ${lastName.replace('.', '\\.')}(;|$)`) }).waitFor();
      fs.mkdirSync(path.join(projectRoot, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(projectRoot, 'test-artifacts', 'grid-100k-end.png') });

      // The thumbnail size at its smallest (as the slider keeps it): about 3.5 times the tiles in view.
      await page.evaluate(() => localStorage.setItem('grid.tileSize', '96'));
      await page.reload();
      await page.locator('[data-testid="tile"] img').first().waitFor();
      const smallest = await scrollFrames(page);
      t.diagnostic(
        `96-px tiles: scrolling ${smallest.fps.toFixed(1)} frames/s, 95th percentile frame ${smallest.p95FrameMs.toFixed(1)} ms`,
      );
      assert.equal(smallest.scrolledPx, 240 * smallest.frames, 'the grid of the smallest tiles scrolled every frame');
      const report = { photos: PHOTOS, firstThumbnailMs, ...scroll, settledThumbnailMs, smallestTiles: smallest };
      fs.writeFileSync(path.join(projectRoot, 'test-artifacts', 'grid-100k.json'), JSON.stringify(report, null, 1));
    } finally {
      await ui.close();
      await services.close();
    }
  },
);
