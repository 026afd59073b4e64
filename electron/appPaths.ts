import os from 'node:os';
import path from 'node:path';

/** Where the app keeps caches (datasets, thumbnails) when no Electron `app.getPath` is at hand. */
export function cacheDir(): string {
  if (process.env.FASHION_SORTER_CACHE) return process.env.FASHION_SORTER_CACHE;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'fashion-sorter');
}

/** The project root: models/ and resources/ are found relative to it. */
export const projectRoot = path.resolve(import.meta.dirname, '..');
