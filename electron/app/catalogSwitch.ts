/**
 * One catalog at a time behind a stable API: File > New Catalog, Open Catalog and Open Recent switch which
 * catalog the window's API, its protocols and its job updates reach, and the recent catalogs are kept in a
 * small JSON file in the user's data folder. Free of Electron: the shell only wires menus and dialogs to it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CHANNELS, type FashionSorterApi, type JobUpdate } from '../../contract/api.ts';
import { makePrivateDir } from '../appPaths.ts';
import type { Services } from './services.ts';

/** How many catalogs Open Recent lists. */
export const RECENT_LIMIT = 10;
const recentSchema = z.array(z.string().min(1)).max(RECENT_LIMIT);

/** The recent catalogs kept in `file`, most recent first ([] for none, or a damaged file). */
export function readRecentCatalogs(file: string): string[] {
  try {
    return recentSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return [];
  }
}

/** Puts `catalog` first in the recent catalogs kept in `file` (written whole, by rename) and returns the list. */
export function rememberCatalog(file: string, catalog: string): string[] {
  const recent = [catalog, ...readRecentCatalogs(file).filter((c) => c !== catalog)].slice(0, RECENT_LIMIT);
  makePrivateDir(path.dirname(file));
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(recent));
  fs.renameSync(`${file}.tmp`, file);
  return recent;
}

/** The services of whichever catalog is open, behind what never changes: the API, the protocols' lookups, job updates. */
export interface CatalogSwitch {
  /** Each method calls the open catalog's services (waiting for them while they start or a switch runs). */
  api: FashionSorterApi;
  thumbnailFile(hash: string): Promise<string | undefined>;
  photoFile(hash: string): Promise<string | undefined>;
  /** Job updates of whichever catalog is open; returns the function that stops them. */
  onJobUpdate(listener: (update: JobUpdate) => void): () => void;
  /** The open catalog's file. */
  readonly catalogFile: string;
  /**
   * Opens another catalog (created if `file` does not exist) and closes the current one. Refused, with the
   * running job's message ('an import is running; …'), while a job runs; if the other catalog cannot be
   * opened the current one stays open and the error is thrown. Switches are made one at a time.
   */
  switchTo(file: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `make(first)` and lets the shell switch catalogs later; `make` starts one catalog's services (a
 * promise, so that the shell can import the services only after its window shows).
 */
export function catalogSwitch(
  make: (catalogFile: string) => Services | Promise<Services>,
  first: string,
): CatalogSwitch {
  let file = first;
  let current: Promise<Services> = Promise.resolve().then(() => make(first));
  const listeners = new Set<(update: JobUpdate) => void>();
  const forward = (update: JobUpdate) => listeners.forEach((listener) => listener(update));
  // Services that could not start answer every call with why; there are no updates to stop then.
  let unsubscribe = current.then(
    (s) => s.onJobUpdate(forward),
    () => () => undefined,
  );
  /** The switch in progress: the next one waits for it. */
  let switching: Promise<void> = Promise.resolve();

  const api = Object.fromEntries(
    Object.keys(CHANNELS).map((method) => [
      method,
      async (...args: unknown[]) => {
        await switching.catch(() => undefined);
        const api = (await current).api as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
        return api[method]!(...args);
      },
    ]),
  ) as unknown as FashionSorterApi;

  async function switchTo(next: string): Promise<void> {
    const services = await current;
    if (path.resolve(next) === path.resolve(file)) return;
    services.assertIdle();
    const opened = await make(next);
    try {
      // Opened (and brought up to this version's schema) before the current one is let go.
      await opened.api.counts({ minConfidence: 0, hardGroupMargin: 0 });
    } catch (err) {
      await opened.close();
      throw err;
    }
    (await unsubscribe)();
    await services.close();
    file = next;
    current = Promise.resolve(opened);
    unsubscribe = Promise.resolve(opened.onJobUpdate(forward));
  }

  return {
    api,
    thumbnailFile: async (hash) => (await current).thumbnailFile(hash),
    photoFile: async (hash) => (await current).photoFile(hash),
    onJobUpdate(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    get catalogFile() {
      return file;
    },
    switchTo(next) {
      const done = switching.catch(() => undefined).then(() => switchTo(next));
      switching = done;
      return done;
    },
    async close() {
      await switching.catch(() => undefined);
      await (await current).close();
    },
  };
}
