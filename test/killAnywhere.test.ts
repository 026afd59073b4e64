/**
 * One fault-injection harness for every long operation: import, review, fine-tuning, export and sort are
 * each run once to completion, then killed with SIGKILL at seeded-random moments of that run (and at the
 * one moment that matters most where random ones rarely hit it), and run again after each kill. Whatever
 * the moment, the same invariant holds: no photo, label or model is lost or doubled.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { MIN_LABELS } from '../electron/ml/fineTune.ts';
import { hasModel, readWeights } from '../electron/ml/modelFiles.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { fashionMnist, filesByHash, sha256, testSet } from './helpers/catalogs.ts';
import { CLI } from './helpers/cli.ts';
import { writeSmallFashionMnist } from './helpers/dataset.ts';
import { tempDir } from './helpers/photos.ts';

const PHOTOS = 200;
/** Photos reviewed before review, fine-tuning, export and sort start: enough to fine-tune on. */
const REVIEWED = MIN_LABELS + 10;
/** Of those, the review corrects the first CORRECTED; it also labels the photos not yet reviewed. */
const CORRECTED = 20;
const random = seededRandom(31);

// Its real path: the catalog is recognised among a process's open files by it.
const root = fs.realpathSync(tempDir('kill-anywhere'));
/**
 * Every run happens in this one folder, reset from a snapshot before each: catalogs hold absolute photo
 * paths, so a copy elsewhere would not be the same state.
 */
const work = path.join(root, 'work');
const photosDir = path.join(work, 'photos');
const catalogFile = path.join(work, 'catalog.sqlite');
const modelsDir = path.join(work, 'models');
const exportFile = path.join(work, 'export.csv');
const sortedDir = path.join(work, 'sorted');
// Caches and user data (thumbnails) inside the workspace too, so every run starts from the same state.
const env = {
  ...process.env,
  FASHION_SORTER_CACHE: path.join(work, 'cache'),
  FASHION_SORTER_DATA: path.join(work, 'data'),
};
/** A private copy of the shipped model, to classify with: the active model whose files must never change. */
const baseModelDir = path.join(root, 'model');
/** A small Fashion-MNIST for fine-tuning, so that its comparison on the test set takes seconds, not a minute. */
const smallDataDir = path.join(root, 'fashion-mnist');
const firstReviewCsv = path.join(root, 'first-review.csv');
const reviewCsv = path.join(root, 'review.csv');

const snapshotDir = (name: string) => path.join(root, 'snapshots', name);
const saveSnapshot = (name: string) =>
  fs.cpSync(work, snapshotDir(name), { recursive: true, preserveTimestamps: true });
function restoreSnapshot(name: string): void {
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(snapshotDir(name), work, { recursive: true, preserveTimestamps: true });
}

interface Run {
  killed: boolean;
  ms: number;
  /** When it opened the catalog (before that it only loads its code), if it did. */
  openedMs: number | undefined;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** When to kill a run: some milliseconds after it opened the catalog, or as soon as a condition on the workspace holds. */
type KillAt = { afterOpenMs: number } | { when: () => boolean };

/** Whether process `pid` has the catalog open (Linux: among its file descriptors). */
function hasCatalogOpen(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === catalogFile;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false; // exited
  }
}

/** Runs the CLI in the workspace, noting when it opens the catalog; with `kill`, SIGKILL at that moment, unless it has ended by itself. */
function runCli(args: string[], kill?: KillAt): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [...CLI, ...args], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let openedMs: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const watch = setInterval(() => {
      if (openedMs === undefined && hasCatalogOpen(child.pid!)) {
        openedMs = performance.now() - started;
        if (kill && 'afterOpenMs' in kill) timer = setTimeout(() => child.kill('SIGKILL'), kill.afterOpenMs);
      }
      if (kill && 'when' in kill && kill.when()) child.kill('SIGKILL');
    }, 3);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', ms: performance.now() - started, openedMs, code, stdout, stderr });
    });
  });
}

/** Rows from the catalog on a read-only connection of its own, which leaves a killed run's journal for the next run to recover. */
function catalogRows<T>(sql: string): T[] {
  const db = new Database(catalogFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
const hasTable = (name: string) =>
  fs.existsSync(catalogFile) &&
  catalogRows(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '${name}'`).length === 1;
const integrity = () =>
  catalogRows<{ integrity_check: string }>('PRAGMA integrity_check')
    .map((r) => r.integrity_check)
    .join('; ');

/** The human label log, one entry per line, without its ids and times (a recovery run logs at another time). */
const labelLog = () =>
  catalogRows<{ entry: string }>(
    `SELECT photo_id || ':' || ifnull(old_label, '-') || '→' || new_label || ' by ' || reviewer AS entry FROM labels ORDER BY id`,
  ).map((r) => r.entry);
/** Photos whose current label is not the latest entry of their log: a label the catalog lost on the way. */
const photosNotShowingTheirLatestLabel = () =>
  catalogRows<{
    n: number;
  }>(`SELECT count(*) AS n FROM photos p WHERE EXISTS (SELECT 1 FROM labels WHERE photo_id = p.id)
  AND p.label IS NOT (SELECT new_label FROM labels WHERE photo_id = p.id ORDER BY id DESC LIMIT 1)`)[0]!.n;

/** What `actual` lacks of `expected`, and what it has more often, as multisets. */
function multisetDifference(expected: string[], actual: string[]): { missing: number; extra: number } {
  const balance = new Map<string, number>();
  for (const x of expected) balance.set(x, (balance.get(x) ?? 0) + 1);
  for (const x of actual) balance.set(x, (balance.get(x) ?? 0) - 1);
  let missing = 0;
  let extra = 0;
  for (const n of balance.values()) {
    if (n > 0) missing += n;
    else extra -= n;
  }
  return { missing, extra };
}

/** Files and folders a write in progress uses (export's and thumbnails' *.tmp, sort's *.partial, a model's .incoming folder). */
const temporaries = () =>
  fs
    .readdirSync(work, { recursive: true, withFileTypes: true })
    .filter((e) => /^.+\.(tmp|partial|incoming)$/.test(e.name))
    .map((e) => path.relative(work, path.join(e.parentPath, e.name)));

/** A model folder whose model.json parses and whose weights file holds every weight it lists. */
function modelIntact(dir: string): boolean {
  try {
    const weights = readWeights(dir);
    return (
      hasModel(dir) &&
      weights.length > 0 &&
      fs.statSync(path.join(dir, 'weights.bin')).size === weights.reduce((n, w) => n + w.byteLength, 0)
    );
  } catch {
    return false;
  }
}
const folderHashes = (dir: string) =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, sha256(path.join(dir, f))]),
  );

const totals = {
  randomKills: 0,
  criticalKills: 0,
  photosLost: 0,
  photosDuplicated: 0,
  labelsLost: 0,
  labelsDuplicated: 0,
  modelsLost: 0,
  halfRegisteredModels: 0,
  partialExports: 0,
  temporariesLeft: 0,
};
type Tally = Partial<Omit<typeof totals, 'randomKills' | 'criticalKills'>>;

/** The state every operation but import starts from, captured when it is made. */
let reviewed: { log: string[]; photos: string[] };
/** The photos of the catalog (id, content hash, label, current prediction), one per line. */
const catalogPhotos = () =>
  catalogRows<{ row: string }>(
    `SELECT id || ' ' || hash || ' ' || ifnull(label, '-') || ' ' || ifnull(prediction_id, '-') AS row FROM photos ORDER BY id`,
  ).map((r) => r.row);

/** For operations that must not change a photo or a label: what they lost or doubled of the reviewed state. */
function untouchedPhotosAndLabels(): Tally {
  const photos = multisetDifference(reviewed.photos, catalogPhotos());
  const labels = multisetDifference(reviewed.log, labelLog());
  return {
    photosLost: photos.missing,
    photosDuplicated: photos.extra,
    labelsLost: labels.missing + photosNotShowingTheirLatestLabel(),
    labelsDuplicated: labels.extra,
  };
}

interface Operation<Reference> {
  name: string;
  /** The snapshot it starts from. */
  start: string;
  args: string[];
  /** Kills at random moments. */
  kills: number;
  /** One more kill in the moment that matters most, which random moments rarely hit, with its description. */
  critical?: { moment: string; when: () => boolean };
  /** The message of a run that finished. */
  finished: RegExp;
  /** What the uninterrupted run left, to compare with. */
  observe(): Reference;
  /** The invariants after a kill (`recovered` false) and after the run that follows it: counts of what broke, and a note. */
  check(reference: Reference, recovered: boolean): { tally: Tally; note: string };
}

function add(tally: Tally): void {
  for (const [key, n] of Object.entries(tally) as [keyof Tally, number][]) totals[key] += n;
}

/** Runs `op` once to completion, then killed at `op.kills` random moments (and its critical one), and again after each kill. */
async function killAnywhere<Reference>(t: TestContext, op: Operation<Reference>): Promise<void> {
  restoreSnapshot(op.start);
  const full = await runCli(op.args);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, op.finished);
  const reference = op.observe();
  // The moments are drawn over the time it has the catalog open: before, it only loads its code and has touched nothing.
  // A run that ends before its kill shortens that time (the first run of a command also compiles it).
  let workMs = full.ms - (full.openedMs ?? 0);
  const moments: { fraction?: number; critical?: Operation<Reference>['critical'] }[] = Array.from(
    { length: op.kills },
    (_, i) => ({
      // One moment in each stratum, the strata denser towards the end, where the writes are; none in the last
      // twentieth, which a run a little faster than the first one would finish before.
      fraction: 0.95 * Math.sqrt((i + random()) / op.kills),
    }),
  );
  if (op.critical) moments.push({ critical: op.critical });
  const trials: string[] = [];
  let kills = 0;
  for (const { fraction, critical } of moments) {
    let killed: Run;
    let moment: string;
    for (let attempt = 1; ; attempt++) {
      restoreSnapshot(op.start);
      const afterOpenMs = Math.round(workMs * (fraction ?? 0));
      moment = critical ? critical.moment : `${(afterOpenMs / 1000).toFixed(2)} s after opening the catalog`;
      killed = await runCli(op.args, critical ? { when: critical.when } : { afterOpenMs });
      if (killed.killed) break;
      assert.equal(killed.code, 0, killed.stderr);
      workMs = Math.min(workMs, killed.ms - (killed.openedMs ?? 0));
      if (attempt === 3) break;
    }
    if (killed.killed) {
      kills++;
      totals[critical ? 'criticalKills' : 'randomKills']++;
    }
    const atKill = op.check(reference, false);
    const leftAtKill = temporaries();
    const recovery = await runCli(op.args);
    assert.equal(recovery.code, 0, `${op.name} after a kill ${moment}: ${recovery.stderr}`);
    assert.match(recovery.stdout, op.finished, `the run after a kill ends with the message of a finished ${op.name}`);
    const afterRecovery = op.check(reference, true);
    const leftAfterRecovery = temporaries();
    add(atKill.tally);
    add({ ...afterRecovery.tally, temporariesLeft: leftAfterRecovery.length });
    const message = recovery.stdout.split('\n').find((line) => op.finished.test(line))!;
    trials.push(
      `${killed.killed ? `killed ${moment}` : `finished before the kill ${moment}`} (${atKill.note}${leftAtKill.length > 0 ? `; ${leftAtKill.join(', ')} there` : ''})` +
        ` → "${message.slice(0, 80)}${message.length > 80 ? '…' : ''}"${afterRecovery.note ? ` (${afterRecovery.note})` : ''}${leftAfterRecovery.length > 0 ? `, left behind: ${leftAfterRecovery.join(', ')}` : ''}`,
    );
  }
  t.diagnostic(
    `${op.name}: ${(full.ms / 1000).toFixed(1)} s uninterrupted, ${((full.ms - (full.openedMs ?? 0)) / 1000).toFixed(2)} s of it with the catalog open; ${trials.join('; ')}`,
  );
  assert.ok(kills >= moments.length - 1, `${kills} of ${moments.length} kills landed before ${op.name} finished`);
}

const importPhotos: Operation<string[]> = {
  name: 'import',
  start: 'photos',
  args: ['classify', photosDir, '--db', catalogFile, '--model', baseModelDir],
  kills: 4,
  finished: /^(imported|resumed and finished): 200 photos from 200 files( \([^)]*\))?, 0 failed/m,
  observe() {
    saveSnapshot('imported'); // the catalog the other operations start from
    return catalogRows<{ hash: string }>('SELECT hash FROM photos ORDER BY hash').map((r) => r.hash);
  },
  check(reference, recovered) {
    const files = [...filesByHash(photosDir).keys()];
    if (!hasTable('photo_paths')) {
      assert.ok(!recovered, 'the run after a kill makes the catalog');
      return { tally: {}, note: 'no catalog yet' };
    }
    assert.equal(integrity(), 'ok');
    const hashes = catalogRows<{ hash: string }>('SELECT hash FROM photos').map((r) => r.hash);
    const paths = catalogRows<{ photo_id: number; path: string }>('SELECT photo_id, path FROM photo_paths');
    // Every file holds a photo of its own, so a photo with two rows or two paths is imported twice.
    const duplicated = hashes.length - new Set(hashes).size + paths.length - new Set(paths.map((p) => p.photo_id)).size;
    if (!recovered) return { tally: { photosDuplicated: duplicated }, note: `${hashes.length} photos in` };
    assert.equal(hashes.length, files.length, 'as many photos as distinct files');
    assert.deepEqual([...hashes].sort(), reference, 'the photos of the uninterrupted import');
    assert.equal(
      catalogRows<{ n: number }>(`SELECT count(*) AS n FROM import_jobs WHERE status <> 'done'`)[0]!.n,
      0,
      'the import job is finished',
    );
    assert.equal(
      catalogRows<{ n: number }>(`SELECT count(*) AS n FROM photos WHERE prediction_id IS NULL`)[0]!.n,
      0,
      'every photo is predicted',
    );
    const lost = new Set([...files, ...reference].filter((h) => !hashes.includes(h))).size;
    return { tally: { photosLost: lost, photosDuplicated: duplicated }, note: '' };
  },
};

const review: Operation<string[]> = {
  name: 'review',
  start: 'reviewed',
  args: ['label', '--db', catalogFile, '--csv', reviewCsv],
  kills: 4,
  finished: new RegExp(`^applied ${PHOTOS} labels from .* \\(\\d+ changed, \\d+ already so\\)`, 'm'),
  observe() {
    const log = labelLog();
    // Corrections and first labels are logged; a label given again is not.
    assert.equal(log.length - reviewed.log.length, CORRECTED + PHOTOS - REVIEWED);
    return log;
  },
  check(reference, recovered) {
    assert.equal(integrity(), 'ok');
    const log = labelLog();
    const notShown = photosNotShowingTheirLatestLabel();
    if (!recovered) {
      // The batch is one transaction: the kill leaves all of it or none; earlier labels are never touched.
      const logged = log.length - reviewed.log.length;
      assert.ok(
        logged === 0 || logged === reference.length - reviewed.log.length,
        `${logged} labels logged at the kill`,
      );
      const earlier = multisetDifference(reviewed.log, log.slice(0, reviewed.log.length));
      const beyond = multisetDifference(reference, log);
      return {
        tally: { labelsLost: earlier.missing + notShown, labelsDuplicated: beyond.extra },
        note: `${logged} labels logged`,
      };
    }
    const { missing, extra } = multisetDifference(reference, log);
    return { tally: { labelsLost: missing + notShown, labelsDuplicated: extra }, note: '' };
  },
};

let baseModel: { id: number; files: Record<string, string>; rows: string[] };
const modelRows = () =>
  catalogRows<{ row: string }>(
    `SELECT id || ' ' || version || ' ' || dir || ' ' || active AS row FROM models ORDER BY id`,
  ).map((r) => r.row);

const fineTuning: Operation<number> = {
  name: 'fine-tuning',
  start: 'reviewed',
  args: ['finetune', '--db', catalogFile, '--epochs', '1', '--models', modelsDir, '--data', smallDataDir],
  kills: 2, // the slowest run of all (about 20 s), and each kill costs a whole run more
  // Saving takes a few hundredths of the run: random moments almost never catch it.
  critical: {
    moment: 'while it saves the new version',
    when: () => fs.existsSync(modelsDir) && fs.readdirSync(modelsDir).some((f) => f.endsWith('.incoming')),
  },
  finished: /^saved .* \(not active; `models --db .* --activate resnet9-mini-ft\d+` activates it/m,
  observe: () => modelRows().length,
  check(reference, recovered) {
    assert.equal(integrity(), 'ok');
    const rows = modelRows();
    const active = catalogRows<{ id: number }>('SELECT id FROM models WHERE active = 1');
    // Lost: a version the catalog had, gone or changed; the active one switched; its files changed.
    const lost =
      multisetDifference(baseModel.rows, rows).missing +
      (active.length === 1 && active[0]!.id === baseModel.id ? 0 : 1) +
      (JSON.stringify(folderHashes(baseModelDir)) === JSON.stringify(baseModel.files) && modelIntact(baseModelDir)
        ? 0
        : 1);
    // Half-registered: a version in the catalog, or a published folder, without complete files.
    const dirs = catalogRows<{ dir: string }>('SELECT dir FROM models').map((r) => r.dir);
    const published = fs.existsSync(modelsDir)
      ? fs
          .readdirSync(modelsDir)
          .filter((e) => !e.startsWith('.'))
          .map((e) => path.join(modelsDir, e))
      : [];
    const halfRegistered = [...dirs, ...published].filter((dir) => !modelIntact(dir)).length;
    const tally = { ...untouchedPhotosAndLabels(), modelsLost: lost, halfRegisteredModels: halfRegistered };
    if (recovered) {
      assert.deepEqual(
        temporaries().filter((f) => f.startsWith(`models${path.sep}`)),
        [],
        'the next run clears the staging folder of a killed one',
      );
      assert.ok(rows.length >= reference, 'the run after the kill registered its new version');
      const newest = catalogRows<{ parent_id: number; active: number }>(
        'SELECT parent_id, active FROM models ORDER BY id DESC LIMIT 1',
      )[0]!;
      assert.deepEqual(newest, { parent_id: baseModel.id, active: 0 }, 'a new, inactive version of the active model');
    }
    const unregistered = published.filter((dir) => !dirs.includes(dir)).length;
    return {
      tally,
      note: `${rows.length - baseModel.rows.length} new versions registered, ${published.length} published${unregistered > 0 ? `, ${unregistered} of them in no version` : ''}`,
    };
  },
};

const exportCsv: Operation<Buffer> = {
  name: 'export',
  start: 'reviewed',
  // The Fashion-MNIST layout (784 pixel columns) is the larger file: the longer it is written, the likelier a kill catches it.
  args: ['export', '--db', catalogFile, '--out', exportFile, '--format', 'fashion-mnist'],
  kills: 3,
  // Writing is a few hundredths of a second of the run.
  critical: {
    moment: 'while it writes',
    when: () => fs.readdirSync(work).some((f) => f.startsWith(`${path.basename(exportFile)}.`) && f.endsWith('.tmp')),
  },
  finished: new RegExp(`^wrote ${PHOTOS} rows to `, 'm'),
  observe: () => fs.readFileSync(exportFile),
  check(reference, recovered) {
    const exists = fs.existsSync(exportFile);
    // Never part of a file at the target path: none, or the whole export; and the whole one after recovery.
    const partial = (exists && !fs.readFileSync(exportFile).equals(reference)) || (recovered && !exists) ? 1 : 0;
    if (recovered)
      assert.deepEqual(
        temporaries().filter((f) => f.startsWith(`${path.basename(exportFile)}.`)),
        [],
        'the next export clears the temporary file of a killed one',
      );
    return {
      tally: { ...untouchedPhotosAndLabels(), partialExports: partial },
      note: exists ? 'complete file' : 'no file',
    };
  },
};

const sortMove: Operation<Map<string, string>> = {
  name: 'sort --move',
  start: 'reviewed',
  args: ['sort', '--db', catalogFile, '--dest', sortedDir, '--move'],
  kills: 5,
  finished: new RegExp(
    `^(continued and )?finished: \\d+ photos moved into .*, \\d+ already there( \\(\\d+ originals? elsewhere removed\\))?, 0 could not be sorted`,
    'm',
  ),
  /** Where each photo ended up, by content hash. */
  observe() {
    const placed = new Map<string, string>();
    for (const dir of [photosDir, sortedDir])
      for (const [hash, files] of filesByHash(dir)) placed.set(hash, path.relative(work, files[0]!));
    return placed;
  },
  check(reference, recovered) {
    assert.equal(integrity(), 'ok');
    const found = new Map<string, string[]>();
    for (const dir of [photosDir, sortedDir])
      for (const [hash, files] of filesByHash(dir)) found.set(hash, [...(found.get(hash) ?? []), ...files]);
    const copies = [...reference.keys()].map((hash) => (found.get(hash) ?? []).length);
    const lost = copies.filter((n) => n === 0).length;
    const doubled = copies.reduce((sum, n) => sum + Math.max(0, n - 1), 0);
    const sorted = [...found.values()]
      .flat()
      .filter((f) => f.startsWith(sortedDir + path.sep) && !f.endsWith('.partial')).length;
    if (!recovered) {
      // Between a verified copy and the removal of its source a photo is in both places; the journal knows, and the next run finishes the move.
      return {
        tally: { ...untouchedPhotosAndLabels(), photosLost: lost },
        note: `${sorted} in place${doubled > 0 ? `, ${doubled} in both places` : ''}`,
      };
    }
    const placed = new Map(
      [...found].filter(([hash]) => reference.has(hash)).map(([hash, files]) => [hash, path.relative(work, files[0]!)]),
    );
    assert.deepEqual(placed, reference, 'every photo where the uninterrupted sort put it');
    const known = new Map(
      catalogRows<{ hash: string; paths: string }>(
        `SELECT p.hash, group_concat(pp.path, '|') AS paths FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id GROUP BY p.id`,
      ).map((r) => [r.hash, r.paths.split('|')]),
    );
    for (const [hash, files] of found)
      if (reference.has(hash)) assert.deepEqual(known.get(hash), files, 'the catalog points at the file');
    return { tally: { ...untouchedPhotosAndLabels(), photosLost: lost, photosDuplicated: doubled }, note: '' };
  },
};

test(
  'SIGKILL at random moments of import, review, fine-tuning, export and sort: after the next run, no photo, label or model lost or doubled',
  { timeout: 600_000 },
  async (t) => {
    // Its files only: the shipped folder may also hold training checkpoints.
    fs.cpSync(defaultModelDir(), baseModelDir, {
      recursive: true,
      filter: (src) => src === defaultModelDir() || fs.statSync(src).isFile(),
    });
    writeSmallFashionMnist(fashionMnist, smallDataDir);
    const files = await writePackshots(testSet.images, PHOTOS, photosDir, {
      seed: 5,
      size: { width: 120, height: 150 },
    });
    saveSnapshot('photos');

    await t.test('import', (t) => killAnywhere(t, importPhotos));

    // The reviewed state: the uninterrupted import, the first REVIEWED photos given their true category by a reviewer.
    restoreSnapshot('imported');
    const csv = (rows: [string, number][]) =>
      `path,label\n${rows.map(([file, label]) => `"${file}",${label}`).join('\n')}\n`;
    fs.writeFileSync(firstReviewCsv, csv(files.slice(0, REVIEWED).map((file, i) => [file, testSet.labels[i]!])));
    const first = await runCli(['label', '--db', catalogFile, '--csv', firstReviewCsv]);
    assert.equal(first.code, 0, first.stderr);
    reviewed = { log: labelLog(), photos: catalogPhotos() };
    baseModel = {
      id: catalogRows<{ id: number }>('SELECT id FROM models WHERE active = 1')[0]!.id,
      files: folderHashes(baseModelDir),
      rows: modelRows(),
    };
    saveSnapshot('reviewed');
    // The next batch: corrections of earlier labels, the same label again for others, and first labels for the rest.
    fs.writeFileSync(
      reviewCsv,
      csv(files.map((file, i) => [file, i < CORRECTED ? (testSet.labels[i]! + 1) % 10 : testSet.labels[i]!])),
    );

    for (const op of [review, fineTuning, exportCsv, sortMove] as Operation<unknown>[])
      await t.test(op.name, (t) => killAnywhere(t, op));

    const {
      randomKills,
      criticalKills,
      photosLost,
      photosDuplicated,
      labelsLost,
      labelsDuplicated,
      modelsLost,
      halfRegisteredModels,
      partialExports,
      temporariesLeft,
    } = totals;
    t.diagnostic(
      `SIGKILL at ${randomKills} random moments and ${criticalKills} chosen ones (an export while it writes, fine-tuning while it saves) over 5 operations: photos lost ${photosLost}, duplicated ${photosDuplicated}; labels lost ${labelsLost}, duplicated ${labelsDuplicated}; models lost ${modelsLost}, half-registered ${halfRegisteredModels}; partial exports ${partialExports}; temporary files left after recovery ${temporariesLeft}`,
    );
    assert.deepEqual(
      {
        photosLost,
        photosDuplicated,
        labelsLost,
        labelsDuplicated,
        modelsLost,
        halfRegisteredModels,
        partialExports,
        temporariesLeft,
      },
      {
        photosLost: 0,
        photosDuplicated: 0,
        labelsLost: 0,
        labelsDuplicated: 0,
        modelsLost: 0,
        halfRegisteredModels: 0,
        partialExports: 0,
        temporariesLeft: 0,
      },
    );
  },
);
