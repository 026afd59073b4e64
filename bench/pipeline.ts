/**
 * Measurements of the photo pipeline: throughput against sharp alone on the same files (the floor of
 * this job), the main thread's worst event-loop delay while importing, and fidelity: the model's accuracy
 * on Fashion-MNIST test images imported as photos, against its accuracy on the same images as tensors.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { Catalog } from '../electron/catalog/catalog.ts';
import { PIXELS, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { evaluatePredictions } from '../electron/ml/metrics.ts';
import type { Predictor } from '../electron/ml/inference.ts';
import { importPhotos } from '../electron/photos/importJob.ts';
import { convertPhoto, THUMBNAIL_SIZE } from '../electron/photos/photoPipeline.ts';
import { writePackshots } from '../test/fixtures/samplePhotos.ts';
import { predictedLabelsByPath } from '../test/helpers/rawSql.ts';

export interface PipelineBench {
  photos: number;
  photosPerSecond: number;
  floorPhotosPerSecond: number;
  ratioToFloor: number;
  /** The same import without predicting: what the photo side alone costs against the floor. */
  withoutPredictionRatioToFloor: number;
  maxEventLoopDelayMs: number;
  /** CPU time per photo, one photo at a time on one core: where the import's time goes against the floor. */
  cpuMsPerPhoto: { floor: number; convert: number; predict: number };
}

export interface FidelityBench {
  images: number;
  pipelineAccuracy: number;
  tensorAccuracy: number;
  /** Tensor-level minus pipeline accuracy, in percentage points. */
  gapPoints: number;
}

/** Imports `folder` into a fresh catalog in `workDir`; returns the seconds and the catalog (open). */
async function importFresh(
  folder: string,
  workDir: string,
  predictor: Predictor | undefined,
  onLoopDelay?: (maxMs: number) => void,
) {
  const catalog = new Catalog(path.join(workDir, `catalog-${Date.now()}.sqlite`));
  const model =
    predictor &&
    catalog.models.registerModel({
      name: predictor.name,
      version: predictor.version,
      dir: predictor.modelDir,
      card: {},
    });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = performance.now();
  const result = await importPhotos([folder], {
    catalog,
    thumbnailsDir: path.join(workDir, `thumbnails-${Date.now()}`),
    predictor: predictor && model && { predictor, modelId: model.id },
  });
  const seconds = (performance.now() - started) / 1000;
  loop.disable();
  onLoopDelay?.(loop.max / 1e6);
  return { catalog, seconds, result };
}

/** The floor's work on one photo: sharp decoding it and resizing it to the thumbnail size. */
const floorWork = (bytes: Buffer) =>
  sharp(bytes).resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside' }).raw().toBuffer();

/** The floor's work on each file, as fast as it goes. */
async function sharpFloor(files: string[]): Promise<number> {
  const previous = sharp.concurrency();
  sharp.concurrency(os.availableParallelism());
  const queue = [...files];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) {
        await floorWork(await fs.readFile(file));
      }
    }),
  );
  sharp.concurrency(previous);
  return files.length / ((performance.now() - started) / 1000);
}

/** CPU milliseconds of `f` per item, run over `items` one at a time (sharp's own threads included). */
async function cpuMsEach<T>(items: T[], f: (item: T) => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  for (const item of items) await f(item);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / items.length;
}

/**
 * The floor's work (decode and resize) against the conversion (decode at thumbnail size, trim, sample,
 * sharpen, hash, encode the thumbnail) and the model, per photo on one core, on the first 300 files.
 */
async function costPerPhoto(files: string[], predictor: Predictor): Promise<PipelineBench['cpuMsPerPhoto']> {
  const photos = await Promise.all(files.slice(0, 300).map((file) => fs.readFile(file)));
  const previous = sharp.concurrency();
  sharp.concurrency(1);
  const floor = await cpuMsEach(photos, floorWork);
  const converted: Uint8Array[] = [];
  const convert = await cpuMsEach(photos, async (bytes) => converted.push((await convertPhoto(bytes)).pixels));
  sharp.concurrency(previous);
  // The model runs in its worker: its wall time, the main thread waiting.
  await predictor.predictEach(converted);
  const started = performance.now();
  await predictor.predictEach(converted);
  return { floor, convert, predict: (performance.now() - started) / converted.length };
}

/** End-to-end import speed on `count` generated 800×1000 JPEG packshots, and sharp alone on the same files. */
export async function benchPipeline(test: ImageSet, predictor: Predictor, count = 2000): Promise<PipelineBench> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-bench-pipeline-'));
  try {
    const folder = path.join(workDir, 'photos');
    const files = await writePackshots(test.images, count, folder, {
      format: 'jpeg',
      size: { width: 800, height: 1000 },
      seed: 11,
    });
    // Warm the page cache and sharp, so that neither side pays for the first read.
    await sharpFloor(files.slice(0, 50));
    const floorPhotosPerSecond = await sharpFloor(files);
    let maxEventLoopDelayMs = 0;
    const run = await importFresh(folder, workDir, predictor, (ms) => {
      maxEventLoopDelayMs = ms;
    });
    run.catalog.close();
    const photosPerSecond = run.result.counts.done / run.seconds;
    const unpredicted = await importFresh(folder, workDir, undefined);
    unpredicted.catalog.close();
    return {
      photos: count,
      photosPerSecond,
      floorPhotosPerSecond,
      ratioToFloor: photosPerSecond / floorPhotosPerSecond,
      withoutPredictionRatioToFloor: unpredicted.result.counts.done / unpredicted.seconds / floorPhotosPerSecond,
      maxEventLoopDelayMs,
      cpuMsPerPhoto: await costPerPhoto(files, predictor),
    };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The model's accuracy on the first `count` test images imported as photos vs. as tensors. */
export async function measureFidelity(
  test: ImageSet,
  predictor: Predictor,
  count = test.count,
): Promise<FidelityBench> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-bench-fidelity-'));
  try {
    const folder = path.join(workDir, 'photos');
    const files = await writePackshots(test.images, count, folder, { seed: 5 });
    const { catalog } = await importFresh(folder, workDir, predictor);
    const predicted = predictedLabelsByPath(catalog);
    catalog.close();
    const pipelineAccuracy = files.filter((file, i) => predicted.get(file) === test.labels[i]).length / count;
    const tensorProbabilities = await predictor.predict(test.images.subarray(0, count * PIXELS), count);
    const tensorAccuracy = evaluatePredictions(tensorProbabilities, test.labels.subarray(0, count)).accuracy;
    return { images: count, pipelineAccuracy, tensorAccuracy, gapPoints: 100 * (tensorAccuracy - pipelineAccuracy) };
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
  }
}
