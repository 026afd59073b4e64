/**
 * The app at scale and over time, driven through its services as the window drives them: a large import
 * (time, database size, memory, the UI's queries), and the soak run, the whole working cycle again and
 * again (import a folder, review it, fine-tune and discard the candidate, export a CSV, sort into folders),
 * measuring after each cycle what a leak would grow: heap after garbage collection, resident memory, open files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Catalog } from '../electron/catalog/catalog.ts';
import { measureQueries, type CatalogBench } from './catalog.ts';
import { PIXELS, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { DEFAULT_FINETUNE_OPTIONS } from '../electron/ml/fineTune.ts';
import { writeDistinctPhotos, writePackshots } from '../test/fixtures/samplePhotos.ts';
import type { FashionSorterApi, JobKind, JobStatuses, PhotoSelection } from '../contract/api.ts';
import { createServices, type Services } from '../electron/app/services.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

export interface SoakCycle {
  seconds: number;
  heapMB: number;
  rssMB: number;
  /** Open file descriptors of the process (where /proc shows them; null elsewhere). */
  fileDescriptors: number | null;
}

const ALL: PhotoSelection = { queue: 'all', rule: DEFAULT_REVIEW_RULE };
const MB = 2 ** 20;

/** Garbage collection on demand, so the heap measured is what is still referenced. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const openFileDescriptors = () => (fs.existsSync('/proc/self/fd') ? fs.readdirSync('/proc/self/fd').length : null);

/**
 * Resolves with the last status of the next job of `kind` to end, as the window hears of it: call it before
 * starting the job.
 */
function ended<K extends JobKind>(services: Services, kind: K): Promise<JobStatuses[K]> {
  return new Promise((resolve) => {
    const stop = services.onJobUpdate((update) => {
      if (update.kind !== kind || update.status.running) return;
      stop();
      resolve(update.status as JobStatuses[K]);
    });
  });
}

/**
 * Runs `cycles` working cycles of `photosPerCycle` new photos each; returns the measurements after each.
 * `dataDir`: the Fashion-MNIST folder fine-tuning replays and compares on (loadFashionMnist's search by default).
 */
export async function soak(
  test: ImageSet,
  cycles: number,
  photosPerCycle = 60,
  dataDir?: string,
): Promise<SoakCycle[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-soak-'));
  const csv = path.join(dir, 'catalog.csv');
  const sorted = path.join(dir, 'sorted');
  const services = createServices({
    catalogFile: path.join(dir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dir, 'thumbs'),
    modelsDir: path.join(dir, 'models'),
    fineTune: { ...DEFAULT_FINETUNE_OPTIONS, epochs: 1, minSteps: 0 },
    dataDir,
    chooseSaveFile: async () => csv,
    chooseDestination: async () => sorted,
  });
  const api: FashionSorterApi = services.api;
  const results: SoakCycle[] = [];
  try {
    for (let cycle = 0; cycle < cycles; cycle++) {
      const started = performance.now();
      // New photos each cycle: test images photosPerCycle × cycle onwards, so their true categories are known.
      const first = cycle * photosPerCycle;
      const folder = path.join(dir, `shoot-${cycle}`);
      const files = await writePackshots(test.images.subarray(first * PIXELS), photosPerCycle, folder, {
        seed: cycle + 1,
      });
      const importEnded = ended(services, 'import');
      await api.importPaths([folder]);
      const imported = await importEnded;
      if (imported.phase !== 'done')
        throw new Error(`cycle ${cycle}: the import ended ${imported.phase}: ${imported.problem}`);
      // The reviewer labels every new photo with its true category.
      const ids = await api.photoIds({ ...ALL, queue: 'all', sort: 'name', descending: false, offset: 0, limit: 1000 });
      const changes = [];
      for (const id of ids) {
        const photo = await api.photo(id);
        const index = files.findIndex((f) => photo.paths.includes(f));
        if (index >= 0 && photo.label === null) changes.push({ photoId: id, label: test.labels[first + index]! });
      }
      await api.setLabels(changes);
      const improveEnded = ended(services, 'improve');
      await api.improveModel();
      const improved = await improveEnded;
      if (improved.phase !== 'ready')
        throw new Error(`cycle ${cycle}: improving ended ${improved.phase}: ${improved.problem}`);
      await api.discardModel(improved.candidate!.modelId);
      if (!(await api.exportCsv({ format: 'catalog', selection: ALL, bom: true })))
        throw new Error(`cycle ${cycle}: the export wrote nothing`);
      await api.chooseSortDestination();
      const sortEnded = ended(services, 'sort');
      await api.startSort({ mode: 'copy', selection: ALL, folders: (await api.sortDefaults()).folders });
      const sortedStatus = await sortEnded;
      if (sortedStatus.phase !== 'done')
        throw new Error(`cycle ${cycle}: sorting ended ${sortedStatus.phase}: ${sortedStatus.problem}`);
      fs.rmSync(sorted, { recursive: true });
      collectGarbage();
      const memory = process.memoryUsage();
      results.push({
        seconds: (performance.now() - started) / 1000,
        heapMB: memory.heapUsed / MB,
        rssMB: memory.rss / MB,
        fileDescriptors: openFileDescriptors(),
      });
    }
    return results;
  } finally {
    await services.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface ScaleBench {
  photos: number;
  importSeconds: number;
  photosPerSecond: number;
  databaseMegabytes: number;
  /** Resident memory of the process (main thread and its workers), sampled during the import, and after it. */
  peakRssMB: number;
  rssAfterMB: number;
  /** The UI's queries on the imported catalog. */
  queries: CatalogBench;
}

/** Imports `photos` distinct JPEG photos of 400×500 through the services, then times the UI's queries. */
export async function benchScale(test: ImageSet, photos = 100_000): Promise<ScaleBench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-scale-'));
  const catalogFile = path.join(dir, 'catalog.sqlite');
  try {
    const root = path.join(dir, 'photos');
    await writeDistinctPhotos(test, photos, root, path.join(dir, 'packshots'), { width: 400, height: 500 });
    const services = createServices({ catalogFile, thumbnailsDir: path.join(dir, 'thumbs') });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    let imported;
    const started = performance.now();
    try {
      const importEnded = ended(services, 'import');
      await services.api.importPaths([root]);
      imported = await importEnded;
    } finally {
      clearInterval(sampler);
    }
    const importSeconds = (performance.now() - started) / 1000;
    if (imported.phase !== 'done' || imported.done !== photos)
      throw new Error(
        `the import ended ${imported.phase} with ${imported.done} of ${photos} photos: ${imported.problem}`,
      );
    collectGarbage();
    const rssAfterMB = process.memoryUsage().rss / MB;
    await services.close();
    const catalog = new Catalog(catalogFile);
    const queries = (() => {
      try {
        return measureQueries(catalog, imported.jobId);
      } finally {
        catalog.close();
      }
    })();
    return {
      photos,
      importSeconds,
      photosPerSecond: photos / importSeconds,
      databaseMegabytes: queries.databaseMegabytes,
      peakRssMB: peakRss / MB,
      rssAfterMB,
      queries,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
