import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  defaultCatalogFile,
  defaultModelDir,
  fineTunedModelsDir,
  projectRoot,
  thumbnailsDir as defaultThumbnailsDir,
} from '../appPaths.ts';
import {
  BUSY_MIDWAY,
  Catalog,
  CATALOG_WAIT_MS,
  catalogBusyMessage,
  CatalogBusyError,
  isCatalogBusy,
  type CatalogWait,
} from '../catalog/catalog.ts';
import type { ModelRow } from '../catalog/models.ts';
import type { JobCategory } from '../catalog/imports.ts';
import { loadFashionMnist } from '../dataset/fashionMnist.ts';
import {
  activateModel,
  classifyingModelDir,
  improveModel,
  type Candidate,
  type ImproveHooks,
  type RepredictProgress,
} from '../learning/improveModel.ts';
import { DEFAULT_FINETUNE_OPTIONS, MIN_LABELS } from '../ml/fineTune.ts';
import { startPredictor, type Predictor } from '../ml/inference.ts';
import { readModelCard, type ModelCard } from '../ml/modelCard.ts';
import { exportCsvInWorker } from '../export/catalogExport.ts';
import { DEFAULT_FOLDER_NAMES } from '../export/fileNames.ts';
import {
  planSort,
  sortPhotos,
  type SortPlan,
  type SortProgress,
  type SortRequest,
  type SortResult,
} from '../export/sortIntoFolders.ts';
import { importPhotos, type ImportProgress, type ImportResult } from '../photos/importJob.ts';
import { convertPhotoFile } from '../photos/bmp.ts';
import { isThumbnail, thumbnailPath, writeThumbnail } from '../photos/photoPipeline.ts';
import { JobManager, pacer, type JobFailure, type JobRun, type JobWork } from '../jobs/jobManager.ts';
import type {
  AppInfo,
  CatalogWaitStatus,
  ExportRequest,
  ExportResult,
  FashionSorterApi,
  ImportStatus,
  ImproveStatus,
  JobStatuses,
  JobUpdate,
  ModelVersion,
  SortOptions,
} from '../../contract/api.ts';
import { noNewReviews } from '../../contract/api.ts';

export interface ServiceOptions {
  catalogFile?: string;
  /** The model to use when the catalog has no active one (the shipped model by default). */
  modelDir?: string;
  /** A model that classifies imports whatever the catalog's active one is (the command line's --model). */
  classifyWith?: string;
  /** Told when the catalog's active model has no files (moved or deleted), so that `modelDir` stands in for it. */
  onModelMissing?: (active: ModelRow) => void;
  /** Where Fashion-MNIST is read from for fine-tuning (loadFashionMnist's search order by default). */
  dataDir?: string;
  thumbnailsDir?: string;
  /** How the renderer addresses thumbnails and photos: `${thumbnailBase}${hash}`, `${photoBase}${hash}`. */
  thumbnailBase?: string;
  photoBase?: string;
  /** The system's folder picker (Electron's dialog in the app); resolves to [] when the user cancels. */
  chooseFolders?: () => Promise<string[]>;
  /** The system's file manager, showing this file selected (Electron's shell.showItemInFolder in the app). */
  showItemInFolder?: (file: string) => void;
  /** The system's save dialog, suggesting a file name; undefined when the user cancels. */
  chooseSaveFile?: (suggestedName: string) => Promise<string | undefined>;
  /** The system's picker for one folder to sort into (it may create one); undefined when the user cancels. */
  chooseDestination?: () => Promise<string | undefined>;
  reviewer?: string;
  /** Where fine-tuned versions are published (the user's data folder by default). */
  modelsDir?: string;
  /** Fine-tuning hyperparameters (the defaults unless a test needs a shorter run). */
  fineTune?: typeof DEFAULT_FINETUNE_OPTIONS;
  /** How long a write waits for a catalog another program is writing to (CATALOG_WAIT_MS by default). */
  catalogWaitMs?: number;
  /** Told the seconds a quick action (opening the catalog, saving labels) has waited for the catalog; null when the wait ends. */
  onCatalogWait?: (seconds: number | null) => void;
  /** Ends the quick actions' waits for the catalog, as closing does (the command line's Ctrl-C). */
  signal?: AbortSignal;
}

/** How a caller runs an operation in the foreground: cancelled by `signal`, its writes waiting for the catalog as `catalogWait` says. */
export interface Foreground<P> {
  signal?: AbortSignal;
  /** The services' own wait (catalogWaitMs, and `signal`) when absent. */
  catalogWait?: CatalogWait;
  onProgress?: (progress: P) => void;
}

/** An import, and the model that predicted it. */
export interface Classified extends ImportResult {
  model: { name: string; version: string; backend: string };
}

/**
 * The operations behind the window's import, improve, export and sort, run in the foreground: the window's
 * jobs run these, and the command line calls them directly. Each opens the catalog on first use.
 */
export interface Operations {
  /** Imports files and folders into the catalog and predicts each new photo (with `classifyWith`, else the catalog's model). */
  classify(roots: string[], run?: Foreground<ImportProgress>): Promise<Classified>;
  /** Photos, per-category counts and photos needing review (the default rule) among an import's photos. */
  jobSummary(jobId: number): Promise<{ photos: number; perCategory: number[]; needsReview: number }>;
  /** Each file of an import with its category: the reviewer's where there is one, else the model's with its probability (0–1). */
  jobCategories(jobId: number): Promise<JobCategory[]>;
  /** Imports other than `exceptJobId` that have not finished (ImportJobs.unfinishedJobs). */
  unfinishedImports(exceptJobId: number): Promise<{ folders: string[]; done: number; found: number }[]>;
  /** The photo with this content hash (sha256 hex, any case), if the catalog has it. */
  photoWithHash(hash: string): Promise<number | undefined>;
  /**
   * The photo at a path (absolute, or relative to `baseDir`; a symbolic link names the file it points to), else the one photo imported under a bare file name;
   * `named`: how many photos were imported under that bare name (more than one: the name alone cannot say which);
   * `importFailure`: for a path an import could not read, why.
   */
  findPhoto(
    file: string,
    baseDir: string,
  ): Promise<{ photoId: number | undefined; named: number; importFailure?: string }>;
  /** Fine-tunes the active model on the reviewed photos and publishes an inactive candidate, compared with it. */
  improve(hooks?: Omit<ImproveHooks, 'activePredictor'>): Promise<Candidate>;
  /** Makes a version active and re-predicts the photos without a human label (activateModel). */
  activate(
    modelId: number,
    run?: Foreground<RepredictProgress>,
  ): Promise<{ repredicted: number; predictedNow: number; status: 'done' | 'cancelled' }>;
  /** Writes a selection's CSV to `file` on a worker thread. */
  exportCsv(file: string, request: ExportRequest): Promise<ExportResult>;
  /** The dry run of a sort: nothing is written. */
  planSort(request: SortRequest): Promise<SortPlan>;
  sort(request: SortRequest, run?: Foreground<SortProgress>): Promise<SortResult>;
}

export interface Services {
  api: FashionSorterApi;
  operations: Operations;
  /**
   * The cached thumbnail of a photo in the catalog, or undefined: nothing else is ever served. A missing or
   * damaged thumbnail is made again from the photo (the cache is derived data).
   */
  thumbnailFile(hash: string): Promise<string | undefined>;
  /** Where a photo in the catalog is now (its most recently seen path that still exists), or undefined. */
  photoFile(hash: string): Promise<string | undefined>;
  /**
   * Calls `listener` with every update of the background jobs (import, improve, sort) from now on: at their
   * start and end at once, their progress at most every PUSH_INTERVAL_MS. Returns the function that stops it.
   */
  onJobUpdate(listener: (update: JobUpdate) => void): () => void;
  /** Throws the running job's message ('an import is running; …') while any job runs. */
  assertIdle(): void;
  close(): Promise<void>;
}

/**
 * The catalog's newest fine-tuned version, how many photos were reviewed since it was trained, and whether it is
 * the active one (after a rollback it is not); null before
 * the first, or where that version's card predates the record of the reviews it learned from.
 */
function lastFineTuned(catalog: Catalog): { name: string; newReviews: number; active: boolean } | null {
  const newest = catalog.models.all().find((row) => (row.card as Partial<ModelCard>).fineTune);
  const logId = (newest?.card as Partial<ModelCard> | undefined)?.fineTune?.labelLogId;
  return newest && logId !== undefined
    ? { name: newest.name, newReviews: catalog.labels.photosReviewedSince(logId), active: newest.active }
    : null;
}

/** Reads a model's card into the summary the UI shows. */
function modelSummary(modelDir: string): Pick<AppInfo, 'model' | 'modelProblem'> {
  try {
    const card = readModelCard(modelDir);
    if (!card) return { model: null, modelProblem: `no model card at ${modelDir}` };
    return {
      modelProblem: null,
      model: {
        name: card.name,
        testAccuracy: card.accuracy,
        perClass: card.perClass.map((c) => ({ name: c.name, f1: c.f1 })),
        parameters: card.parameters,
        trainedAt: card.createdAt,
      },
    };
  } catch (err) {
    return { model: null, modelProblem: `the model card at ${modelDir} cannot be read: ${(err as Error).message}` };
  }
}

/**
 * The composition root: the services behind the API, free of Electron. The IPC handlers, the command line and
 * the tests all call these.
 */
export function createServices(options: ServiceOptions = {}): Services {
  const version = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version as string;
  const catalogFile = options.catalogFile ?? defaultCatalogFile();
  const thumbnails = options.thumbnailsDir ?? defaultThumbnailsDir();
  const reviewer = options.reviewer ?? os.userInfo().username;
  let opening: Promise<Catalog> | undefined;
  let predictor: Promise<Predictor> | undefined;
  /** The long jobs that change the catalog or its files: they run one at a time. */
  const jobs = new JobManager<JobStatuses>({
    import: 'an import is running; wait for it to finish or cancel it',
    improve: 'the model is being improved; wait for it to finish or cancel it',
    sort: 'photos are being sorted into folders; wait for it to finish or cancel it',
  });
  /** Where the user last chose to sort into: the renderer never names a path itself. */
  let sortDest: string | undefined;
  const modelsRoot = path.resolve(options.modelsDir ?? fineTunedModelsDir());

  const catalogWait = { waitMs: options.catalogWaitMs };
  /** Ends every wait for the catalog when the services close. */
  const closing = new AbortController();
  const stopWaiting = options.signal ? AbortSignal.any([closing.signal, options.signal]) : closing.signal;
  /**
   * The quick actions waiting for a catalog another program holds (opening an older catalog, which brings its
   * schema up to date; saving labels; discarding a version), with the seconds each has waited: the window shows
   * the longest while any waits. The long jobs say so in their own status instead.
   */
  const waits = new Map<symbol, number>();
  /** Runs `wait` (a write that waits for the catalog) as a quick action the window hears of while it waits. */
  async function quickly<T>(wait: (options: CatalogWait) => Promise<T>): Promise<T> {
    const id = Symbol('wait');
    try {
      return await wait({
        ...catalogWait,
        signal: stopWaiting,
        onWaiting: (seconds) => {
          if (seconds === null) waits.delete(id);
          else waits.set(id, seconds);
          options.onCatalogWait?.(seconds);
        },
      });
    } finally {
      waits.delete(id);
    }
  }
  // Opened on first use, so that a window can show why a catalog cannot be opened; a failed open is tried again on the next use.
  const openCatalog = () =>
    (opening ??= quickly((wait) => Catalog.open(catalogFile, wait)).catch((err: Error) => {
      opening = undefined;
      throw err;
    }));
  /** A quick write (saving labels, discarding a version): made once the catalog accepts it, the window told while it waits. */
  const quickWrite = async <T>(work: (catalog: Catalog) => T): Promise<T> => {
    const cat = await openCatalog();
    return quickly((wait) => cat.writeWhenFree(() => work(cat), wait));
  };
  /** An error's message, or, for a catalog another program took in the middle of a job, which and what to do. */
  const explainBusy = (err: Error) =>
    isCatalogBusy(err) ? catalogBusyMessage(catalogFile, undefined, BUSY_MIDWAY) : err.message;
  const activeModelDir = async () =>
    classifyingModelDir(await openCatalog(), options.modelDir ?? defaultModelDir(), options.onModelMissing);
  /** The importer's predictor, started on first use and kept for the next import. */
  const classifier = () =>
    (predictor ??= (async () => startPredictor(options.classifyWith ?? (await activeModelDir())))());
  /** A foreground operation's wait for the catalog: the caller's, else the services' own. */
  const waitOf = (run: { signal?: AbortSignal; catalogWait?: CatalogWait }): CatalogWait =>
    run.catalogWait ?? { ...catalogWait, signal: run.signal };

  /**
   * A path where the photo still is as it was imported (the same size and modification time), if any: a file
   * edited in place since then holds another photo, and showing it would show the wrong one.
   */
  const unchangedFile = async (hash: string) =>
    (await openCatalog()).queries.photoFiles(hash).find((f) => {
      const stat = fs.statSync(f.path, { throwIfNoEntry: false });
      return stat?.isFile() && stat.size === f.size && stat.mtimeMs === f.mtimeMs;
    })?.path;

  const repairing = new Map<string, Promise<string | undefined>>();
  /** Makes a thumbnail again from the photo, if the photo is still where the catalog saw it, unchanged. */
  async function remakeThumbnail(hash: string, file: string): Promise<string | undefined> {
    const source = await unchangedFile(hash);
    if (!source) return undefined;
    try {
      const photo = await convertPhotoFile(await fs.promises.readFile(source));
      if (photo.hash !== hash) return undefined;
      writeThumbnail(file, photo.thumbnail);
      return file;
    } catch {
      return undefined; // the photo cannot be read now: the grid shows its placeholder
    }
  }

  const sortRequest = (sortOptions: SortOptions) => {
    if (!sortDest) throw new Error('choose a destination folder first');
    return { dest: sortDest, ...sortOptions };
  };

  const operations: Operations = {
    async classify(roots, run = {}) {
      const cat = await openCatalog();
      const model = await classifier();
      const wait = waitOf(run);
      // The first write: made once the catalog accepts writes, so that nothing (thumbnails, a job) is made before.
      const row = await cat.writeWhenFree(() => {
        const registered = cat.models.registerModel({
          name: model.name,
          version: model.version,
          dir: model.modelDir,
          card: model.card ?? {},
        });
        if (!cat.models.activeModel()) cat.models.activateModel(registered.id);
        return registered;
      }, wait);
      const result = await importPhotos(roots, {
        catalog: cat,
        thumbnailsDir: thumbnails,
        predictor: { predictor: model, modelId: row.id },
        signal: run.signal,
        catalogWait: wait,
        onProgress: run.onProgress,
      });
      return { ...result, model: { name: model.name, version: model.version, backend: model.backend } };
    },
    jobSummary: async (jobId) => (await openCatalog()).imports.jobSummary(jobId),
    jobCategories: async (jobId) => (await openCatalog()).imports.jobCategories(jobId),
    unfinishedImports: async (exceptJobId) =>
      (await openCatalog()).imports
        .unfinishedJobs()
        .filter((job) => job.id !== exceptJobId)
        .map((job) => ({ folders: job.roots, done: job.counts.done, found: job.counts.found })),
    photoWithHash: async (hash) => (await openCatalog()).queries.photoWithHash(hash.toLowerCase()),
    async findPhoto(file, baseDir) {
      const cat = await openCatalog();
      const full = path.resolve(baseDir, file);
      // A symbolic link was imported as the file it points to (the walk yields real paths): its own name finds that.
      const real = () => {
        try {
          return cat.queries.photoAtPath(fs.realpathSync(full));
        } catch {
          return undefined;
        }
      };
      const photoId = cat.queries.photoAtPath(full) ?? real();
      // A bare file name (what a shop system or a reviewer's list often has) names the one photo imported under it.
      const named = photoId === undefined && !/[\\/]/.test(file) ? cat.queries.photosNamed(file) : [];
      const found = photoId ?? (named.length === 1 ? named[0] : undefined);
      const importFailure = found === undefined ? cat.imports.importFailure(full) : undefined;
      return { photoId: found, named: named.length, ...(importFailure === undefined ? {} : { importFailure }) };
    },
    async improve(hooks = {}) {
      const cat = await openCatalog();
      // Loaded for each improvement (a fraction of a second) rather than kept: 55 MB the app would hold for good.
      const data = await loadFashionMnist({ dataDir: options.dataDir });
      return improveModel(cat, data, modelsRoot, options.fineTune ?? DEFAULT_FINETUNE_OPTIONS, {
        ...hooks,
        catalogWait: waitOf(hooks),
        activePredictor: await predictor?.catch(() => undefined),
      });
    },
    async activate(modelId, run = {}) {
      // The importer's predictor holds the old model; the next import starts one with the new.
      const old = predictor;
      predictor = undefined;
      await (await old?.catch(() => undefined))?.close();
      return activateModel(await openCatalog(), modelId, { ...run, catalogWait: waitOf(run) });
    },
    async exportCsv(file, request) {
      const started = performance.now();
      // Opened (and brought up to date) here first: the worker's connection only reads.
      await openCatalog();
      const { rows, photos } = await exportCsvInWorker(catalogFile, file, request);
      return { file, rows, photos, seconds: (performance.now() - started) / 1000 };
    },
    planSort: async (request) => planSort(await openCatalog(), request),
    sort: async (request, run = {}) => sortPhotos(await openCatalog(), request, { ...run, catalogWait: waitOf(run) }),
  };

  async function startImport(roots: string[]): Promise<ImportStatus> {
    jobs.assertIdle();
    // Before the job: a catalog or a model that cannot be opened is the call's failure, not the job's.
    await openCatalog();
    await classifier();
    return jobs.start(
      'import',
      {
        jobId: 0,
        phase: 'finding',
        found: 0,
        done: 0,
        failed: 0,
        photos: null,
        gone: 0,
        reviewedReplaced: 0,
        photosPerSecond: 0,
        etaSeconds: null,
        problem: null,
      },
      async (run) => {
        // Every write waits while another program holds the catalog, with the status saying so.
        const { wait: waiting, phase } = waitingStatus(run);
        const result = await operations.classify(roots, {
          signal: run.signal,
          catalogWait: waiting,
          onProgress: (p) => {
            phase(p.phase);
            run.progress({
              jobId: p.jobId,
              found: p.found,
              done: p.done,
              failed: p.failed,
              photosPerSecond: p.photosPerSecond,
              etaSeconds: p.etaSeconds,
            });
          },
        });
        return {
          jobId: result.jobId,
          phase: result.status,
          found: result.counts.found,
          done: result.counts.done,
          failed: result.counts.failed,
          photos: result.photos,
          gone: result.gone,
          reviewedReplaced: result.reviewedReplaced.length,
          etaSeconds: 0,
        };
      },
      (err, cancelled) =>
        cancelled
          ? { phase: 'cancelled' }
          : {
              phase: 'failed',
              problem:
                err instanceof CatalogBusyError
                  ? err.message
                  : `${explainBusy(err)}; import the same folders again to continue`,
            },
    );
  }

  /**
   * A long job's waits for the catalog: its status says 'waiting' while a write waits, then goes back to the
   * phase it was in; `phase` sets the phase (held back while it waits).
   */
  function waitingStatus<P extends string>(
    run: JobRun<{ running: boolean; phase: P | 'waiting' }>,
  ): { wait: CatalogWait; phase: (phase: P) => void } {
    let phase = run.status.phase as P;
    let waiting = false;
    return {
      wait: {
        ...catalogWait,
        signal: run.signal,
        onWaiting: (seconds) => {
          waiting = seconds !== null;
          run.progress({ phase: waiting ? 'waiting' : phase });
        },
      },
      phase: (next) => {
        phase = next;
        if (!waiting) run.progress({ phase: next });
      },
    };
  }

  /** Starts one step of model improvement (fine-tuning, or activation) as the 'improve' job. */
  function startImproveJob(phase: ImproveStatus['phase'], work: JobWork<ImproveStatus>): ImproveStatus {
    const failure: JobFailure<ImproveStatus> = (err, cancelled) =>
      cancelled ? { phase: 'cancelled', problem: null } : { phase: 'failed', problem: err.message };
    return jobs.start(
      'improve',
      {
        phase,
        epoch: 0,
        epochs: 0,
        loss: null,
        validationAccuracy: null,
        validationCount: null,
        replayAccuracy: null,
        replayCount: null,
        etaSeconds: null,
        repredicted: null,
        progress: null,
        candidate: null,
        problem: null,
      },
      work,
      failure,
    );
  }

  const api: FashionSorterApi = {
    appInfo: async () => ({
      version,
      thumbnailBase: options.thumbnailBase ?? 'thumb://photo/',
      photoBase: options.photoBase ?? 'photo://file/',
      catalogFile,
      ...modelSummary(await activeModelDir()),
    }),
    async chooseAndImport() {
      if (!options.chooseFolders) throw new Error('no folder picker is available here');
      const folders = await options.chooseFolders();
      return folders.length === 0 ? null : startImport(folders);
    },
    importPaths: (paths) => startImport(paths),
    importStatus: async () => jobs.snapshot('import'),
    cancelImport: () => jobs.cancel('import'),
    importErrors: async (offset, limit) => (await openCatalog()).imports.fileErrors(offset, limit),
    async retryImport(file) {
      if (!(await openCatalog()).imports.hasFailed(file)) throw new Error(`${file} is not in the Errors list`);
      return startImport([file]);
    },
    clearResolvedErrors: () => quickWrite((cat) => cat.imports.clearResolved()),
    async revealFile(file) {
      if (!options.showItemInFolder) throw new Error('no file manager is available here');
      if (!(await openCatalog()).imports.hasFound(file)) throw new Error(`${file} is not a file an import found`);
      options.showItemInFolder(file);
    },
    async counts(rule, queue) {
      const cat = await openCatalog();
      return {
        ...cat.queries.categoryCounts(rule, queue),
        files: cat.queries.fileCount(),
        errors: cat.imports.fileErrors(0, 1).total,
      };
    },
    selectionCounts: async (selection) => (await openCatalog()).queries.selectionCounts(selection),
    async catalogWait(): Promise<CatalogWaitStatus | null> {
      if (waits.size === 0) return null;
      return {
        file: catalogFile,
        seconds: Math.max(...waits.values()),
        limitSeconds: (catalogWait.waitMs ?? CATALOG_WAIT_MS) / 1000,
      };
    },
    // Never opens the catalog itself: an older one would be migrated by a mere check, a busy one waited for.
    catalogChanges: async () => (opening ? (await opening).dataVersion() : 0),
    page: async (query) => (await openCatalog()).queries.photoPage(query),
    photoIds: async (query) => (await openCatalog()).queries.photoIds(query),
    async photo(id) {
      const detail = (await openCatalog()).queries.photoDetail(id);
      if (!detail) throw new Error(`photo ${id} is not in the catalog`);
      return detail;
    },
    setLabels: (changes) => quickWrite((cat) => cat.labels.setLabels(changes, reviewer)),
    async modelReport() {
      const cat = await openCatalog();
      const dir = await activeModelDir();
      const card = readModelCard(dir);
      if (!card) return null;
      // A fine-tuned version's card keeps its parent's `training`: its own is the fine-tuning record.
      const tuned = card.fineTune;
      const active = cat.models.activeModel();
      const learnedFrom = tuned ? [...tuned.labels.train, ...tuned.labels.validation] : [];
      const heldOut = tuned?.yourPhotos?.heldOut;
      return {
        name: card.name,
        accuracy: card.accuracy,
        confusion: card.confusion,
        trainSeconds: tuned ? tuned.seconds : card.training.trainSeconds,
        perClass: card.perClass.map(({ name, precision, recall, f1, support }) => ({
          name,
          precision,
          recall,
          f1,
          support,
        })),
        history: (tuned ? tuned.history : card.training.history).map(
          ({ epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy }) => ({
            epoch,
            trainLoss,
            trainAccuracy,
            validationLoss,
            validationAccuracy,
          }),
        ),
        // Only the classifying model's own predictions count; a catalog whose active version lost its files has none.
        agreement: cat.labels.agreement(active && active.dir === dir ? active.id : 0, learnedFrom),
        fineTune: tuned
          ? {
              parentName: tuned.parent.name,
              photos: tuned.labels.train.length + tuned.labels.validation.length + tuned.labels.heldOut.length,
              trainPhotos: tuned.labels.train.length,
              replay: tuned.replay.train + tuned.replay.validation,
              bestEpoch: tuned.bestEpoch,
              heldOut: heldOut ? { count: heldOut.count, agreed: Math.round(heldOut.accuracy * heldOut.count) } : null,
            }
          : null,
      };
    },
    improveRequirements: async () => ({ minimumLabels: MIN_LABELS, lastVersion: lastFineTuned(await openCatalog()) }),
    async improveModel() {
      const last = lastFineTuned(await openCatalog());
      if (last?.newReviews === 0) throw new Error(noNewReviews(last.name, last.active));
      return startImproveJob('fine-tuning', async (run) => {
        const { wait, phase } = waitingStatus(run);
        let comparing = pacer();
        const result = await operations.improve({
          signal: run.signal,
          catalogWait: wait,
          onPhase: (p) => {
            // Each phase's bar starts empty, its estimate from its own pace.
            run.progress({ progress: null, etaSeconds: null });
            comparing = pacer();
            phase(p);
          },
          onProgress: (p) =>
            run.progress({
              epoch: p.epoch,
              epochs: p.epochs,
              loss: p.loss,
              etaSeconds: p.etaSeconds,
              progress: { done: (p.epoch - 1) * p.steps + p.step, total: p.epochs * p.steps },
            }),
          onComparing: (done, total) => run.progress(comparing(done, total)),
          onEpoch: (r, counts) =>
            run.progress({
              validationAccuracy: r.validationAccuracy,
              validationCount: counts.validation,
              replayAccuracy: r.guardAccuracy ?? null,
              replayCount: counts.replay,
            }),
        });
        const candidate = {
          modelId: result.model.id,
          name: result.model.name,
          parentName: result.parent.name,
          labels: result.fineTune.labels,
          categoriesWithoutLabels: result.fineTune.categoriesWithoutLabels,
          ...result.comparison,
        };
        return { candidate, phase: 'ready', etaSeconds: 0, progress: null };
      });
    },
    improveStatus: async () => jobs.snapshot('improve'),
    cancelImprove: () => jobs.cancel('improve'),
    async modelVersions(): Promise<ModelVersion[]> {
      const rows = (await openCatalog()).models.all();
      return rows.map((row) => {
        const card = row.card as Partial<ModelCard>;
        const labels = card.fineTune?.labels;
        return {
          id: row.id,
          name: row.name,
          createdAt: row.createdAt,
          active: row.active,
          parentName: rows.find((r) => r.id === row.parentId)?.name ?? null,
          testAccuracy: card.accuracy ?? null,
          labels: labels ? labels.train.length + labels.validation.length + labels.heldOut.length : null,
        };
      });
    },
    async activateModel(id) {
      return startImproveJob('activating', async (run) => {
        const { wait } = waitingStatus(run);
        const pace = pacer();
        const result = await operations.activate(id, {
          signal: run.signal,
          catalogWait: wait,
          onProgress: (p) => run.progress({ repredicted: p, ...pace(p.done, p.total) }),
        });
        return { phase: result.status === 'done' ? 'activated' : 'cancelled' };
      });
    },
    async discardModel(id) {
      const row = (await openCatalog()).models.model(id);
      if (!row) throw new Error(`no model version ${id} in the catalog`);
      // Its files go only once the catalog has let it go: a busy catalog keeps both.
      await quickWrite((cat) => cat.models.deleteModel(id));
      // Only versions this app published are deleted from disk; a shipped or user-supplied model stays.
      if (path.resolve(row.dir).startsWith(modelsRoot + path.sep)) fs.rmSync(row.dir, { recursive: true, force: true });
    },
    async exportCsv(request) {
      if (!options.chooseSaveFile) throw new Error('no save dialog is available here');
      const file = await options.chooseSaveFile(
        `${request.format === 'catalog' ? 'catalog' : 'fashion-mnist'}-${new Date().toISOString().slice(0, 10)}.csv`,
      );
      return file ? operations.exportCsv(file, request) : null;
    },
    sortDefaults: async () => ({ folders: [...DEFAULT_FOLDER_NAMES], dest: sortDest ?? null }),
    async chooseSortDestination() {
      if (!options.chooseDestination) throw new Error('no folder picker is available here');
      sortDest = (await options.chooseDestination()) ?? sortDest;
      return sortDest ?? null;
    },
    previewSort: async (sortOptions) => operations.planSort(sortRequest(sortOptions)),
    async startSort(sortOptions) {
      jobs.assertIdle();
      const request = sortRequest(sortOptions);
      await openCatalog();
      return jobs.start(
        'sort',
        {
          phase: 'planning',
          total: 0,
          done: 0,
          failed: 0,
          photosPerSecond: 0,
          etaSeconds: null,
          result: null,
          problem: null,
        },
        async (run) => {
          const { wait, phase } = waitingStatus(run);
          const result = await operations.sort(request, {
            signal: run.signal,
            catalogWait: wait,
            onProgress: (p) => {
              phase('sorting');
              run.progress({
                total: p.total,
                done: p.done,
                failed: p.failed,
                photosPerSecond: p.photosPerSecond,
                etaSeconds: p.etaSeconds,
              });
            },
          });
          return { phase: result.status, result, problem: result.problem, failed: result.failed.length, etaSeconds: 0 };
        },
        (err, cancelled) =>
          cancelled
            ? { phase: 'stopped', problem: 'cancelled before it began' }
            : { phase: 'failed', problem: explainBusy(err) },
      );
    },
    sortStatus: async () => jobs.snapshot('sort'),
    cancelSort: () => jobs.cancel('sort'),
    imports: async () => (await openCatalog()).removals.imports(),
    removePhotos: (ids) => quickWrite((cat) => cat.removals.removePhotos(ids)),
    async removeImport(id) {
      // A running import may still be storing this import's files, and taking it out would miss the rest.
      jobs.assertIdle();
      return quickWrite((cat) => cat.removals.removeImport(id));
    },
    restoreRemoval: (id) => quickWrite((cat) => cat.removals.restore(id)),
  };

  return {
    api,
    operations,
    async thumbnailFile(hash) {
      if (!/^[0-9a-f]{64}$/.test(hash) || !(await openCatalog()).queries.hasPhoto(hash)) return undefined;
      const file = thumbnailPath(thumbnails, hash);
      if (await isThumbnail(file)) return file;
      let repair = repairing.get(hash);
      if (!repair) {
        repair = remakeThumbnail(hash, file).finally(() => repairing.delete(hash));
        repairing.set(hash, repair);
      }
      return repair;
    },
    async photoFile(hash) {
      if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
      return unchangedFile(hash);
    },
    onJobUpdate: (listener) => jobs.subscribe(listener),
    assertIdle: () => jobs.assertIdle(),
    async close() {
      closing.abort();
      await jobs.cancelAll();
      await (await predictor?.catch(() => undefined))?.close();
      (await opening?.catch(() => undefined))?.close();
    },
  };
}
