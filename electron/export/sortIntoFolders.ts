import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { plural } from '../../contract/plural.ts';
import type { PhotoSelection, SortPlan, SortResult } from '../../contract/api.ts';
import Database from 'better-sqlite3';
import { sortLockFile, type Catalog, type CatalogWait } from '../catalog/catalog.ts';
import { comparable } from '../catalog/migrations.ts';
import type { PhotoSource, SortFile, SortJob, SortJournal, SortMode } from '../catalog/sortJournal.ts';
import { explainWriteError } from './csvFile.ts';
import { checkFolderNames, DEFAULT_FOLDER_NAMES, numberedName, portableName } from './fileNames.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

export interface SortRequest {
  dest: string;
  mode: SortMode;
  selection: PhotoSelection;
  /** Folder name per category (portable names by default). */
  folders?: readonly string[];
}

export type { SortPlan, SortResult };

export interface SortProgress {
  jobId: number;
  total: number;
  done: number;
  failed: number;
  photosPerSecond: number;
  etaSeconds: number | null;
}

export interface SortOptions {
  signal?: AbortSignal;
  onProgress?: (p: SortProgress) => void;
  /** How long to wait for a catalog another program is writing to, and whom to tell meanwhile (see Catalog.writeWhenFree). */
  catalogWait?: CatalogWait;
}

/** A problem with the destination that stops the whole job (the photos not yet sorted stay where they are). */
class DestinationProblem extends Error {}

/** Copies in flight at once: file copies wait on the disk, so a few overlap well even on two cores. */
const CONCURRENCY = 8;
/** Source files checked at once while planning. */
const CHECKS_AT_ONCE = 32;
/** Finished copies recorded per transaction: a crash loses at most these records, and the next run finds the copies in place by their hash. */
const DONE_PER_COMMIT = 250;
const SAMPLE_SIZE = 20;
const PROGRESS_INTERVAL_MS = 100;

const sha256OfFile = async (file: string) =>
  crypto
    .createHash('sha256')
    .update(await fs.promises.readFile(file))
    .digest('hex');
/** 840 kB, 12.3 MB, 4.1 GB. */
export const formatBytes = (bytes: number) =>
  bytes < 1e6
    ? `${Math.ceil(bytes / 1e3)} kB`
    : bytes < 1e9
      ? `${(bytes / 1e6).toFixed(1)} MB`
      : `${(bytes / 1e9).toFixed(1)} GB`;
const isInside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);
/**
 * The form in which two names are the same file on some drive: any case (Windows, macOS) and either Unicode
 * normal form (macOS stores "blü" decomposed; a name typed elsewhere is composed).
 */
const sameFile = (name: string) => comparable(name).toLowerCase();
const partialName = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.partial`);

/** The real path of `p`, or of its nearest existing ancestor with the rest appended (a destination may not exist yet). */
function realPathAllowingMissing(p: string): string {
  const missing: string[] = [];
  let existing = path.resolve(p);
  while (!fs.existsSync(existing)) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  return path.join(fs.realpathSync(existing), ...missing);
}

function nearestExisting(p: string): string {
  let existing = p;
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  return existing;
}

interface PlannedFile {
  source: PhotoSource;
  target: string;
  alreadyThere: boolean;
}

/** Is the planned file's original another file than its target (which a move then removes)? */
const originalElsewhere = (file: PlannedFile) => sameFile(file.target) !== sameFile(file.source.path);

/** Is the photo still at `file` as imported? A changed size or time means reading it to be sure. The stat comes back for reuse. */
async function unchangedSince(
  file: string,
  expected: { hash: string; size: number | null; mtimeMs: number | null },
): Promise<{ state: 'ok'; stat: fs.Stats } | { state: 'missing' | 'changed' }> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(file);
  } catch {
    return { state: 'missing' };
  }
  if (stat.size === expected.size && stat.mtimeMs === expected.mtimeMs) return { state: 'ok', stat };
  return (await sha256OfFile(file)) === expected.hash ? { state: 'ok', stat } : { state: 'changed' };
}

const MISSING =
  'no longer at this path (moved, renamed or deleted since it was imported); import its folder again to find it';
const CHANGED = 'the file changed since it was imported, so its category may be wrong; import it again, then sort';
const READ_ONLY_FOLDER =
  "its folder is read-only for your account, so a move could not remove the original; sort it as a copy, or change the folder's permissions";

/** May this account remove files from `folder`? (Writing to a folder is what removing one of its files needs.) */
function removableIn(folder: string): boolean {
  try {
    fs.accessSync(folder, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
const REPLACED =
  'no file: an import found every file it had deleted, renamed or holding other content (edited or replaced); its labels are kept, and importing the file where it is now brings it back';

/** Works out where every selected photo goes, without touching any file. */
async function makePlan(
  catalog: Catalog,
  journal: SortJournal,
  request: SortRequest,
): Promise<{ plan: SortPlan; files: PlannedFile[]; job: SortJob | undefined; outdated: OutdatedCopy[] }> {
  const folders = [...(request.folders ?? DEFAULT_FOLDER_NAMES)];
  checkFolderNames(folders);
  const dest = realPathAllowingMissing(request.dest);
  const existing = nearestExisting(dest);
  if (!fs.statSync(existing).isDirectory())
    throw new Error(`${existing} is a file, not a folder; choose a folder for the sorted photos`);
  const job = journal.unfinishedJobs().find((j) => j.dest === dest && j.mode === request.mode);
  const handled = job ? journal.handledPaths(job.id) : new Set<string>();
  const wanted = catalog.queries.photoIds(request.selection);
  const everyPath = journal.sources(wanted);
  const selected = everyPath.filter((s) => !handled.has(s.path));
  const sources = selected.filter((s) => s.category !== null);
  const withPath = new Set(everyPath.map((s) => s.photoId));
  const replaced = wanted
    .filter((id) => !withPath.has(id))
    .map((id) => ({ path: catalog.queries.photoName(id), reason: REPLACED }));

  // The destination must not lie in a folder the photos come from (imported, or sorted into by an earlier sort and
  // holding them now): a later import there would find them again. An earlier sort's destination itself is where
  // sorting again after a category changed goes, whether or not that folder was imported since, unless it holds
  // photos that also have files elsewhere (a copy sort's copies, imported since): each would be sorted twice.
  const realFolders = (paths: string[]) =>
    paths.filter((r) => fs.existsSync(r) && fs.statSync(r).isDirectory()).map((r) => fs.realpathSync(r));
  const sortedInto = new Set(realFolders(catalog.queries.sortDestinations()));
  const roots = realFolders(catalog.queries.photoRoots()).filter((r) => sources.some((s) => isInside(s.path, r)));
  const sourceFolders = new Set(sources.map((s) => realPathAllowingMissing(path.dirname(s.path))));
  for (const folder of [...roots, ...sourceFolders]) {
    if (!isInside(dest, folder)) continue;
    if (dest !== folder || !sortedInto.has(folder))
      throw new Error(
        `the destination ${dest} is inside ${folder}, where photos to sort come from; choose a folder outside it (a later import of ${folder} would find the sorted photos again)`,
      );
    const within = new Set(sources.filter((s) => isInside(s.path, dest)).map((s) => s.photoId));
    const alsoElsewhere = new Set(
      sources.filter((s) => within.has(s.photoId) && !isInside(s.path, dest)).map((s) => s.photoId),
    ).size;
    if (alsoElsewhere > 0)
      throw new Error(
        `${dest} holds copies of ${plural(alsoElsewhere, 'photo')} that ${alsoElsewhere === 1 ? 'is' : 'are'} also imported from elsewhere (a copy sort's, imported since), which would be sorted twice; sort into another folder, or remove the import of ${dest} (Imports) and sort again`,
      );
  }

  const taken = new Map<string, Set<string>>();
  const namesIn = (folder: string) => {
    let names = taken.get(folder);
    if (!names) {
      const stat = fs.statSync(folder, { throwIfNoEntry: false });
      if (stat && !stat.isDirectory())
        throw new Error(
          `${folder} is a file where a category's folder goes; move or rename it, or give the category another folder name`,
        );
      names = new Set(stat ? fs.readdirSync(folder).map(sameFile) : []);
      taken.set(folder, names);
    }
    return names;
  };
  // Targets this job has written or this plan gives out: two files with the same content and name are two
  // targets, and the copy already in place counts as "already there" for one of them only.
  const claimed = new Set<string>();
  for (const target of job ? journal.claimedTargets(job.id) : []) {
    namesIn(path.dirname(target)).add(sameFile(path.basename(target)));
    claimed.add(sameFile(target));
  }

  const plan: SortPlan = {
    dest,
    mode: request.mode,
    folders,
    perCategory: new Array<number>(NUM_CLASSES).fill(0),
    photos: 0,
    distinctPhotos: 0,
    bytes: 0,
    bytesNeeded: 0,
    bytesFree: 0,
    renamed: 0,
    alreadyThere: 0,
    originalsToRemove: 0,
    uncategorized: selected.length - sources.length,
    outdated: [],
    unavailable: replaced,
    resumes: job ? { jobId: job.id, done: journal.handledCount(job.id) } : null,
    sample: [],
  };
  const destExisting = nearestExisting(dest);
  const destDrive = fs.statfsSync(destExisting);
  const destDevice = fs.statSync(destExisting).dev;
  // The sources are checked in parallel (mostly cached metadata), then planned in order.
  const checks = new Array<Awaited<ReturnType<typeof unchangedSince>>>(sources.length);
  await forEachLimited([...sources.keys()], CHECKS_AT_ONCE, undefined, async (i) => {
    checks[i] = await unchangedSince(sources[i]!.path, sources[i]!);
  });
  const files: PlannedFile[] = [];
  const distinct = new Set<number>();
  for (const [i, source] of sources.entries()) {
    const check = checks[i]!;
    if (check.state !== 'ok') {
      plan.unavailable.push({ path: source.path, reason: check.state === 'missing' ? MISSING : CHANGED });
      continue;
    }
    if (request.mode === 'move' && !removableIn(path.dirname(source.path))) {
      plan.unavailable.push({ path: source.path, reason: READ_ONLY_FOLDER });
      continue;
    }
    const folder = path.join(dest, folders[source.category!]!);
    const names = namesIn(folder);
    const wanted = portableName(path.basename(source.path));
    let name = wanted;
    let alreadyThere = sameFile(path.join(folder, name)) === sameFile(source.path);
    for (let n = 2; !alreadyThere && names.has(sameFile(name)); n++) {
      const existing = path.join(folder, name);
      // Sorting again into the same folders: the same content under the name it would get is already sorted.
      if (
        !claimed.has(sameFile(existing)) &&
        fs.existsSync(existing) &&
        fs.statSync(existing).size === source.size &&
        (await sha256OfFile(existing)) === source.hash
      )
        alreadyThere = true;
      else name = numberedName(wanted, n);
    }
    names.add(sameFile(name));
    const target = path.join(folder, name);
    claimed.add(sameFile(target));
    const file = { source, target, alreadyThere };
    files.push(file);
    if (alreadyThere) {
      plan.alreadyThere++;
      if (request.mode === 'move' && originalElsewhere(file)) plan.originalsToRemove++;
      continue;
    }
    if (name !== path.basename(source.path)) plan.renamed++;
    plan.perCategory[source.category!]!++;
    plan.photos++;
    distinct.add(source.photoId);
    plan.bytes += source.size;
    // Space is taken in whole blocks.
    if (request.mode === 'copy' || check.stat.dev !== destDevice)
      plan.bytesNeeded += Math.ceil(source.size / destDrive.bsize) * destDrive.bsize;
    if (plan.sample.length < SAMPLE_SIZE) plan.sample.push({ source: source.path, target });
  }
  plan.distinctPhotos = distinct.size;
  plan.bytesFree = destDrive.bavail * destDrive.bsize;
  const outdated = await outdatedCopies(journal, dest, folders, files);
  plan.outdated = outdated.map((copy) => copy.path);
  return { plan, files, job, outdated };
}

/** An earlier copy to remove once `replacement` (the photo's copy in its new folder) holds `hash` too. */
interface OutdatedCopy {
  path: string;
  hash: string;
  replacement: string;
}

/**
 * The copies earlier copy jobs into `dest` made of the planned files' sources that now sit in another category's
 * folder (the photo's category changed since) and are still identical to the photo: a copy sort keeps the
 * destination one folder per category, so they go once the new copies are in place. A copy edited since, or
 * in a folder that is no longer a category's, stays.
 */
async function outdatedCopies(
  journal: SortJournal,
  dest: string,
  folders: string[],
  files: PlannedFile[],
): Promise<OutdatedCopy[]> {
  const earlier = journal.earlierCopies(dest);
  const categoryFolders = new Set(folders.map((folder) => sameFile(path.join(dest, folder))));
  const outdated: OutdatedCopy[] = [];
  for (const file of files) {
    for (const copy of earlier.get(file.source.path) ?? []) {
      const folder = sameFile(path.dirname(copy));
      if (folder === sameFile(path.dirname(file.target)) || !categoryFolders.has(folder)) continue;
      const stat = fs.statSync(copy, { throwIfNoEntry: false });
      if (stat?.isFile() && stat.size === file.source.size && (await sha256OfFile(copy)) === file.source.hash)
        outdated.push({ path: copy, hash: file.source.hash, replacement: file.target });
    }
  }
  return outdated;
}

/** Removes the outdated copies whose replacement is in place with the same content; returns how many went. */
async function removeOutdated(outdated: OutdatedCopy[]): Promise<number> {
  let removed = 0;
  for (const copy of outdated) {
    const same = async (file: string) => fs.existsSync(file) && (await sha256OfFile(file)) === copy.hash;
    if (!(await same(copy.replacement)) || !(await same(copy.path))) continue;
    // One that cannot be removed (its folder made read-only since) stays, as it was before this sort.
    await fs.promises.rm(copy.path).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}

/** The dry run: what sorting would do, with counts, and nothing written. */
export async function planSort(catalog: Catalog, request: SortRequest): Promise<SortPlan> {
  return (await makePlan(catalog, catalog.sortJournal, request)).plan;
}

/** Copies a file through a hidden partial name and renames it into place, so the target is either absent or complete. */
async function copyIntoPlace(file: SortFile, mode: SortMode, stat: fs.Stats): Promise<void> {
  const partial = partialName(file.target);
  try {
    await fs.promises
      .copyFile(file.source, partial, fs.constants.COPYFILE_EXCL)
      .catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
        // Left by a crash mid-copy: it is ours, and incomplete.
        await fs.promises.rm(partial, { force: true });
        await fs.promises.copyFile(file.source, partial, fs.constants.COPYFILE_EXCL);
      });
    await fs.promises.utimes(partial, stat.atimeMs / 1000, stat.mtimeMs / 1000);
    if (mode === 'move') {
      // A move deletes the original, so the copy must be on the disk and equal to it first.
      const handle = await fs.promises.open(partial, 'r+');
      await handle.sync().finally(() => handle.close());
      if ((await sha256OfFile(partial)) !== file.hash)
        throw new Error('the copy is not identical to the original; the original was kept');
    }
    if (fs.existsSync(file.target))
      throw new Error(`another file appeared at ${file.target} while sorting; nothing was overwritten`);
    await fs.promises.rename(partial, file.target);
    if (mode === 'move') {
      const dir = await fs.promises.open(path.dirname(file.target), 'r');
      await dir.sync().finally(() => dir.close());
    }
  } catch (err) {
    await fs.promises.rm(partial, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO')
      throw new DestinationProblem(
        `cannot write into ${path.dirname(file.target)}: ${explainWriteError(err as NodeJS.ErrnoException)}`,
      );
    if ((code === 'EACCES' || code === 'EPERM') && fs.existsSync(file.source)) {
      try {
        fs.accessSync(file.source, fs.constants.R_OK);
        throw new DestinationProblem(
          `cannot write into ${path.dirname(file.target)}: ${explainWriteError(err as NodeJS.ErrnoException)}`,
        );
      } catch (access) {
        if (access instanceof DestinationProblem) throw access;
      }
    }
    throw err;
  }
}

/** A write made once the catalog accepts it (see Catalog.writeWhenFree). */
type Write = <T>(work: () => T) => Promise<T>;

/** The last step of a move: the verified copy is in place, so the original goes and the catalog follows. */
async function finishMove(
  journal: SortJournal,
  write: Write,
  outcomes: Outcomes,
  file: SortFile,
  copiedByThisJob: boolean,
): Promise<void> {
  const stat = await fs.promises.stat(file.target);
  const original = await fs.promises.stat(file.source).catch(() => undefined);
  // Already in its place (sorted before, or the same file under another case of its name): nothing to delete.
  if (original && !(original.dev === stat.dev && original.ino === stat.ino)) {
    try {
      await fs.promises.rm(file.source);
    } catch (err) {
      // The original stays (its folder turned read-only since the plan, say), and the journal no longer holds a
      // move it cannot finish. A copy this job made is taken back, so the photo is in one place; one that was
      // there before (an earlier copy sort's) is left as it was.
      const why = explainWriteError(err as NodeJS.ErrnoException);
      if (!copiedByThisJob)
        return outcomes.fail(
          file.id,
          `the original could not be removed (${why}), so it stays where it was, beside the copy an earlier sort made at ${file.target}`,
        );
      await fs.promises.rm(file.target, { force: true });
      return outcomes.fail(
        file.id,
        `the original could not be removed (${why}), so it stays where it was and its copy was taken back; sort it as a copy instead`,
      );
    }
  }
  // Should the catalog stay busy past the wait, the journal still says "copied": the same sort again finishes this move.
  await write(() => journal.markMoved(file, { size: stat.size, mtimeMs: stat.mtimeMs }));
}

/**
 * Records how files end. Finished copies are committed in batches (a copy is safe to redo: the next run
 * finds it in place by its hash); failures and every step of a move are committed at once.
 */
class Outcomes {
  failed = 0;
  private done: number[] = [];

  constructor(
    private readonly journal: SortJournal,
    private readonly write: Write,
  ) {}

  async copied(fileId: number): Promise<void> {
    this.done.push(fileId);
    if (this.done.length >= DONE_PER_COMMIT) await this.flush();
  }

  async fail(fileId: number, reason: string): Promise<void> {
    this.failed++;
    await this.write(() => this.journal.markFailed(fileId, reason));
  }

  async flush(): Promise<void> {
    const done = this.done;
    this.done = [];
    if (done.length > 0) await this.write(() => this.journal.markDone(done));
  }
}

/** Carries one journaled file to its end: done, or failed with a reason (a destination problem stops the job). */
async function sortFile(
  journal: SortJournal,
  write: Write,
  outcomes: Outcomes,
  file: SortFile,
  mode: SortMode,
): Promise<void> {
  const targetExists = fs.existsSync(file.target);
  const complete = targetExists && (await sha256OfFile(file.target)) === file.hash;
  // Complete before this job copied it: another sort's copy (a copy sort's, found already there).
  const copiedByThisJob = file.state === 'copied' || !complete;
  if (file.state === 'copied' && !complete) {
    // The verified copy was removed by someone since; if the original is still there, start over.
    if (!fs.existsSync(file.source))
      return outcomes.fail(
        file.id,
        `the sorted copy at ${file.target} and the original were both removed outside Fashion Sorter`,
      );
    file.state = 'planned';
  }
  if (file.state === 'planned' && !complete) {
    if (targetExists)
      return outcomes.fail(file.id, `another file is already at ${file.target}; nothing was overwritten`);
    const check = await unchangedSince(file.source, file);
    if (check.state !== 'ok') return outcomes.fail(file.id, check.state === 'missing' ? MISSING : CHANGED);
    try {
      await copyIntoPlace(file, mode, check.stat);
    } catch (err) {
      if (err instanceof DestinationProblem) throw err;
      return outcomes.fail(
        file.id,
        (err as NodeJS.ErrnoException).code ? explainWriteError(err as NodeJS.ErrnoException) : (err as Error).message,
      );
    }
  }
  if (mode === 'copy') return outcomes.copied(file.id);
  await write(() => journal.markCopied(file.id));
  await finishMove(journal, write, outcomes, file, copiedByThisJob);
}

/** Those of `files` whose target holds their photo whole (its content hash). */
async function completeCopies(files: SortFile[]): Promise<SortFile[]> {
  const complete: SortFile[] = [];
  for (const file of files)
    if (fs.existsSync(file.target) && (await sha256OfFile(file.target)) === file.hash) complete.push(file);
  return complete;
}

/** Runs `work` over the items with at most `limit` at a time; the first thrown error stops new work and is rethrown. */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < items.length && failure === undefined && !signal?.aborted) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure;
}

/**
 * Takes the catalog's sort lock: an exclusive transaction on a small SQLite file beside the catalog
 * (sortLockFile), held by its own connection until `release`. The system lets go of the file lock the moment
 * the process ends, a SIGKILL included, so a crashed sort never blocks the next; a second connection, in this
 * process or another, is refused at once. Undefined when another sort holds it.
 */
function takeSortLock(catalogFile: string): { release: () => void } | undefined {
  const lock = new Database(sortLockFile(catalogFile), { timeout: 0 });
  try {
    lock.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
  return { release: () => lock.close() };
}

/**
 * Sorts the selected photos into one folder per category under `dest`: copies by default; a move copies,
 * flushes, verifies the content hash and only then deletes the original, and the catalog's path follows.
 * A copy made by an earlier copy sort that now sits in another category's folder goes once the new copy is
 * in place (SortPlan.outdated).
 * Every step is journaled in the catalog, so after a crash, a full disk or a cancel, running the same sort
 * again finishes what was started and plans the rest afresh. Nothing is ever overwritten. One sort runs on a
 * catalog at a time: while another (a window, a command) runs, this one is refused before it touches anything.
 */
export async function sortPhotos(
  catalog: Catalog,
  request: SortRequest,
  options: SortOptions = {},
): Promise<SortResult> {
  const journal = catalog.sortJournal;
  // While another program holds the catalog, the wait is here, before anything on disk is touched.
  await catalog.writeWhenFree(() => undefined, { ...options.catalogWait, signal: options.signal });
  const lock = takeSortLock(catalog.file);
  if (!lock) {
    const other = journal.sortHolder();
    const who = other ? ` (process ${other.pid}${other.host === os.hostname() ? '' : ` on ${other.host}`})` : '';
    throw new Error(
      `another sort is running on this catalog${who}; nothing was changed. Let it finish or stop it, then sort again`,
    );
  }
  try {
    await catalog.writeWhenFree(() => journal.recordSortHolder({ host: os.hostname(), pid: process.pid }), {
      ...options.catalogWait,
      signal: options.signal,
    });
    return await sortHoldingLock(catalog, request, options);
  } finally {
    lock.release();
  }
}

/** sortPhotos, with the catalog's sort lock held. */
async function sortHoldingLock(catalog: Catalog, request: SortRequest, options: SortOptions): Promise<SortResult> {
  const journal = catalog.sortJournal;
  const dest = realPathAllowingMissing(request.dest);
  /**
   * Every later write waits for the catalog too (without the cancel: a file copied or moved is recorded before
   * the job stops); if the wait runs out, the message says what is sorted and that the same sort goes on.
   */
  let jobId: number | undefined;
  const write: Write = (work) =>
    catalog.writeWhenFree(work, {
      ...options.catalogWait,
      signal: undefined,
      soFar: () => {
        const counts = jobId === undefined ? undefined : journal.counts(jobId);
        return `The sort stopped${counts ? ` with ${counts.done} of its ${counts.planned + counts.copied + counts.done + counts.failed} files sorted` : ''}: what was copied or moved is recorded or found again by its content, and the same sort again goes on with the rest`;
      },
    });
  // What an interrupted job had in flight is finished first: moves whose verified copy is in place lose
  // their original, and half-written copies go. A job for another destination is then closed; the one for
  // this destination continues, its plan for the rest replaced by a fresh one.
  for (const unfinished of journal.unfinishedJobs()) {
    const outcomes = new Outcomes(journal, write);
    const closing = unfinished.dest !== dest || unfinished.mode !== request.mode;
    // A copy renamed into place just before the crash is still 'planned' in the journal. The same sort finds it
    // in place; before another one, it is finished like a 'copied' one, not left behind as a second file.
    const inFlight = [
      ...journal.unfinishedFiles(unfinished.id, ['copied']),
      ...(closing ? await completeCopies(journal.unfinishedFiles(unfinished.id, ['planned'])) : []),
    ];
    await forEachLimited(inFlight, CONCURRENCY, undefined, (file) =>
      sortFile(journal, write, outcomes, file, unfinished.mode),
    );
    for (const file of journal.unfinishedFiles(unfinished.id, ['planned']))
      fs.rmSync(partialName(file.target), { force: true });
    if (closing) {
      await write(() => {
        journal.dropPlanned(unfinished.id);
        journal.finishJob(unfinished.id, 'stopped');
      });
    }
  }
  const { plan, files, job: resumedJob, outdated } = await makePlan(catalog, journal, request);
  if (plan.bytesNeeded > plan.bytesFree) {
    throw new Error(
      `the photos need ${formatBytes(plan.bytesNeeded)} at ${plan.dest} and the drive has ${formatBytes(plan.bytesFree)} free; free some space or choose another drive`,
    );
  }
  const planned = files.map((f) => ({ photoId: f.source.photoId, source: f.source.path, target: f.target }));
  // The folders are made with the catalog's write lock held, in the transaction that journals the plan:
  // a catalog that another program keeps busy leaves no empty category folders behind.
  jobId = await catalog.writeWhenFree(
    () => {
      try {
        fs.mkdirSync(plan.dest, { recursive: true });
        // One level at a time: Node's recursive mkdir reports a read-only drive as a missing folder.
        for (const k of new Set(files.map((f) => f.source.category!))) {
          const folder = path.join(plan.dest, plan.folders[k]!);
          if (!fs.existsSync(folder)) fs.mkdirSync(folder);
        }
      } catch (err) {
        throw new Error(
          `cannot create the category folders in ${plan.dest}: ${explainWriteError(err as NodeJS.ErrnoException)}`,
          {
            cause: err,
          },
        );
      }
      if (!resumedJob) return journal.createJob(plan.dest, request.mode, plan.folders, planned);
      journal.dropPlanned(resumedJob.id);
      journal.addFiles(resumedJob.id, planned);
      return resumedJob.id;
    },
    { ...options.catalogWait, signal: options.signal },
  );

  const job = jobId;
  const todo = journal.unfinishedFiles(job);
  const outcomes = new Outcomes(journal, write);
  const started = performance.now();
  let handled = 0;
  let reportedAt = 0;
  const report = () => {
    const now = performance.now();
    // A few times a second is plenty for a progress bar.
    if (now - reportedAt < PROGRESS_INTERVAL_MS && handled < todo.length) return;
    reportedAt = now;
    const rate = handled / Math.max((now - started) / 1000, 1e-3);
    options.onProgress?.({
      jobId: job,
      total: todo.length,
      done: handled,
      failed: outcomes.failed,
      photosPerSecond: rate,
      etaSeconds: rate > 0 ? (todo.length - handled) / rate : null,
    });
  };
  let problem: string | null = null;
  try {
    await forEachLimited(todo, CONCURRENCY, options.signal, async (file) => {
      await sortFile(journal, write, outcomes, file, request.mode);
      handled++;
      report();
    });
  } catch (err) {
    if (!(err instanceof DestinationProblem)) throw err;
    problem = `${err.message}. The photos not yet sorted are where they were; run the same sort again to continue`;
  } finally {
    await outcomes.flush();
  }
  const counts = journal.counts(job);
  const finished = counts.planned === 0 && counts.copied === 0;
  await write(() => journal.finishJob(job, finished ? 'done' : 'stopped'));
  // After a stop they stay: the same sort again plans them again.
  const removedOutdated = finished ? await removeOutdated(outdated) : 0;
  if (!finished && problem === null) problem = 'cancelled; run the same sort again to continue';
  return {
    jobId: job,
    mode: request.mode,
    dest: plan.dest,
    status: finished ? 'done' : 'stopped',
    resumed: resumedJob !== undefined,
    sorted: counts.done,
    distinctPhotos: journal.donePhotos(job),
    alreadyThere: files.filter((f) => f.alreadyThere).length,
    originalsRemoved:
      request.mode === 'move'
        ? files.filter((f) => f.alreadyThere && originalElsewhere(f) && !fs.existsSync(f.source.path)).length
        : 0,
    removedOutdated,
    failed: [...plan.unavailable, ...journal.failures(job)],
    problem,
  };
}
