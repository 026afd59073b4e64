import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the app keeps caches (datasets, thumbnails) when no Electron `app.getPath` is at hand. */
export function cacheDir(): string {
  if (process.env.FASHION_SORTER_CACHE) return process.env.FASHION_SORTER_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'fashion-sorter');
}

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
