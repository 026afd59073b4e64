import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createServices, type Services } from '../../electron/app/services.ts';
import { defaultModelDir } from '../../electron/appPaths.ts';
import { Catalog } from '../../electron/catalog/catalog.ts';
import type { ModelRow } from '../../electron/catalog/models.ts';
import { DEFAULT_FINETUNE_OPTIONS, type FineTuneOptions } from '../../electron/ml/fineTune.ts';
import { startPredictor } from '../../electron/ml/inference.ts';
import { MIGRATIONS } from '../../electron/catalog/migrations.ts';
import { loadFashionMnist } from '../../electron/dataset/fashionMnist.ts';
import { DEFAULT_FOLDER_NAMES } from '../../electron/export/fileNames.ts';
import { importPhotos, type ImportResult } from '../../electron/photos/importJob.ts';
import { writePackshots } from '../fixtures/samplePhotos.ts';
import { writeSmallFashionMnist } from './dataset.ts';

/** Fashion-MNIST, from the local cache (tests never download). */
export const fashionMnist = await loadFashionMnist({ allowDownload: false });
/** The Fashion-MNIST test images and labels the sample photos are made from. */
export const testSet = fashionMnist.test;

/**
 * Writes `file` as a catalog that the first `version` migrations made, then runs `sql` on it (the rows an
 * older version would have kept): opening it with Catalog migrates it the rest of the way.
 */
export function catalogAtVersion(file: string, version: number, sql: string): void {
  const old = new Database(file);
  try {
    for (const migration of MIGRATIONS.slice(0, version)) old.exec(migration);
    old.pragma(`user_version = ${version}`);
    old.exec(sql);
  } finally {
    old.close();
  }
}

export const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Every file under `dir` (hidden ones too, so a leftover partial copy shows), by content hash. */
export function filesByHash(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.set(sha256(file), [...(out.get(sha256(file)) ?? []), file]);
  }
  return out;
}

/**
 * Imports the photos under `photos` into `catalog` classified by the shipped model, registered and made active
 * first (as the app does on its first import); returns the model's row and the import's result. `withCard:
 * false` registers the model without its card, so that what needs its test-set scores measures them.
 */
export async function importPredicted(
  catalog: Catalog,
  photos: string,
  thumbnailsDir: string,
  options: { withCard?: boolean } = {},
): Promise<{ model: ModelRow; result: ImportResult }> {
  const predictor = await startPredictor(defaultModelDir());
  try {
    const model = catalog.models.registerModel({
      name: predictor.name,
      version: predictor.version,
      dir: predictor.modelDir,
      card: options.withCard === false ? {} : (predictor.card ?? {}),
    });
    catalog.models.activateModel(model.id);
    const result = await importPhotos([photos], {
      catalog,
      thumbnailsDir,
      predictor: { predictor, modelId: model.id },
    });
    return { model, result };
  } finally {
    await predictor.close();
  }
}

/**
 * The services over `<dir>/catalog.sqlite` as the window's tests use them: thumbnails in `<dir>/thumbs`, new
 * model versions in `<dir>/models`, photos served by the test server's paths, fine-tuning with `fineTune` on
 * the first 1,000 training and 200 test images of Fashion-MNIST (`<dir>/fashion-mnist`).
 */
export function catalogServices(dir: string, fineTune: FineTuneOptions = DEFAULT_FINETUNE_OPTIONS): Services {
  return createServices({
    dataDir: writeSmallFashionMnist(fashionMnist, path.join(dir, 'fashion-mnist')),
    catalogFile: path.join(dir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dir, 'thumbs'),
    thumbnailBase: '/thumb/',
    photoBase: '/photo/',
    modelsDir: path.join(dir, 'models'),
    fineTune,
  });
}

/**
 * A real catalog of `n` photos imported from `<dir>/photos`, each labeled by a reviewer with its true
 * Fashion-MNIST category, so where each photo must go is known. `rename` gives some photos other names.
 */
export async function labeledCatalog(dir: string, n: number, rename: Record<number, string> = {}) {
  const photos = path.join(dir, 'photos');
  const files = await writePackshots(testSet.images, n, photos, { seed: 5, size: { width: 120, height: 150 } });
  const paths = files.map((file, i) => {
    if (!(i in rename)) return file;
    const to = path.join(photos, rename[i]!);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.renameSync(file, to);
    return to;
  });
  const db = path.join(dir, 'catalog.sqlite');
  const catalog = new Catalog(db);
  const result = await importPhotos([photos], { catalog, thumbnailsDir: path.join(dir, 'thumbs') });
  assert.equal(result.counts.done, n);
  catalog.labels.setLabels(
    paths.map((file, i) => ({ photoId: catalog.queries.photoAtPath(file)!, label: testSet.labels[i]! })),
    'tester',
  );
  const hashes = paths.map(sha256);
  catalog.close();
  return { photos, db, paths, hashes, expectedFolder: (i: number) => DEFAULT_FOLDER_NAMES[testSet.labels[i]!]! };
}

/**
 * A labeledCatalog of 12 photos in which the model took three back out of review with a wrong guess (`guess(i)`,
 * the category after the true one): photo 0 at 23 % and photo 1 at 50 % (under the default rule's 70 %: they
 * need review), photo 2 at 95 % (sure enough to pass without review). The other nine keep their true labels.
 */
export async function unsureCatalog(dir: string) {
  const made = await labeledCatalog(dir, 12);
  const guess = (i: number) => (testSet.labels[i]! + 1) % 10;
  const catalog = new Catalog(made.db);
  try {
    const model = catalog.models.registerModel({ name: 'guesser', version: 'guesser-1', dir, card: {} });
    const ids = [0, 1, 2].map((i) => catalog.queries.photoAtPath(made.paths[i]!)!);
    // The guess at its confidence, the rest spread evenly over the other nine categories.
    catalog.predictions.storePredictions(
      model.id,
      [0.23, 0.5, 0.95].map((confidence, i) => ({
        photoId: ids[i]!,
        probabilities: Float32Array.from({ length: 10 }, (_, k) =>
          k === guess(i) ? confidence : (1 - confidence) / 9,
        ),
      })),
    );
    catalog.labels.setLabels(
      ids.map((photoId) => ({ photoId, label: null })),
      'tester',
    );
  } finally {
    catalog.close();
  }
  return { ...made, guess };
}
