/** How fast the UI's queries answer on a large catalog (rows made directly in SQL; no photos needed). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NUM_CLASSES } from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import type { PageQuery } from '../electron/api/contract.ts';
import { Catalog, DEFAULT_REVIEW_RULE } from '../electron/catalog/catalog.ts';

export interface CatalogBench {
  photos: number;
  /** Median milliseconds per query, over repeated runs. */
  categoryCountsMs: number;
  firstPageMs: number;
  deepPageMs: number;
  categoryPageMs: number;
  reviewQueuePageMs: number;
  searchPageMs: number;
  jobCountsMs: number;
  databaseMegabytes: number;
}

function medianMs(run: () => unknown, times = 9): number {
  const samples = Array.from({ length: times }, () => {
    const started = performance.now();
    run();
    return performance.now() - started;
  }).sort((a, b) => a - b);
  return samples[Math.floor(times / 2)]!;
}

/**
 * Fills a catalog with `photos` synthetic predicted photos (1 in 20 labeled) in one import job, without
 * any files: for measuring queries and the UI at scale. Hashes are sha256-shaped, so the thumbnail
 * protocol accepts them where a test writes the files.
 */
export function fillSyntheticCatalog(catalog: Catalog, dir: string, photos: number): { jobId: number } {
  const model = catalog.registerModel({ name: 'synthetic', version: 'synthetic', dir, card: {} });
  const jobId = catalog.createJob([dir]);
  const random = seededRandom(3);
  const pixels = new Uint8Array(784);
  for (let start = 0; start < photos; start += 5000) {
    const batch = Array.from({ length: Math.min(5000, photos - start) }, (_, i) => ({
      fileId: 0, path: path.join(dir, `photo-${start + i}.jpg`), hash: (start + i).toString(16).padStart(64, '0'), size: 1, mtimeMs: 0,
      format: 'jpeg', width: 800, height: 1000, pixels,
    }));
    catalog.addFoundFiles(jobId, batch.map((b) => b.path));
    const ids = catalog.pendingFiles(jobId, 0, batch.length);
    catalog.storePhotos(batch.map((b, i) => ({ ...b, fileId: ids[i]!.id })));
  }
  const photoIds = catalog.db.prepare('SELECT id FROM photos').pluck().all() as number[];
  for (let start = 0; start < photoIds.length; start += 5000) {
    catalog.storePredictions(model.id, photoIds.slice(start, start + 5000).map((photoId) => {
      // Like the shipped model on Fashion-MNIST: most predictions confident, some torn between classes.
      const probabilities = new Float32Array(NUM_CLASSES).map(() => random() ** 4);
      if (random() < 0.85) probabilities[Math.floor(random() * NUM_CLASSES)]! += 20;
      const sum = probabilities.reduce((a, b) => a + b, 0);
      return { photoId, probabilities: probabilities.map((p) => p / sum) };
    }));
  }
  const label = catalog.db.prepare(`INSERT INTO labels (photo_id, old_label, new_label, reviewer, created_at) VALUES (?, NULL, ?, 'synthetic', 'now')`);
  catalog.db.transaction(() => { for (let i = 0; i < photoIds.length; i += 20) label.run(photoIds[i], i % NUM_CLASSES); })();
  catalog.db.pragma('optimize');
  return { jobId };
}

/** Times the UI's queries on a catalog (a job's counts for `jobId`). */
export function measureQueries(catalog: Catalog, jobId: number): CatalogBench {
  const photos = catalog.categoryCounts().total;
  const page: PageQuery = { queue: 'all', sort: 'confidence', descending: false, offset: 0, limit: 200, rule: DEFAULT_REVIEW_RULE };
  return {
    photos,
    categoryCountsMs: medianMs(() => catalog.categoryCounts()),
    firstPageMs: medianMs(() => catalog.photoPage({ ...page, offset: 0 })),
    deepPageMs: medianMs(() => catalog.photoPage({ ...page, offset: Math.floor(photos * 0.9) })),
    categoryPageMs: medianMs(() => catalog.photoPage({ ...page, category: 6 })),
    reviewQueuePageMs: medianMs(() => catalog.photoPage({ ...page, queue: 'needsReview' })),
    searchPageMs: medianMs(() => catalog.photoPage({ ...page, sort: 'name', search: '-4242' })),
    jobCountsMs: medianMs(() => catalog.jobCounts(jobId)),
    databaseMegabytes: fs.statSync(catalog.file).size / 2 ** 20,
  };
}

/** Times the UI's queries on a catalog of `photos` synthetic photos. */
export function benchCatalog(photos = 100_000): CatalogBench {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bench-catalog-'));
  const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
  try {
    return measureQueries(catalog, fillSyntheticCatalog(catalog, dir, photos).jobId);
  } finally {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
