import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the app keeps caches (datasets, thumbnails) when no Electron `app.getPath` is at hand. */
export function cacheDir(): string {
  if (process.env.FASHION_SORTER_CACHE) return process.env.FASHION_SORTER_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'fashion-sorter');
}

/** The app's name, package.json's productName: Electron names the per-user data folder after it. */
export const PRODUCT_NAME = 'Fashion Sorter';

/**
 * The per-user data folder (catalog, fine-tuned models): FASHION_SORTER_DATA when set, otherwise the folder
 * Electron's `app.getPath('userData')` gives the app (its appData folder and PRODUCT_NAME), so that the
 * command line and the window open the same default catalog and models.
 */
export function userDataDir(): string {
  if (process.env.FASHION_SORTER_DATA) return process.env.FASHION_SORTER_DATA;
  const appData =
    process.platform === 'win32'
      ? process.env.APPDATA || path.join(os.homedir(), 'AppData', 'Roaming')
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support')
        : process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(appData, PRODUCT_NAME);
}

/**
 * Creates a folder (and its missing parents) that only the user may open: catalogs, thumbnails and models
 * describe the user's photos and labels. Folders that already exist keep their permissions.
 */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export const defaultCatalogFile = () => path.join(userDataDir(), 'catalog.sqlite');
export const thumbnailsDir = () => path.join(cacheDir(), 'thumbnails');
/** Where fine-tuned model versions are published. */
export const fineTunedModelsDir = () => path.join(userDataDir(), 'models');

/** The folder holding package.json, found upwards from this file (electron/ in dev, dist/electron/ when built). */
function findProjectRoot(): string {
  let dir = import.meta.dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(import.meta.dirname, '..');
    dir = parent;
  }
  return dir;
}

export const projectRoot = findProjectRoot();

/** The shipped models: the installer's resources folder in a packaged app, models/ in a checkout. */
export function modelsDir(): string {
  if (process.env.FASHION_SORTER_MODELS) return process.env.FASHION_SORTER_MODELS;
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources && fs.existsSync(path.join(resources, 'models'))) return path.join(resources, 'models');
  return path.join(projectRoot, 'models');
}

/** The shipped model, used when no --model is given. */
export const SHIPPED_MODEL = 'resnet9-mini';
export const defaultModelDir = () => path.join(modelsDir(), SHIPPED_MODEL);
