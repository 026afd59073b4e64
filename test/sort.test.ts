import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { sortPhotos } from '../electron/export/sortIntoFolders.ts';
import { importPhotos } from '../electron/photos/importJob.ts';
import type { SortResult } from '../contract/api.ts';
import { filesByHash, labeledCatalog, sha256, testSet } from './helpers/catalogs.ts';
import { cli, CLI, count } from './helpers/cli.ts';
import { withSmallDrive } from './helpers/drives.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { rawDb } from './helpers/rawSql.ts';

const ALL = { queue: 'all', rule: DEFAULT_REVIEW_RULE } as const;
/** The catalog's current path of each photo, by content hash. */
function catalogPaths(db: string): Map<string, string[]> {
  const catalog = new Catalog(db);
  try {
    const rows = rawDb(catalog)
      .prepare('SELECT p.hash, pp.path FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id')
      .all() as { hash: string; path: string }[];
    const out = new Map<string, string[]>();
    for (const r of rows) out.set(r.hash, [...(out.get(r.hash) ?? []), r.path]);
    return out;
  } finally {
    catalog.close();
  }
}

/**
 * The invariant after any sort: every photo exists exactly once among the sources and the destination for
 * a move (twice, source and copy, for a copy), with its content hash, and the catalog's path is the file.
 */
function assertEveryPhotoOnce(photos: string, dest: string, db: string, hashes: string[], mode: 'copy' | 'move') {
  const found = new Map<string, string[]>();
  for (const dir of [photos, dest])
    for (const [hash, files] of filesByHash(dir)) found.set(hash, [...(found.get(hash) ?? []), ...files]);
  const known = catalogPaths(db);
  for (const hash of hashes) {
    const files = found.get(hash) ?? [];
    if (mode === 'move') {
      assert.equal(files.length, 1, `photo ${hash.slice(0, 8)} exists once: ${files.join(', ')}`);
      assert.deepEqual(known.get(hash), files, 'the catalog points at the file');
    } else {
      assert.ok(files.length >= 1 && files.length <= 2, `photo ${hash.slice(0, 8)}: ${files.join(', ')}`);
      assert.ok(known.get(hash)!.every((p) => fs.existsSync(p) && sha256(p) === hash));
    }
  }
  assert.equal(
    [...found.values()].flat().filter((f) => path.basename(f).endsWith('.partial')).length,
    0,
    'no partial copy is left',
  );
}

test(
  'copy: a dry run previews, then every photo lands in its category folder; same names and Windows-invalid names get safe ones; sorting again writes nothing',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-copy');
    const odd = {
      0: 'a/shirt.jpg',
      1: 'b/shirt.png',
      2: 'c/shirt.jpg',
      4: 'CON.jpg',
      6: 'what? "this": <that>|.jpg',
      8: 'tab\there.jpg',
    };
    // Same stem and extension in three folders: the third of them that shares a category folder gets " (2)".
    const { photos, db, paths, hashes, expectedFolder } = await labeledCatalog(dir, 40, odd);
    const dest = path.join(dir, 'sorted');

    const preview = cli(['sort', '--db', db, '--dest', dest, '--dry-run', '--json']);
    assert.equal(preview.code, 0, preview.stderr);
    const plan = JSON.parse(preview.stdout);
    assert.equal(plan.photos, 40);
    assert.deepEqual(
      plan.perCategory,
      DEFAULT_FOLDER_NAMES.map((_, k) => testSet.labels.subarray(0, 40).filter((l) => l === k).length),
    );
    assert.ok(!fs.existsSync(dest), 'a dry run writes nothing');
    // Every photo of this catalog is labelled: none is sorted on the model's guess.
    assert.equal(plan.needsReview, 0);

    const r = cli(['sort', '--db', db, '--dest', dest, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.status, 'done');
    assert.equal(result.sorted, 40);
    const sorted = filesByHash(dest);
    paths.forEach((source, i) => {
      const [copy, ...more] = sorted.get(hashes[i]!) ?? [];
      assert.ok(copy && more.length === 0, `${source} is copied once`);
      assert.equal(path.basename(path.dirname(copy)), expectedFolder(i));
      assert.ok(fs.existsSync(source), 'a copy keeps the original');
      assert.ok(Math.abs(fs.statSync(copy).mtimeMs - fs.statSync(source).mtimeMs) < 1, 'the modification time is kept');
    });
    const names = [...sorted.values()].flat().map((f) => path.basename(f));
    assert.ok(names.includes('_CON.jpg'));
    assert.ok(names.includes('what_ _this__ _that__.jpg'));
    assert.ok(names.includes('tab_here.jpg'));
    assert.equal(names.filter((n) => /^shirt( \(\d\))?\.jpg$/.test(n)).length, 2);
    assertEveryPhotoOnce(photos, dest, db, hashes, 'copy');

    const again = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--json']).stdout);
    assert.equal(again.alreadyThere, 40);
    assert.equal(again.originalsRemoved, 0, 'a copy removes nothing');
    assert.equal([...filesByHash(dest).values()].flat().length, 40, 'sorting again adds no file');

    // A reviewer moves two photos to another category; the next copy sort keeps one folder per category: the
    // earlier copies go once the new ones are in place, but one edited since in the sorted folder stays.
    const copyOf = (i: number) => sorted.get(hashes[i]!)![0]!;
    const [kept, edited] = [0, 1].map(copyOf);
    const newLabel = (i: number) => (testSet.labels[i]! + 1) % 10;
    const catalog = new Catalog(db);
    catalog.labels.setLabels(
      [0, 1, 2].map((i) => ({ photoId: catalog.queries.photoAtPath(paths[i]!)!, label: newLabel(i) })),
      'ana',
    );
    catalog.close();
    fs.appendFileSync(copyOf(2), 'edited in the sorted folder');
    const preview2 = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--dry-run', '--json']).stdout);
    assert.deepEqual(preview2.outdated.sort(), [kept, edited].sort());
    assert.equal(preview2.photos, 3);
    const resorted = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--json']).stdout);
    assert.equal(resorted.removedOutdated, 2);
    const now = filesByHash(dest);
    for (const i of [0, 1]) {
      const [only, ...more] = now.get(hashes[i]!) ?? [];
      assert.ok(only && more.length === 0, `${paths[i]} has one copy`);
      assert.equal(path.basename(path.dirname(only)), DEFAULT_FOLDER_NAMES[newLabel(i)]);
    }
    assert.ok(fs.existsSync(copyOf(2)), 'an edited earlier copy is not removed');
    assert.equal(now.get(hashes[2]!)?.length, 1, 'and the photo has its new copy');
    assert.equal(JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--json']).stdout).removedOutdated, 0);
  },
);

test(
  'folder names are configurable and checked; a destination inside the photos folder is refused',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-names');
    const { photos, db, paths, hashes } = await labeledCatalog(dir, 12);
    const dest = path.join(dir, 'out');
    const bad = cli(['sort', '--db', db, '--dest', dest, '--folder-name', 'Shirt=Tops:new']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the folder name "Tops:new" for Shirt cannot be used on every system.*try "Tops_new"/);
    const clash = cli(['sort', '--db', db, '--dest', dest, '--folder-name', '0=Tops', '--folder-name', '6=tops']);
    assert.match(clash.stderr, /T-shirt\/top and Shirt would share the folder "tops"/);
    assert.equal(cli(['sort', '--db', db, '--dest', dest, '--folder-name', 'Jumper=X']).code, 2);
    const empty = cli(['sort', '--db', db, '--dest', dest, '--folder-name', 'Bag=']);
    assert.equal(empty.stderr.trim(), 'error: the folder name for Bag is empty; give it a name');
    // An empty destination would be the current folder; a file is no destination, nor anything under it.
    assert.equal(cli(['sort', '--db', db, '--dest', '']).code, 2);
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, '');
    for (const target of [file, path.join(file, 'sub')]) {
      const onFile = cli(['sort', '--db', db, '--dest', target, '--dry-run']);
      assert.equal(onFile.code, 1);
      assert.equal(
        onFile.stderr.trim(),
        `error: ${file} is a file, not a folder; choose a folder for the sorted photos`,
      );
    }
    // A file where a category's folder would go.
    const blocked = path.join(dir, 'blocked');
    fs.mkdirSync(blocked);
    for (const name of DEFAULT_FOLDER_NAMES) fs.writeFileSync(path.join(blocked, name), '');
    const onFolderName = cli(['sort', '--db', db, '--dest', blocked, '--dry-run']);
    assert.equal(onFolderName.code, 1);
    assert.match(
      onFolderName.stderr,
      /^error: .*blocked\/[^/]+ is a file where a category's folder goes; move or rename it, or give the category another folder name/,
    );

    const inside = cli(['sort', '--db', db, '--dest', path.join(photos, 'sorted'), '--move']);
    assert.equal(inside.code, 1);
    assert.match(
      inside.stderr,
      /the destination .*photos\/sorted is inside .*photos, where photos to sort come from; choose a folder outside it/,
    );
    assert.ok(!fs.existsSync(path.join(photos, 'sorted')));
    assert.ok(paths.every((p) => fs.existsSync(p)));

    const ok = cli([
      'sort',
      '--db',
      db,
      '--dest',
      dest,
      '--folder-name',
      '0=Tops',
      '--folder-name',
      'ankle boot=Boots',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(fs.readdirSync(dest).every((f) => f === 'Tops' || f === 'Boots' || DEFAULT_FOLDER_NAMES.includes(f)));
    assert.equal(
      fs.readdirSync(path.join(dest, 'Boots')).length,
      testSet.labels.subarray(0, 12).filter((l) => l === 9).length,
    );
    assertEveryPhotoOnce(photos, dest, db, hashes, 'copy');
  },
);

test(
  'move: each original goes only after its copy is flushed and verified; the catalog follows the files',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-move');
    const { photos, db, paths, hashes, expectedFolder } = await labeledCatalog(dir, 30);
    const dest = path.join(dir, 'sorted');
    const r = cli(['sort', '--db', db, '--dest', dest, '--move', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(paths.every((p) => !fs.existsSync(p)));
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
    const known = catalogPaths(db);
    hashes.forEach((hash, i) => assert.equal(path.basename(path.dirname(known.get(hash)![0]!)), expectedFolder(i)));
    // The photos can be found again where they are now: the same sort again finds all of them in place.
    const again = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--move', '--json']).stdout);
    assert.equal(again.alreadyThere, 30);
    assert.equal(again.originalsRemoved, 0, 'the photos already there are their own originals');
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
  },
);

test(
  "sorting again into an earlier sort's folder works once that folder was imported too; a folder inside it, where the photos are now, is refused",
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-again-imported');
    const { photos, db, hashes } = await labeledCatalog(dir, 12);
    const dest = path.join(dir, 'sorted');
    assert.equal(cli(['sort', '--db', db, '--dest', dest, '--move']).code, 0);
    const inside = path.join(dest, 'more');
    const refused = () => {
      const r = cli(['sort', '--db', db, '--dest', inside]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the destination .*sorted\/more is inside .*sorted, where photos to sort come from/);
      assert.ok(!fs.existsSync(inside));
    };
    refused();
    // A reviewer imports the sorted folder and changes one photo's category.
    const relabeled = (testSet.labels[0]! + 1) % 10;
    const catalog = new Catalog(db);
    try {
      const result = await importPhotos([dest], { catalog, thumbnailsDir: path.join(dir, 'thumbs') });
      assert.equal(result.counts.done, 12);
      const photo = catalog.queries.photoAtPath(catalogPaths(db).get(hashes[0]!)![0]!)!;
      catalog.labels.setLabels([{ photoId: photo, label: relabeled }], 'tester');
    } finally {
      catalog.close();
    }
    const again = cli(['sort', '--db', db, '--dest', dest, '--move', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).alreadyThere, 11);
    assert.equal(path.basename(path.dirname(catalogPaths(db).get(hashes[0]!)![0]!)), DEFAULT_FOLDER_NAMES[relabeled]);
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
    refused();

    // After a copy sort the photos also have their originals elsewhere: once the copies are imported too, sorting
    // into their folder again would sort each photo twice, and is refused before anything is touched.
    const copied = await labeledCatalog(path.join(dir, 'copied'), 6);
    const copies = path.join(dir, 'copies');
    assert.equal(cli(['sort', '--db', copied.db, '--dest', copies]).code, 0);
    const imported = new Catalog(copied.db);
    try {
      await importPhotos([copies], { catalog: imported, thumbnailsDir: path.join(dir, 'thumbs') });
    } finally {
      imported.close();
    }
    for (const mode of [[], ['--move']]) {
      const twice = cli(['sort', '--db', copied.db, '--dest', copies, ...mode]);
      assert.equal(twice.code, 1);
      assert.equal(
        twice.stderr.trim(),
        `error: ${copies} holds copies of 6 photos that are also imported from elsewhere (a copy sort's, imported since), which would be sorted twice; sort into another folder, or remove the import of ${copies} (Imports) and sort again`,
      );
    }
    assertEveryPhotoOnce(copied.photos, copies, copied.db, copied.hashes, 'copy');
  },
);

test(
  'one sort at a time on a catalog: a second, started meanwhile, is refused before it touches anything, naming the process that sorts; the next one after it runs',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-one-at-a-time');
    const { photos, db, hashes } = await labeledCatalog(dir, 30);
    const dest = path.join(dir, 'sorted');
    const first = new Catalog(db);
    const second = new Catalog(db);
    let refused: Promise<SortResult> | undefined;
    // From the first sort's first progress report: it is moving files now.
    const result = await sortPhotos(
      first,
      { dest, mode: 'move', selection: ALL },
      {
        onProgress: () => {
          refused ??= sortPhotos(second, { dest: path.join(dir, 'elsewhere'), mode: 'move', selection: ALL });
          refused.catch(() => undefined);
        },
      },
    );
    assert.equal(result.status, 'done');
    await assert.rejects(
      refused!,
      new RegExp(
        `^Error: another sort is running on this catalog \\(process ${process.pid}\\); nothing was changed\\. Let it finish or stop it, then sort again$`,
      ),
    );
    assert.equal(fs.existsSync(path.join(dir, 'elsewhere')), false, 'the refused sort made no folder');
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');

    // The lock goes with the sort: the next one runs (it finds every photo in place).
    const again = await sortPhotos(second, { dest, mode: 'move', selection: ALL });
    assert.equal(again.alreadyThere, 30);
    first.close();
    second.close();
  },
);

/**
 * Runs `body` with the folder `photos` on a small drive of its own (the same files, paths and times), which
 * `remount` turns read-only or back; skipped where no drive can be mounted.
 */
async function withPhotosOnOwnDrive(
  t: { skip: (why: string) => void },
  photos: string,
  body: (remount: (mode: 'ro' | 'rw') => void) => Promise<void>,
): Promise<void> {
  const saved = `${photos}-saved`;
  fs.cpSync(photos, saved, { recursive: true, preserveTimestamps: true });
  await withSmallDrive(t, photos, 'size=64m', async () => {
    fs.cpSync(saved, photos, { recursive: true, preserveTimestamps: true });
    await body((mode) => assert.equal(spawnSync('mount', ['-o', `remount,${mode}`, photos]).status, 0));
  });
}

/** A move of every photo into `dest` during which the photos' drive turns read-only, at its first progress report. */
async function moveTurningReadOnly(db: string, dest: string, remount: (mode: 'ro' | 'rw') => void) {
  const catalog = new Catalog(db);
  let turned = false;
  try {
    return await sortPhotos(
      catalog,
      { dest, mode: 'move', selection: ALL },
      {
        onProgress: () => {
          if (!turned) remount('ro');
          turned = true;
        },
      },
    );
  } finally {
    catalog.close();
  }
}

test(
  'a move whose originals cannot be removed: refused in the plan where the folder is read-only, and where it turns read-only midway each copy is taken back; nothing is in two places, and the same sort finishes once it can',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir('sort-readonly-source');
    const { photos, db, hashes } = await labeledCatalog(dir, 30);
    const dest = path.join(dir, 'sorted');
    await withPhotosOnOwnDrive(t, photos, async (remount) => {
      remount('ro');
      const plan = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--move', '--dry-run', '--json']).stdout);
      assert.equal(plan.photos, 0);
      assert.equal(plan.unavailable.length, 30);
      assert.match(plan.unavailable[0].reason, /^its folder is read-only for your account, so a move could not remove/);

      remount('rw');
      const result = await moveTurningReadOnly(db, dest, remount);
      const stuck = result.failed.filter((f) => /^the original could not be removed \(/.test(f.reason));
      assert.ok(stuck.length > 0, `some originals could not be removed: ${JSON.stringify(result.failed.slice(0, 2))}`);
      assert.match(
        stuck[0]!.reason,
        /so it stays where it was and its copy was taken back; sort it as a copy instead$/,
      );
      assertEveryPhotoOnce(photos, dest, db, hashes, 'move');

      remount('rw');
      const again = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--move', '--json']).stdout);
      assert.equal(again.status, 'done');
      assert.equal(again.failed.length, 0);
      assert.deepEqual(filesByHash(photos).size, 0, 'every original moved');
      assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
    });
  },
);

test(
  'a move after a copy sort, whose originals turn read-only midway: the copies the copy sort made stay, and each photo is where it was or moved',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir('sort-readonly-after-copy');
    const { photos, db, hashes } = await labeledCatalog(dir, 12);
    const dest = path.join(dir, 'sorted');
    await withPhotosOnOwnDrive(t, photos, async (remount) => {
      assert.equal(cli(['sort', '--db', db, '--dest', dest]).code, 0);
      const result = await moveTurningReadOnly(db, dest, remount);
      const stuck = result.failed.filter((f) => /^the original could not be removed \(/.test(f.reason));
      assert.ok(stuck.length > 0, `some originals could not be removed: ${JSON.stringify(result.failed.slice(0, 2))}`);
      assert.match(stuck[0]!.reason, /so it stays where it was, beside the copy an earlier sort made at /);
      assert.deepEqual(
        [...filesByHash(dest).keys()].sort(),
        [...hashes].sort(),
        "every copy sort's copy is still there",
      );
      assertEveryPhotoOnce(photos, dest, db, hashes, 'copy');
      remount('rw');
    });
  },
);

test(
  'a move after a copy sort: the copies are already there, the plan and the result say the originals go, and a photo relabelled in between leaves its old folder',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-copy-then-move');
    const { photos, db, paths, hashes } = await labeledCatalog(dir, 12);
    const dest = path.join(dir, 'sorted');
    assert.equal(cli(['sort', '--db', db, '--dest', dest]).code, 0);
    const [earlier] = filesByHash(dest).get(hashes[0]!)!;
    const catalog = new Catalog(db);
    catalog.labels.setLabels(
      [{ photoId: catalog.queries.photoAtPath(paths[0]!)!, label: (testSet.labels[0]! + 1) % 10 }],
      'ana',
    );
    catalog.close();
    const plan = JSON.parse(cli(['sort', '--db', db, '--dest', dest, '--move', '--dry-run', '--json']).stdout);
    assert.deepEqual([plan.photos, plan.alreadyThere, plan.originalsToRemove], [1, 11, 11]);
    assert.deepEqual(plan.outdated, [earlier]);
    const words = cli(['sort', '--db', db, '--dest', dest, '--move', '--dry-run']).stdout;
    assert.match(
      words,
      /would move 1 photo \(.*\) into .*, and remove 11 original files whose copies are already there/,
    );
    assert.match(words, /already there: 11;/);
    const r = cli(['sort', '--db', db, '--dest', dest, '--move']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /1 photo moved into .*, 11 already there \(11 originals elsewhere removed\), 1 earlier copy removed from another category's folder/,
    );
    assert.ok(
      paths.every((p) => !fs.existsSync(p)),
      'the originals are gone',
    );
    assert.equal(fs.existsSync(earlier!), false, "the relabelled photo's earlier copy is gone");
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
  },
);

test(
  'a source changed or deleted since import is skipped with its reason; the others are sorted',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-changed');
    const { photos, db, paths, hashes } = await labeledCatalog(dir, 10);
    fs.rmSync(paths[1]!);
    fs.appendFileSync(paths[2]!, 'edited');
    const dest = path.join(dir, 'sorted');
    const r = cli(['sort', '--db', db, '--dest', dest, '--move', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.sorted, 8);
    assert.deepEqual(
      result.failed.sort((a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path)),
      [
        {
          path: paths[1],
          reason:
            'no longer at this path (moved, renamed or deleted since it was imported); import its folder again to find it',
        },
        {
          path: paths[2],
          reason: 'the file changed since it was imported, so its category may be wrong; import it again, then sort',
        },
      ],
    );
    assert.ok(fs.existsSync(paths[2]!), 'the changed file stays where it is');
    assertEveryPhotoOnce(
      photos,
      dest,
      db,
      hashes.filter((_, i) => i !== 1 && i !== 2),
      'move',
    );
  },
);

test(
  'a destination that is not writable, or too small, is refused before anything moves',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir('sort-drive');
    const { photos, db, paths, hashes } = await labeledCatalog(dir, 10);
    await withSmallDrive(t, path.join(dir, 'readonly'), 'ro,size=1m', async (readOnly) => {
      const r = cli(['sort', '--db', db, '--dest', readOnly, '--move']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /cannot create the category folders in .*readonly: the drive is read-only; choose another folder/,
      );
    });
    assert.ok(paths.every((p) => fs.existsSync(p)));

    await withSmallDrive(t, path.join(dir, 'tiny'), 'size=16k', async (tiny) => {
      const full = cli(['sort', '--db', db, '--dest', tiny]);
      assert.equal(full.code, 1);
      assert.match(
        full.stderr,
        /the photos need \d+ kB at .*tiny and the drive has \d+ kB free; free some space or choose another drive/,
      );
      assert.deepEqual(fs.readdirSync(tiny), []);
      assertEveryPhotoOnce(photos, tiny, db, hashes, 'move');
    });
  },
);

test(
  'the disk fills up in the middle of a move: the job stops and says so, nothing is lost, and the same sort finishes once there is room',
  { timeout: 300_000 },
  async (t) => {
    const dir = tempDir('sort-full');
    const { photos, db, hashes } = await labeledCatalog(dir, 40);
    await withSmallDrive(t, path.join(dir, 'drive'), 'size=4m', async (drive) => {
      const dest = path.join(drive, 'sorted');
      const filler = path.join(drive, 'filler');
      const catalog = new Catalog(db);
      let filled = false;
      const first = await sortPhotos(
        catalog,
        { dest, mode: 'move', selection: ALL },
        {
          onProgress: (p) => {
            // Another program takes the rest of the drive once the first photos are sorted.
            if (p.done < 1 || filled) return;
            filled = true;
            try {
              for (;;) fs.appendFileSync(filler, Buffer.alloc(64 * 1024));
            } catch {
              /* the drive is full */
            }
          },
        },
      );
      assert.equal(first.status, 'stopped');
      assert.match(
        first.problem!,
        /cannot write into .*sorted\/.*: the disk is full; free some space and try again\. The photos not yet sorted are where they were; run the same sort again to continue/,
      );
      assert.ok(first.sorted >= 1 && first.sorted < 40, `${first.sorted} sorted before the disk filled`);
      catalog.close();
      assertEveryPhotoOnce(photos, dest, db, hashes, 'move');

      fs.rmSync(filler);
      const again = new Catalog(db);
      const second = await sortPhotos(again, { dest, mode: 'move', selection: ALL });
      again.close();
      assert.equal(second.status, 'done');
      assert.equal(second.resumed, true);
      assert.equal(second.sorted, 40);
      assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
      assert.equal(fs.readdirSync(photos).length, 0);
    });
  },
);

test(
  'SIGKILL in the middle of a copy, then the same command: copies recorded late are found in place, none is made twice',
  { timeout: 600_000 },
  async () => {
    const dir = tempDir('sort-kill-copy');
    const { photos, db, hashes } = await labeledCatalog(dir, 400);
    const dest = path.join(dir, 'sorted');
    const args = ['sort', '--db', db, '--dest', dest, '--json'];
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: projectRoot, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Finished copies are committed in batches, so the journal lags the disk: watch the disk.
    const copies = () =>
      fs.existsSync(dest)
        ? fs
            .readdirSync(dest, { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile() && !e.name.endsWith('.partial')).length
        : 0;
    while (copies() < 30) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const copiedAtKill = copies();
    const journaledAtKill = count(db, `SELECT count(*) FROM sort_files WHERE state = 'done'`);
    assert.ok(copiedAtKill < 400, 'killed before the end');

    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.resumed, true);
    assert.equal(result.sorted, 400);
    assert.ok(
      copiedAtKill > journaledAtKill,
      `copies on disk (${copiedAtKill}) ran ahead of the journal (${journaledAtKill})`,
    );
    assert.ok(
      result.alreadyThere >= copiedAtKill - journaledAtKill,
      `the ${copiedAtKill - journaledAtKill} copies the journal missed were found in place (${result.alreadyThere})`,
    );
    const sorted = filesByHash(dest);
    assert.deepEqual([...sorted.keys()].sort(), [...hashes].sort());
    assert.ok(
      [...sorted.values()].every((files) => files.length === 1),
      'no photo was copied twice',
    );
    assertEveryPhotoOnce(photos, dest, db, hashes, 'copy');
  },
);

test(
  'a move killed after renaming a copy into place but before journaling it, then a sort elsewhere: that move is finished first, and every photo is once',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('sort-kill-elsewhere');
    const { photos, db, paths, hashes, expectedFolder } = await labeledCatalog(dir, 12);
    const first = path.join(dir, 'first');
    // The state SIGKILL leaves between the rename and the journal's 'copied': photo 0 whole at its target,
    // its original still there, both files 'planned'.
    const catalog = new Catalog(db);
    try {
      const planned = [0, 1].map((i) => ({
        photoId: catalog.queries.photoAtPath(paths[i]!)!,
        source: paths[i]!,
        target: path.join(first, expectedFolder(i), path.basename(paths[i]!)),
      }));
      catalog.sortJournal.createJob(first, 'move', DEFAULT_FOLDER_NAMES, planned);
      fs.mkdirSync(path.dirname(planned[0]!.target), { recursive: true });
      fs.copyFileSync(paths[0]!, planned[0]!.target);
    } finally {
      catalog.close();
    }
    const second = path.join(dir, 'second');
    const r = cli(['sort', '--db', db, '--dest', second, '--move', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sorted, 12);
    const everywhere = new Map<string, string[]>();
    for (const folder of [photos, first, second])
      for (const [hash, files] of filesByHash(folder))
        everywhere.set(hash, [...(everywhere.get(hash) ?? []), ...files]);
    const known = catalogPaths(db);
    for (const hash of hashes) {
      const files = everywhere.get(hash)!;
      assert.equal(files.length, 1, `photo ${hash.slice(0, 8)} exists once: ${files.join(', ')}`);
      assert.ok(files[0]!.startsWith(second + path.sep), files[0]);
      assert.deepEqual(known.get(hash), files, 'the catalog points at the file');
    }
    assert.equal(count(db, `SELECT count(*) FROM sort_jobs WHERE status = 'running'`), 0);
  },
);

test(
  'SIGKILL in the middle of a move, then the same command: every photo exactly once, where the journal and the catalog say',
  { timeout: 600_000 },
  async () => {
    const dir = tempDir('sort-kill');
    const { photos, db, hashes } = await labeledCatalog(dir, 400);
    const dest = path.join(dir, 'sorted');
    const args = ['sort', '--db', db, '--dest', dest, '--move', '--json'];
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: projectRoot, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let doneAtKill: number;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      try {
        doneAtKill = count(db, `SELECT count(*) FROM sort_files WHERE state = 'done'`);
      } catch {
        continue; // busy for a moment
      }
      if (doneAtKill >= 20) break;
    }
    child.kill('SIGKILL');
    await exited;
    assert.ok(doneAtKill < 400, 'killed before the end');
    assert.ok(
      count(db, `SELECT count(*) FROM sort_jobs WHERE status = 'running'`) === 1,
      'the journal shows the job unfinished',
    );

    const r = cli(args);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.equal(result.resumed, true);
    assert.equal(result.sorted, 400);
    assert.deepEqual(result.failed, []);
    assert.equal(count(db, 'SELECT count(*) FROM sort_jobs'), 1);
    assertEveryPhotoOnce(photos, dest, db, hashes, 'move');
  },
);
