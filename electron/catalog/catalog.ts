import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makePrivateDir } from '../appPaths.ts';
import { ImportJobs } from './imports.ts';
import { Labels } from './labels.ts';
import { migrate, migrationsDue, notACatalog } from './migrations.ts';
import { ModelVersions } from './models.ts';
import { Predictions } from './predictions.ts';
import { WindowQueries } from './queries.ts';
import { Removals } from './removals.ts';
import { SortJournal } from './sortJournal.ts';

/** Why SQLite could not open a catalog, in words that say what to do. */
function whyCannotOpen(file: string, err: Error): string {
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory())
    return 'it is a folder; give the path of a catalog file';
  if ((err as { code?: string }).code === 'SQLITE_NOTADB')
    return 'the file is not a SQLite database (not a Fashion Sorter catalog); it was left as it was';
  const dir = path.dirname(file);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (access) {
    // SQLite keeps its write-ahead log beside the catalog, so even reading needs a writable folder.
    const where =
      (access as NodeJS.ErrnoException).code === 'EROFS'
        ? `${dir} is on a read-only drive`
        : `your account cannot write in ${dir}`;
    return `${where}, and the catalog needs to keep its journal beside itself; copy the catalog to a writable folder, or fix the folder's permissions`;
  }
  return err.message;
}

/** The file beside a catalog whose lock says a sort is running on it (sortIntoFolders); like SQLite's own -wal and -shm, it is the catalog's. */
export const sortLockFile = (catalogFile: string) => `${catalogFile}-sorting`;

/** True when this account may not write the existing file `file` because of its permissions (a read-only drive is told apart, by whyCannotOpen). */
function readOnlyForUs(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.W_OK);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM';
  }
}

/**
 * How long a write waits, by default, for another program that holds the catalog's write lock (a database
 * browser with unsaved edits, another Fashion Sorter): long enough for one to finish what it is doing.
 */
export const CATALOG_WAIT_MS = 60_000;
const BUSY_TIMEOUT_MS = 5000;
const BUSY_POLL_MS = 250;

/** How long a write waits for a busy catalog (CATALOG_WAIT_MS by default), and whom it tells: the seconds waited so far, then null once the catalog took the write. */
export interface CatalogWait {
  waitMs?: number;
  onWaiting?: (seconds: number | null) => void;
  /** Ends the wait (a cancel): nothing is written, and writeWhenFree throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * What the job already changed before this write, said in the busy message instead of "Nothing was
   * changed" (a re-prediction half done, an import that stored some photos); undefined when nothing was.
   */
  soFar?: () => string | undefined;
}

/** Another program held the catalog's write lock for longer than a write would wait. */
export class CatalogBusyError extends Error {}

/**
 * Why a write to `file` could not go ahead, and what to do about it. `soFar` says what the job changed before
 * the write that could not be made (by default, nothing).
 */
export function catalogBusyMessage(file: string, waitedSeconds?: number, soFar?: string): string {
  const held =
    waitedSeconds === undefined
      ? 'is holding it'
      : `held it for the ${Math.round(waitedSeconds)} s Fashion Sorter waited`;
  return (
    `the catalog ${file} is busy: another program ${held} with a write of its own (a database browser with unsaved changes, a backup or sync tool, or another Fashion Sorter). ` +
    `${soFar ?? 'Nothing was changed'}. Close that program, or save or revert its changes, then run the command again`
  );
}

/** What a job that SQLite's own busy timeout stopped midway (not a write that waited) says it changed. */
export const BUSY_MIDWAY = 'What it finished before that is kept, and running it again goes on from there';

/** True for SQLite's "database is locked": another connection held the write lock for the whole busy timeout. */
export const isCatalogBusy = (err: unknown): boolean => (err as { code?: string } | null)?.code === 'SQLITE_BUSY';

/**
 * The catalog: one SQLite file (WAL, foreign keys, migrations by `PRAGMA user_version`). Every change of
 * more than one row runs in one transaction, so a crash at any moment leaves it consistent. Its tables are
 * read and written through its parts, each a class over this one connection with its own statements; the
 * connection itself stays inside catalog/.
 */
export class Catalog {
  private readonly db: Database.Database;
  /** The model versions and which one classifies. */
  readonly models: ModelVersions;
  /** Import jobs, their files, and the photos they stored. */
  readonly imports: ImportJobs;
  /** Each model's predictions for the photos. */
  readonly predictions: Predictions;
  /** What the window and the exports read: counts, pages, one photo, a selection's files. */
  readonly queries: WindowQueries;
  /** The reviewers' label log. */
  readonly labels: Labels;
  /** The journal of sorting photos into category folders. */
  readonly sortJournal: SortJournal;
  /** Photos and imports taken out of the catalog, softly, and brought back. */
  readonly removals: Removals;

  /**
   * Opens (or creates) the catalog and brings it up to this version's schema. An older catalog that another
   * program is writing to waits SQLite's busy timeout (5 s), then fails with a CatalogBusyError; Catalog.open
   * waits longer, and says so. `migrate: false` leaves the schema as it is (Catalog.open migrates it itself).
   */
  constructor(
    readonly file: string,
    options: { migrate?: boolean } = {},
  ) {
    makePrivateDir(path.dirname(file));
    const created = !fs.existsSync(file);
    // SQLite opens a file it may not write read-only without a word, and the first write then fails midway
    // (a sort had made its folders by then): refused here, before anything.
    if (!created && readOnlyForUs(file))
      throw new Error(
        `cannot open the catalog ${file}: the file is read-only for your account (its permissions); make it writable, or copy it to a folder of yours and use the copy`,
      );
    let db: Database.Database | undefined;
    let foreign: string | undefined;
    try {
      db = new Database(file);
      // Before anything is written (even the journal mode): another program's database is left as it was.
      foreign = notACatalog(db);
      if (!foreign) {
        // Readable by the user alone; SQLite gives its -wal and -shm files the same permissions.
        if (created) fs.chmodSync(file, 0o600);
        db.pragma('journal_mode = WAL');
      }
    } catch (err) {
      db?.close();
      throw new Error(`cannot open the catalog ${file}: ${whyCannotOpen(file, err as Error)}`, { cause: err });
    }
    if (foreign) {
      db.close();
      throw new Error(`${file} cannot be used as a catalog: ${foreign}; it was left as it was. Give another file name`);
    }
    this.db = db;
    this.models = new ModelVersions(this.db);
    this.imports = new ImportJobs(this.db);
    this.predictions = new Predictions(this.db);
    this.queries = new WindowQueries(this.db);
    this.labels = new Labels(this.db);
    this.sortJournal = new SortJournal(this.db);
    this.removals = new Removals(this.db);
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (options.migrate === false) return;
    try {
      migrate(this.db);
    } catch (err) {
      this.db.close();
      throw isCatalogBusy(err) ? new CatalogBusyError(catalogBusyMessage(file, BUSY_TIMEOUT_MS / 1000)) : err;
    }
  }

  /**
   * Opens (or creates) the catalog as the commands and the window do. An older catalog is brought up to this
   * version's schema in one write, made once the catalog accepts writes: while another program holds the
   * write lock it waits (see writeWhenFree, whose options it takes), and the catalog is left as it was if the
   * wait runs out.
   */
  static async open(file: string, wait: CatalogWait = {}): Promise<Catalog> {
    const catalog = new Catalog(file, { migrate: false });
    try {
      if (migrationsDue(catalog.db) > 0) await catalog.writeWhenFree(() => migrate(catalog.db), wait);
      return catalog;
    } catch (err) {
      catalog.close();
      throw err;
    }
  }

  /**
   * Runs `work` in one write transaction as soon as the catalog accepts writes, and returns its result.
   * While another program holds the write lock it waits without blocking the thread (trying again every
   * 250 ms), calling `onWaiting` with the seconds waited (and once with null when the lock is won after a
   * wait), for up to `waitMs` milliseconds or until `signal` aborts; then it throws a CatalogBusyError that
   * names the catalog and says what to do (or the signal's reason). `work` is synchronous and runs with the lock held, so what it creates (folders, files)
   * exists only if the catalog took the write; it is rolled back if `work` throws.
   */
  async writeWhenFree<T>(work: () => T, options: CatalogWait = {}): Promise<T> {
    const waitMs = options.waitMs ?? CATALOG_WAIT_MS;
    const started = performance.now();
    for (let waited = false; ; waited = true) {
      // Without this, each try would block the thread for the whole busy timeout.
      this.db.pragma('busy_timeout = 0');
      try {
        this.db.exec('BEGIN IMMEDIATE');
        if (waited) options.onWaiting?.(null);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      } finally {
        this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
      options.signal?.throwIfAborted();
      const seconds = (performance.now() - started) / 1000;
      if (seconds * 1000 >= waitMs)
        throw new CatalogBusyError(catalogBusyMessage(this.file, seconds, options.soFar?.()));
      options.onWaiting?.(seconds);
      await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
    }
    try {
      const result = work();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /** SQLite's data_version: it changes when another connection commits to this catalog (this one's own writes leave it). */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  close(): void {
    this.db.close();
  }
}
