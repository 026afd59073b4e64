/**
 * An import job: find the photos under some folders, convert each (photo worker), store it in the catalog
 * and predict its category (inference worker), while the main thread only routes results and writes the
 * database in short transactions. Progress lives in the catalog, so a job that was killed resumes where it
 * stopped when the same folders are imported again; a photo is its content hash, so nothing is doubled.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { sortLockFile, type Catalog, type CatalogWait } from '../catalog/catalog.ts';
import type { FileError, ImportedPhoto, JobCounts } from '../catalog/imports.ts';
import { predictionRows } from '../catalog/predictions.ts';
import type { Predictor } from '../ml/inference.ts';
import { WorkerClient } from '../workerThreads.ts';
import { explainReadError, removeStaleThumbnails } from './photoPipeline.ts';
import type { PhotoReply, PhotoRequest } from './photoProtocol.ts';
import { walkPhotos } from './walk.ts';

export interface ImportProgress {
  jobId: number;
  phase: 'finding' | 'importing' | 'predicting';
  found: number;
  done: number;
  failed: number;
  predicted: number;
  photosPerSecond: number;
  /** Seconds left at the current pace; null until there is a pace. */
  etaSeconds: number | null;
}

export interface ImportResult {
  jobId: number;
  status: 'done' | 'cancelled';
  /** True when an interrupted job over the same folders was picked up. */
  resumed: boolean;
  /** Files found, imported, failed and pending. */
  counts: JobCounts;
  /** Distinct photos among the imported files (fewer than counts.done where files share their bytes). */
  photos: number;
  /** Files of this run found unchanged since an earlier import (same path, size and time): not read again. */
  unchanged: number;
  /**
   * Files an earlier import found under these folders that are no longer on disk (deleted, or renamed: a renamed
   * one is found under its new name): the catalog forgets them, and keeps their photos with their labels.
   */
  gone: number;
  /**
   * Files a reviewer had labelled that now hold other content (edited or replaced since): the new content is
   * predicted, and the earlier image keeps its label. Those of this run (a run killed midway forgets its own).
   */
  reviewedReplaced: string[];
  predicted: number;
  errors: FileError[];
  seconds: number;
}

export interface ImportOptions {
  catalog: Catalog;
  thumbnailsDir: string;
  /** The model that predicts each new photo, and its row in the catalog. */
  predictor?: { predictor: Predictor; modelId: number };
  signal?: AbortSignal;
  onProgress?: (progress: ImportProgress) => void;
  /** Photos being converted at once. */
  inFlight?: number;
  /** How long each write waits for a catalog another program is writing to, and whom it tells (see Catalog.writeWhenFree). */
  catalogWait?: CatalogWait;
}

/** A write made once the catalog accepts it (see Catalog.writeWhenFree). */
type Write = <T>(work: () => T) => Promise<T>;

const WRITE_BATCH = 32;
const WRITE_INTERVAL_MS = 250;
const PREDICT_BATCH = 256;
const FIND_BATCH = 500;

/** Results waiting to be written, flushed in one transaction per batch. */
class PendingWrites {
  photos: ImportedPhoto[] = [];
  failures: FileError[] = [];
  known: { fileId: number; photoId: number }[] = [];
  /** Files whose reviewed photo this run replaced with other content (Imports.reviewedFilesReplaced). */
  reviewedReplaced: string[] = [];
  private lastFlush = performance.now();

  constructor(
    private readonly catalog: Catalog,
    private readonly jobId: number,
    private readonly write: Write,
    private readonly onStored: (photoIds: number[]) => void,
  ) {}

  get size() {
    return this.photos.length + this.failures.length + this.known.length;
  }

  async flushIfDue(): Promise<void> {
    if (this.size >= WRITE_BATCH || performance.now() - this.lastFlush > WRITE_INTERVAL_MS) await this.flush();
  }

  async flush(): Promise<void> {
    this.lastFlush = performance.now();
    if (this.size === 0) return;
    const { photos, failures, known } = this;
    this.photos = [];
    this.failures = [];
    this.known = [];
    const stored = await this.write(() => {
      const replaced = this.catalog.imports.reviewedFilesReplaced(photos);
      const ids = this.catalog.imports.storePhotos(photos);
      this.reviewedReplaced.push(...replaced);
      this.catalog.imports.recordFailures(this.jobId, failures);
      this.catalog.imports.markKnown(known);
      return ids;
    });
    this.onStored([...stored, ...known.map((k) => k.photoId)]);
  }
}

/** Predicts stored photos in batches, one batch at a time, alongside the conversion. */
class PredictionQueue {
  private queue: number[] = [];
  private running: Promise<void> = Promise.resolve();
  private busy = false;
  /** A failed batch stops the queue; finish() reports it. */
  private failure: Error | undefined;
  predicted = 0;

  constructor(
    private readonly catalog: Catalog,
    private readonly model: { predictor: Predictor; modelId: number },
    private readonly write: Write,
  ) {}

  push(photoIds: number[]): void {
    this.queue.push(...photoIds);
    if (!this.busy && !this.failure && this.queue.length >= PREDICT_BATCH) {
      this.running = this.drain(false).catch((err: Error) => {
        this.failure = err;
      });
    }
  }

  /** Waits for the batch being predicted, if any. */
  settle(): Promise<void> {
    return this.running;
  }

  /** Predicts everything queued (the last batch may be short). */
  async finish(): Promise<void> {
    await this.running;
    if (this.failure) throw this.failure;
    await this.drain(true);
  }

  private async drain(all: boolean): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length >= PREDICT_BATCH || (all && this.queue.length > 0)) {
        const rows = this.catalog.predictions.inputsToPredict(this.queue.splice(0, PREDICT_BATCH), this.model.modelId);
        if (rows.length === 0) continue;
        const predictions = predictionRows(
          rows.map((row) => row.id),
          await this.model.predictor.assess(rows.map((row) => row.pixels)),
        );
        // Written in slices with the event loop served between them: one long transaction would stall the UI.
        for (let i = 0; i < predictions.length; i += WRITE_BATCH) {
          const slice = predictions.slice(i, i + WRITE_BATCH);
          await this.write(() => this.catalog.predictions.storePredictions(this.model.modelId, slice));
          await setImmediate();
        }
        this.predicted += rows.length;
      }
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Those of `files` that are not on disk: lstat says there is no such file (ENOENT), or a folder on its path is a
 * file now (ENOTDIR). A file the walk missed for another reason (a folder it may not read) is still there.
 */
async function notOnDisk(files: string[]): Promise<string[]> {
  const gone: string[] = [];
  for (const file of files) {
    try {
      await fs.lstat(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') gone.push(file);
    }
  }
  return gone;
}

/**
 * Imports (or resumes importing) the photos under `roots` into the catalog; once every file under them has been
 * found and read, the catalog forgets the files of earlier imports there that are no longer on disk.
 */
export async function importPhotos(roots: string[], options: ImportOptions): Promise<ImportResult> {
  const { catalog, signal } = options;
  const absoluteRoots = roots.map((r) => path.resolve(r));
  const started = performance.now();
  /**
   * Every write is made once the catalog accepts it: while another program holds the catalog, the job waits
   * (the caller's catalogWait says so), and if the wait runs out the message says what was kept.
   */
  let jobId: number | undefined;
  const wait: CatalogWait = {
    ...options.catalogWait,
    signal,
    soFar: () => {
      if (jobId === undefined) return undefined;
      const counts = catalog.imports.jobCounts(jobId);
      return `The import stopped: ${counts.done} of the ${counts.found} files it found so far were imported and are kept; import the same folders again to go on`;
    },
  };
  const write: Write = (work) => catalog.writeWhenFree(work, wait);
  const existing = catalog.imports.unfinishedJob(absoluteRoots);
  jobId = existing ?? (await write(() => catalog.imports.createJob(absoluteRoots)));
  const job = jobId;
  const predictions = options.predictor && new PredictionQueue(catalog, options.predictor, write);
  const pending = new PendingWrites(catalog, job, write, (ids) => predictions?.push(ids));
  let doneThisRun = 0;
  let unchanged = 0;

  const report = (phase: ImportProgress['phase']) => {
    if (!options.onProgress) return;
    const counts = catalog.imports.jobCounts(job);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? doneThisRun / seconds : 0;
    options.onProgress({
      jobId: job,
      phase,
      found: counts.found,
      done: counts.done,
      failed: counts.failed,
      predicted: predictions?.predicted ?? 0,
      photosPerSecond: rate,
      etaSeconds: rate > 0 && phase !== 'finding' ? counts.pending / rate : null,
    });
  };

  if (!catalog.imports.job(job)!.walked) {
    let batch: string[] = [];
    // The catalog (with SQLite's files beside it) and the thumbnail cache may lie in a folder being imported.
    const own = [
      catalog.file,
      `${catalog.file}-wal`,
      `${catalog.file}-shm`,
      `${catalog.file}-journal`,
      sortLockFile(catalog.file),
      options.thumbnailsDir,
    ];
    for await (const entry of walkPhotos(absoluteRoots, { ignore: own })) {
      if (entry.type === 'problem') await write(() => catalog.imports.recordFailure(job, entry.path, entry.reason));
      else batch.push(entry.path);
      if (batch.length >= FIND_BATCH) {
        const found = batch;
        await write(() => catalog.imports.addFoundFiles(job, found));
        batch = [];
        report('finding');
        // A folder's entries come through microtasks only: without a turn of the event loop here, walking
        // a folder of thousands of photos held the main thread for 40 ms at a stretch.
        await setImmediate();
      }
      if (signal?.aborted) break;
    }
    const found = batch;
    await write(() => {
      catalog.imports.addFoundFiles(job, found);
      if (!signal?.aborted) catalog.imports.markWalked(job);
    });
  }

  removeStaleThumbnails(options.thumbnailsDir);
  const photoWorker = new WorkerClient<PhotoRequest, PhotoReply>(import.meta.url, 'photoWorker', 'photo worker');
  try {
    let lastReport = 0;
    const importFile = async (file: { id: number; path: string; seen: boolean }) => {
      try {
        // Only a path the catalog holds can be an unchanged photo; the others go to the worker unlooked-at.
        const stat = file.seen ? await fs.stat(file.path) : undefined;
        const known = stat && catalog.imports.unchangedPhoto(file.path, stat.size, stat.mtimeMs);
        if (known !== undefined) {
          pending.known.push({ fileId: file.id, photoId: known });
          unchanged++;
        } else {
          const reply = await photoWorker.call({
            type: 'convert',
            path: file.path,
            thumbnailsDir: options.thumbnailsDir,
          });
          if (reply.type === 'failed') pending.failures.push({ path: file.path, reason: reply.reason });
          else pending.photos.push({ ...reply, fileId: file.id, path: file.path });
        }
      } catch (err) {
        // A file the system cannot stat is this file's problem; anything else (a dead worker) stops the
        // job, which stays resumable, rather than blaming every remaining file.
        if (!(err as NodeJS.ErrnoException).code) throw err;
        pending.failures.push({ path: file.path, reason: explainReadError(err as NodeJS.ErrnoException) });
      }
      doneThisRun++;
      await pending.flushIfDue();
      if (performance.now() - lastReport > 200) {
        lastReport = performance.now();
        report('importing');
      }
    };

    // A fixed number of photos in flight keeps both the worker and the thread pool busy: against 4, 8 and 16 imported
    // 8 % and 14 % more photos a second (2 cores, 1,500 packshots, three rounds each alternating; scratch script,
    // 2026-12-01). The worker caps the file bytes it holds (photoWorker.ts).
    const inFlight = options.inFlight ?? 16;
    let cursor = 0;
    let files = catalog.imports.pendingFiles(job, cursor, 1000);
    const next = () => {
      if (signal?.aborted) return undefined;
      if (files.length === 0) files = catalog.imports.pendingFiles(job, cursor, 1000);
      const file = files.shift();
      if (file) cursor = file.id;
      return file;
    };
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        for (let file = next(); file; file = next()) await importFile(file);
      }),
    );
    await pending.flush();

    if (signal?.aborted) await predictions?.settle();
    else if (predictions) {
      report('predicting');
      // Photos stored by an earlier, interrupted run of this job were never predicted.
      await predictions.finish();
      predictions.push(catalog.predictions.unpredictedPhotoIds(job, options.predictor!.modelId));
      await predictions.finish();
    }
    const status = signal?.aborted ? 'cancelled' : 'done';
    // Only a whole walk tells what is no longer there: a cancelled job forgets nothing.
    // A chosen folder that is not there at all (a drive not plugged in) says nothing about its files.
    const missingRoots = new Set(status === 'done' ? await notOnDisk(absoluteRoots) : absoluteRoots);
    const present = absoluteRoots.filter((root) => !missingRoots.has(root));
    const gone = present.length > 0 ? await notOnDisk(catalog.imports.filesNotFound(job, present)) : [];
    await write(() => {
      catalog.imports.forgetFiles(gone);
      catalog.imports.finishJob(job, status);
      if (status === 'done') catalog.imports.finishCoveredJobs(job, present);
    });
    report('predicting');
    return {
      jobId: job,
      status,
      resumed: existing !== undefined,
      counts: catalog.imports.jobCounts(job),
      photos: catalog.imports.jobPhotoCount(job),
      unchanged,
      gone: gone.length,
      reviewedReplaced: pending.reviewedReplaced,
      predicted: predictions?.predicted ?? 0,
      errors: catalog.imports.jobErrors(job),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await photoWorker.terminate();
  }
}
