import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultCatalogFile, defaultModelDir, projectRoot, thumbnailsDir as defaultThumbnailsDir } from '../appPaths.ts';
import { Catalog } from '../catalog/catalog.ts';
import { startPredictor, type Predictor } from '../ml/inference.ts';
import { readModelCard } from '../ml/modelCard.ts';
import { importPhotos } from '../photos/importJob.ts';
import { thumbnailPath } from '../photos/photoPipeline.ts';
import type { AppInfo, FashionSorterApi, ImportStatus } from './contract.ts';

export interface ServiceOptions {
  catalogFile?: string;
  /** The model to use when the catalog has no active one (the shipped model by default). */
  modelDir?: string;
  thumbnailsDir?: string;
  /** How the renderer addresses thumbnails and photos: `${thumbnailBase}${hash}`, `${photoBase}${hash}`. */
  thumbnailBase?: string;
  photoBase?: string;
  /** The system's folder picker (Electron's dialog in the app); resolves to [] when the user cancels. */
  chooseFolders?: () => Promise<string[]>;
  reviewer?: string;
}

export interface Services {
  api: FashionSorterApi;
  /** The cached thumbnail of a photo in the catalog, or undefined: nothing else is ever served. */
  thumbnailFile(hash: string): string | undefined;
  /** Where a photo in the catalog is now (its most recently seen path that still exists), or undefined. */
  photoFile(hash: string): string | undefined;
  close(): Promise<void>;
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

/** The services behind the API, free of Electron: the IPC handlers and the browser tests both call these. */
export function createServices(options: ServiceOptions = {}): Services {
  const version = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version as string;
  const catalogFile = options.catalogFile ?? defaultCatalogFile();
  const thumbnails = options.thumbnailsDir ?? defaultThumbnailsDir();
  const reviewer = options.reviewer ?? os.userInfo().username;
  let catalog: Catalog | undefined;
  let predictor: Promise<Predictor> | undefined;
  let current: { status: ImportStatus; cancel: AbortController; finished: Promise<void> } | undefined;

  // Opened on first use, so that a window can show why a catalog cannot be opened.
  const openCatalog = () => (catalog ??= new Catalog(catalogFile));
  const activeModelDir = () => {
    const active = openCatalog().activeModel();
    return active && fs.existsSync(active.dir) ? active.dir : options.modelDir ?? defaultModelDir();
  };

  async function startImport(roots: string[]): Promise<ImportStatus> {
    if (current?.status.running) throw new Error('an import is already running; wait for it to finish or cancel it');
    const cat = openCatalog();
    const model = await (predictor ??= startPredictor(activeModelDir()));
    const row = cat.registerModel({ name: model.name, version: model.version, dir: model.modelDir, card: model.card ?? {} });
    if (!cat.activeModel()) cat.activateModel(row.id);
    const cancel = new AbortController();
    const status: ImportStatus = { jobId: 0, running: true, phase: 'finding', found: 0, done: 0, failed: 0, photosPerSecond: 0, etaSeconds: null, problem: null };
    const finished = importPhotos(roots, {
      catalog: cat, thumbnailsDir: thumbnails, predictor: { predictor: model, modelId: row.id }, signal: cancel.signal,
      onProgress: (p) => Object.assign(status, { jobId: p.jobId, phase: p.phase, found: p.found, done: p.done, failed: p.failed, photosPerSecond: p.photosPerSecond, etaSeconds: p.etaSeconds }),
    }).then(
      (result) => {
        Object.assign(status, { jobId: result.jobId, phase: result.status, found: result.counts.found, done: result.counts.done, failed: result.counts.failed, etaSeconds: 0 });
      },
      (err: Error) => {
        Object.assign(status, { phase: 'failed', problem: `${err.message}; import the same folders again to continue` });
      },
    ).finally(() => {
      status.running = false;
    });
    current = { status, cancel, finished };
    return { ...status };
  }

  const api: FashionSorterApi = {
    appInfo: async () => ({ version, thumbnailBase: options.thumbnailBase ?? 'thumb://photo/', photoBase: options.photoBase ?? 'photo://file/', ...modelSummary(activeModelDir()) }),
    async chooseAndImport() {
      if (!options.chooseFolders) throw new Error('no folder picker is available here');
      const folders = await options.chooseFolders();
      return folders.length === 0 ? null : startImport(folders);
    },
    importPaths: (paths) => startImport(paths),
    importStatus: async () => (current ? { ...current.status } : null),
    async cancelImport() {
      current?.cancel.abort();
      await current?.finished;
    },
    importErrors: async (offset, limit) => openCatalog().fileErrors(offset, limit),
    counts: async (rule) => ({ ...openCatalog().categoryCounts(rule), errors: openCatalog().fileErrors(0, 1).total }),
    page: async (query) => openCatalog().photoPage(query),
    photoIds: async (query) => openCatalog().photoIds(query),
    async photo(id) {
      const detail = openCatalog().photoDetail(id);
      if (!detail) throw new Error(`photo ${id} is not in the catalog`);
      return detail;
    },
    setLabels: async (changes) => openCatalog().setLabels(changes, reviewer),
    async modelReport() {
      const card = readModelCard(activeModelDir());
      if (!card) return null;
      return {
        name: card.name, accuracy: card.accuracy, confusion: card.confusion, trainSeconds: card.training.trainSeconds,
        perClass: card.perClass.map(({ name, precision, recall, f1, support }) => ({ name, precision, recall, f1, support })),
        history: card.training.history.map(({ epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy }) => ({ epoch, trainLoss, trainAccuracy, validationLoss, validationAccuracy })),
        agreement: openCatalog().agreement(),
      };
    },
  };

  return {
    api,
    thumbnailFile(hash) {
      if (!/^[0-9a-f]{64}$/.test(hash) || !openCatalog().hasPhoto(hash)) return undefined;
      const file = thumbnailPath(thumbnails, hash);
      return fs.existsSync(file) ? file : undefined;
    },
    photoFile(hash) {
      if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
      return openCatalog().photoPaths(hash).find((p) => fs.existsSync(p));
    },
    async close() {
      current?.cancel.abort();
      await current?.finished;
      await (await predictor?.catch(() => undefined))?.close();
      catalog?.close();
    },
  };
}

