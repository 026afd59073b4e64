/** How fast the UI's queries answer on a large catalog (rows made directly in SQL; no photos needed). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PageQuery } from '../contract/api.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { fillSyntheticCatalog } from '../test/fixtures/syntheticCatalog.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

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

/** Times the UI's queries on a catalog (a job's counts for `jobId`). */
export function measureQueries(catalog: Catalog, jobId: number): CatalogBench {
  const photos = catalog.queries.categoryCounts().total;
  const page: PageQuery = {
    queue: 'all',
    sort: 'confidence',
    descending: false,
    offset: 0,
    limit: 200,
    rule: DEFAULT_REVIEW_RULE,
  };
  return {
    photos,
    categoryCountsMs: medianMs(() => catalog.queries.categoryCounts()),
    firstPageMs: medianMs(() => catalog.queries.photoPage({ ...page, offset: 0 })),
    deepPageMs: medianMs(() => catalog.queries.photoPage({ ...page, offset: Math.floor(photos * 0.9) })),
    categoryPageMs: medianMs(() => catalog.queries.photoPage({ ...page, category: 6 })),
    reviewQueuePageMs: medianMs(() => catalog.queries.photoPage({ ...page, queue: 'needsReview' })),
    searchPageMs: medianMs(() => catalog.queries.photoPage({ ...page, sort: 'name', search: '-4242' })),
    jobCountsMs: medianMs(() => catalog.imports.jobCounts(jobId)),
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
