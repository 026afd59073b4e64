import fs from 'node:fs';
import path from 'node:path';
import { createServices, type ServiceOptions, type Services } from '../app/services.ts';
import { CATALOG_WAIT_MS, type CatalogWait } from '../catalog/catalog.ts';
import { plural } from '../../contract/plural.ts';

/** A mistake in how a command was called (exit code 2). */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/** Parses a positive integer option, or fails with a usage error naming it. */
export function intOption(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

/**
 * A path the user typed, made absolute. `npm run cli` runs in the project's folder wherever it was typed;
 * npm says where that was in INIT_CWD, and relative paths mean that folder. (Only when npm started us in
 * the project's folder: a process started some other way may inherit INIT_CWD from an npm above it.)
 */
export function userPath(typed: string): string {
  const { INIT_CWD, npm_package_json } = process.env;
  const startedByNpm =
    INIT_CWD !== undefined && npm_package_json !== undefined && path.dirname(npm_package_json) === process.cwd();
  return path.resolve(startedByNpm ? INIT_CWD : process.cwd(), typed);
}

export function pathOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  // An empty path would mean the current folder: a sort would fill it with category folders.
  if (raw === '') throw new UsageError(`--${name} needs a path, got ""`);
  return typeof raw === 'string' ? userPath(raw) : undefined;
}

/** 1h05m, 3m07s. */
export const duration = (seconds: number) => {
  // Rounded first: 119.6 s is 2m00s, not 1m60s.
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** "3 photos", or "3 files (2 distinct photos)" where some files hold the same photo. */
export function filesAndPhotos(files: number, photos: number): string {
  return files === photos ? plural(files, 'photo') : `${plural(files, 'file')} (${plural(photos, 'distinct photo')})`;
}

/**
 * How a command waits for a catalog that another program is writing to: up to $FASHION_SORTER_CATALOG_WAIT_S
 * seconds (default 60), saying so on stderr when the wait begins, every 5 s after, and when it ends.
 */
export function waitingForCatalog(file: string): CatalogWait {
  const raw = process.env.FASHION_SORTER_CATALOG_WAIT_S;
  const seconds = raw === undefined || raw === '' ? CATALOG_WAIT_MS / 1000 : Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UsageError(`FASHION_SORTER_CATALOG_WAIT_S must be a number of seconds, got "${raw}"`);
  let said = -Infinity;
  return {
    waitMs: seconds * 1000,
    onWaiting: (waited) => {
      if (waited === null) console.error(`the catalog ${file} is free again; going on`);
      else if (waited - said >= 5) {
        said = waited;
        console.error(
          `waiting for the catalog ${file}: another program is writing to it (${Math.round(waited)} s of ${seconds} s)…`,
        );
      }
    },
  };
}

/**
 * Runs `work` on the services the window uses (electron/app/services.ts), composed for a command: the catalog
 * in `dbFile`, its waits for a busy catalog said on stderr (waitingForCatalog); closes them after.
 */
export async function withServices<T>(
  dbFile: string,
  options: ServiceOptions,
  work: (services: Services) => Promise<T>,
): Promise<T> {
  const wait = waitingForCatalog(dbFile);
  const services = createServices({
    ...options,
    catalogFile: dbFile,
    catalogWaitMs: wait.waitMs,
    onCatalogWait: wait.onWaiting,
  });
  try {
    return await work(services);
  } finally {
    await services.close();
  }
}

/**
 * The --db catalog, which must already exist (export and sort never create one; the services bring an older
 * one up to this version's schema once the catalog accepts writes).
 */
export function existingCatalogFile(values: Values): string {
  const dbFile = pathOption(values, 'db');
  if (!dbFile) throw new UsageError('--db FILE is required');
  return existingCatalog(dbFile);
}

/**
 * `dbFile` when a catalog may be there: throws when nothing is, or an empty file (which SQLite would take for a
 * new database). What is there is checked when it is opened (Catalog: another program's database is refused).
 */
export function existingCatalog(dbFile: string): string {
  const stat = fs.statSync(dbFile, { throwIfNoEntry: false });
  if (!stat) throw new Error(`no catalog at ${dbFile}; run classify first`);
  if (stat.isFile() && stat.size === 0)
    throw new Error(`no catalog at ${dbFile} (the file is empty); run classify first`);
  return dbFile;
}
