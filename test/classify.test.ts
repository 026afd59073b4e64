import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { defaultModelDir, PRODUCT_NAME, projectRoot } from '../electron/appPaths.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { modelVersion } from '../electron/ml/inference.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { cli, CLI, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';
import { noNewReviews } from '../contract/api.ts';
import { CLASS_NAMES } from '../contract/categories.ts';

const data = await loadFashionMnist({ allowDownload: false });

test('classify without a folder is a usage error; a folder that does not exist fails with the reason', () => {
  const dir = tempDir('cli-bad');
  assert.equal(cli(['classify']).code, 2);
  const r = cli(['classify', path.join(dir, 'nope'), '--db', path.join(dir, 'c.sqlite')], {
    FASHION_SORTER_CACHE: dir,
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nothing was imported: .*nope: this path does not exist/);
  assert.ok(!fs.existsSync(path.join(dir, 'c.sqlite')), 'a mistyped folder makes no catalog');
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(path.join(empty, 'sub'), { recursive: true });
  const none = cli(['classify', empty, '--db', path.join(dir, 'c.sqlite')], { FASHION_SORTER_CACHE: dir });
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    `error: nothing was imported: ${empty}: this folder (and its subfolders) holds no photos\n`,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'c.sqlite')), 'nor does an empty one');
  // Files that are not photos, whatever their names: found by their first bytes, before any catalog is made.
  fs.writeFileSync(path.join(empty, 'sub', 'notes.txt'), 'not a photo\n');
  fs.writeFileSync(path.join(empty, 'fake.jpg'), 'not a photo either\n');
  const documents = cli(['classify', empty, '--db', path.join(dir, 'c.sqlite')], { FASHION_SORTER_CACHE: dir });
  assert.equal(documents.code, 1);
  assert.match(
    documents.stderr,
    /^error: nothing was imported: .*(notes\.txt|fake\.jpg): .*\(nor is the other file\)\n$/,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'c.sqlite')), 'nor does a folder of documents');
  // A named pipe is not read, by the check before the import either (reading one waits for a writer).
  const pipes = path.join(dir, 'pipes');
  fs.mkdirSync(pipes);
  assert.equal(spawnSync('mkfifo', [path.join(pipes, 'pipe.jpg')]).status, 0);
  const pipe = cli(['classify', pipes, '--db', path.join(dir, 'p.sqlite')], { FASHION_SORTER_CACHE: dir });
  assert.equal(pipe.code, 1);
  assert.match(pipe.stderr, /pipe\.jpg: not a photo file but a named pipe; it was not read/);
  // A CSV that cannot be written is found out before the import, not after it.
  const photos = path.join(dir, 'photos');
  fs.mkdirSync(photos);
  const toFolder = cli(['classify', photos, '--db', path.join(dir, 'd.sqlite'), '--out', dir], {
    FASHION_SORTER_CACHE: dir,
  });
  assert.equal(toFolder.code, 1);
  assert.match(toFolder.stderr, /cannot write .*: it is a folder; give a file name in it/);
  assert.ok(!fs.existsSync(path.join(dir, 'd.sqlite')), 'no catalog was made');
  // Nor is a mistyped --model found out only after the catalog was made.
  fs.copyFileSync(path.join(projectRoot, 'resources', 'icon.png'), path.join(photos, 'a.png'));
  const noModel = cli(['classify', photos, '--db', path.join(dir, 'd.sqlite'), '--model', path.join(dir, 'nope')], {
    FASHION_SORTER_CACHE: dir,
  });
  assert.equal(noModel.code, 1);
  assert.match(noModel.stderr, /^error: no model at .*nope \(model\.json and weights\.bin are needed\); check --model/);
  assert.ok(!fs.existsSync(path.join(dir, 'd.sqlite')), 'no catalog was made for a missing model');
});

test("without --db the command line imports into the window's default catalog: Electron's userData (its appData folder and the product's name)", async () => {
  const dir = tempDir('cli-default');
  await writePackshots(data.test.images, 2, path.join(dir, 'photos'));
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { productName: string };
  assert.equal(PRODUCT_NAME, pkg.productName, 'Electron names userData after package.json productName');
  // On Linux Electron's appData is XDG_CONFIG_HOME (~/.config); the window opens userData/catalog.sqlite first.
  const config = path.join(dir, 'config');
  const r = cli(['classify', path.join(dir, 'photos'), '--json'], {
    FASHION_SORTER_CACHE: dir,
    FASHION_SORTER_DATA: '',
    XDG_CONFIG_HOME: config,
    XDG_DATA_HOME: path.join(dir, 'data'),
  });
  assert.equal(r.code, 0, r.stderr);
  const catalog = path.join(config, pkg.productName, 'catalog.sqlite');
  assert.equal(count(catalog, 'SELECT count(*) FROM photos'), 2);
  assert.ok(!fs.existsSync(path.join(dir, 'data')), 'nothing in XDG_DATA_HOME');
});

test('a reader that stops reading (`| head -1`) ends only the printing: the command finishes its work and exits 0', async () => {
  const dir = tempDir('cli-pipe');
  await writePackshots(data.test.images, 3, path.join(dir, 'photos'));
  const out = path.join(dir, 'labels.csv');
  const args = ['classify', path.join(dir, 'photos'), '--db', path.join(dir, 'c.sqlite'), '--out', out];
  const child = spawn(process.execPath, [...CLI, ...args], {
    cwd: projectRoot,
    env: { ...process.env, FASHION_SORTER_CACHE: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // As `head -1` does: read the first line, then close the pipe.
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE/);
  assert.equal(parse(fs.readFileSync(out, 'utf8'), { columns: true }).length, 3);
});

test("models lists the catalog's versions and --activate makes one the catalog's model, an earlier one too, re-predicting what has no label", async () => {
  const dir = tempDir('cli-models');
  await writePackshots(data.test.images, 4, path.join(dir, 'photos'));
  const db = path.join(dir, 'catalog.sqlite');
  assert.equal(cli(['classify', path.join(dir, 'photos'), '--db', db], { FASHION_SORTER_CACHE: dir }).code, 0);
  // A second version, as a fine-tune publishes one (here the shipped weights in a folder of their own).
  const copy = path.join(dir, 'models', 'resnet9-mini-ft1');
  fs.cpSync(defaultModelDir(), copy, { recursive: true });
  const catalog = new Catalog(db);
  const shipped = catalog.models.activeModel()!;
  const second = catalog.models.registerModel({
    name: 'resnet9-mini-ft1',
    version: 'ft1',
    dir: copy,
    card: {},
    parentId: shipped.id,
  });
  catalog.close();
  const listed = cli(['models', '--db', db]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^\\* +${shipped.id} resnet9-mini `, 'm'));
  assert.match(listed.stdout, new RegExp(`^  +${second.id} resnet9-mini-ft1 .*from resnet9-mini`, 'm'));
  const predictedBy = (id: number) =>
    count(db, 'SELECT count(*) FROM photos p JOIN predictions r ON r.id = p.prediction_id WHERE r.model_id = ?', id);

  const activated = cli(['models', '--db', db, '--activate', 'resnet9-mini-ft1', '--json']);
  assert.equal(activated.code, 0, activated.stderr);
  const report = JSON.parse(activated.stdout);
  assert.deepEqual(report.activated, {
    name: 'resnet9-mini-ft1',
    repredicted: 4,
    predictedNow: 4,
    status: 'done',
    wasActive: false,
  });
  assert.equal(report.versions.find((v: { active: boolean }) => v.active).id, second.id);
  assert.equal(predictedBy(second.id), 4);

  // Back to the first by its number: a rollback.
  const back = cli(['models', '--db', db, '--activate', String(shipped.id)]);
  assert.equal(back.code, 0, back.stderr);
  // Its predictions are in the catalog from before: taken as stored, and said so.
  assert.match(
    back.stdout,
    /activated resnet9-mini; 4 photos without a human label take its predictions \(0 predicted now, the others it had predicted before\)/,
  );
  assert.equal(predictedBy(shipped.id), 4);
  // The version already active: said, not "activated".
  const again = cli(['models', '--db', db, '--activate', String(shipped.id)]);
  assert.match(again.stdout, /^resnet9-mini was already active; 4 photos without a human label take its predictions/m);

  const unknown = cli(['models', '--db', db, '--activate', 'resnet9-maxi']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: no model version "resnet9-maxi" in the catalog; it has .*\d+ resnet9-mini-ft1/);
  assert.ok(unknown.stderr.includes(`${shipped.id} resnet9-mini`), unknown.stderr);
});

test(
  'SIGKILL in the middle of an import, then the same command again: the job completes with every photo exactly once',
  { timeout: 600_000 },
  async () => {
    const dir = tempDir('cli-kill');
    const photos = path.join(dir, 'photos');
    const files = await writePackshots(data.test.images, 240, photos, { seed: 3 });
    const db = path.join(dir, 'catalog.sqlite');
    const out = path.join(dir, 'labels.csv');
    const args = ['classify', photos, '--db', db, '--out', out, '--json'];
    const env = { ...process.env, FASHION_SORTER_CACHE: dir };

    const child = spawn(process.execPath, [...CLI, ...args], { cwd: projectRoot, env, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let doneAtKill: number;
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        doneAtKill = count(db, `SELECT count(*) FROM import_files WHERE state = 'done'`);
      } catch {
        continue; // not created or not migrated yet
      }
      if (doneAtKill >= 30) break;
    }
    child.kill('SIGKILL');
    await exited;
    assert.ok(doneAtKill < 240, 'killed before the end');
    assert.ok(!fs.existsSync(out));

    // Another folder imported meanwhile says that the killed import did not finish, and how to finish it.
    const other = path.join(dir, 'other');
    await writePackshots(data.test.images.subarray(240 * 784), 3, other, { seed: 4 });
    const meanwhile = cli(['classify', other, '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(meanwhile.code, 0, meanwhile.stderr);
    assert.match(
      meanwhile.stderr,
      new RegExp(
        `^warning: an earlier import of ${photos} did not finish \\((\\d+) of the (\\d+) files it had found were imported\\); classify that folder again to finish it`,
        'm',
      ),
    );
    const unfinished = JSON.parse(cli(['classify', other, '--db', db, '--json'], { FASHION_SORTER_CACHE: dir }).stdout)
      .unfinishedImports as { folders: string[]; done: number; found: number }[];
    assert.equal(unfinished.length, 1);
    assert.deepEqual(unfinished[0]!.folders, [photos]);
    assert.ok(
      unfinished[0]!.done >= doneAtKill && unfinished[0]!.done < unfinished[0]!.found,
      JSON.stringify(unfinished),
    );

    const r = cli(args, { FASHION_SORTER_CACHE: dir });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.status, 'done');
    assert.equal(report.resumed, true);
    assert.equal(report.photos, 240);
    assert.equal(report.failed, 0);
    assert.equal(
      report.perCategory.reduce((n: number, c: { count: number }) => n + c.count, 0),
      240,
    );
    assert.deepEqual(report.unfinishedImports, []);
    assert.equal(count(db, `SELECT count(*) FROM import_jobs WHERE roots = '${JSON.stringify([photos])}'`), 1);
    assert.equal(count(db, 'SELECT count(*) FROM photos'), 243);
    assert.equal(count(db, 'SELECT count(*) FROM photo_paths'), 243);
    assert.equal(count(db, 'SELECT count(*) FROM photos WHERE prediction_id IS NULL'), 0);
    assert.equal(count(db, 'SELECT count(*) FROM predictions'), 243);

    // The CSV: one row per photo, parsed back by an independent parser.
    const rows = parse(fs.readFileSync(out), { columns: true }) as {
      path: string;
      category_id: string;
      category_name: string;
      confidence: string;
    }[];
    assert.deepEqual(rows.map((row) => row.path).sort(), [...files].sort());
    for (const row of rows) {
      assert.equal(row.category_name, CLASS_NAMES[Number(row.category_id)]);
      assert.ok(Number(row.confidence) > 0.1 && Number(row.confidence) <= 1);
    }
    const correct = rows.filter((row) => Number(row.category_id) === data.test.labels[files.indexOf(row.path)]).length;
    assert.ok(correct / rows.length > 0.85, `accuracy through the photo pipeline ${correct}/${rows.length}`);
  },
);

test(
  'Ctrl-C in the middle of an import: the photos in flight are finished, the summary says it was cancelled without a category table it has not predicted, and how to go on',
  { timeout: 600_000 },
  async () => {
    const dir = tempDir('cli-cancel');
    const photos = path.join(dir, 'photos');
    await writePackshots(data.test.images, 240, photos, { seed: 6 });
    const db = path.join(dir, 'catalog.sqlite');
    const child = spawn(process.execPath, [...CLI, 'classify', photos, '--db', db], {
      cwd: projectRoot,
      env: { ...process.env, FASHION_SORTER_CACHE: dir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      try {
        if (count(db, `SELECT count(*) FROM import_files WHERE state = 'done'`) >= 30) break;
      } catch {
        continue; // not created or not migrated yet
      }
    }
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    const done = count(db, `SELECT count(*) FROM import_files WHERE state = 'done'`);
    assert.ok(done < 240, 'cancelled before the end');
    assert.match(
      stdout,
      new RegExp(`^cancelled, having imported: ${done} photos from \\d+ files found so far, 0 failed`),
    );
    assert.doesNotMatch(stdout, /needs review:|T-shirt\/top/);
    assert.match(
      stderr,
      new RegExp(`error: cancelled after ${done} of \\d+ files; classify the same folders again to go on`),
    );
  },
);

test(
  'a photo the user may not read is a recorded error with the reason, and the others are imported',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-perm');
    const photos = path.join(dir, 'photos');
    await writePackshots(data.test.images, 3, photos);
    fs.chmodSync(path.join(photos, 'photo-00001.png'), 0o000);
    // root reads every file; run the import as an ordinary user to see what a user sees.
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    fs.chmodSync(dir, 0o777);
    const r = cli(
      ['classify', photos, '--db', path.join(dir, 'c.sqlite'), '--json'],
      { FASHION_SORTER_CACHE: dir, HOME: dir },
      asUser,
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.photos, 2);
    // A CSV in a folder the user may not write is found out before the import, not after it.
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o555 });
    const out = cli(
      ['classify', photos, '--db', path.join(dir, 'd.sqlite'), '--out', path.join(locked, 'x.csv')],
      { FASHION_SORTER_CACHE: dir, HOME: dir },
      asUser,
    );
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^error: cannot write .*locked\/x\.csv: permission denied/);
    assert.equal(fs.existsSync(path.join(dir, 'd.sqlite')), false, 'no catalog was made');
    assert.deepEqual(report.errors, [
      {
        path: path.join(photos, 'photo-00001.png'),
        reason: 'permission denied: your account cannot read this file; change its permissions and import again',
      },
    ]);
  },
);

test(
  'label applies a CSV of path,label (numbers or names, quoted paths) to the catalog; a bad row, or no row, stops it before anything is written',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-label');
    const photos = path.join(dir, 'photos');
    const files = await writePackshots(data.test.images, 6, photos, { seed: 8 });
    const odd = path.join(photos, 'shirt, "blue".jpg');
    fs.renameSync(files[5]!, odd);
    const db = path.join(dir, 'catalog.sqlite');
    assert.equal(cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir }).code, 0);

    const absent = cli(['label', '--db', db, '--csv', path.join(dir, 'nope.csv')]);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /^error: cannot read .*nope\.csv: there is no such file; check its path\n$/);

    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, `path,label\n${files[0]},Shirt\n${path.join(photos, 'missing.jpg')},1\n${files[1]},Jumper\n`);
    const refused = cli(['label', '--db', db, '--csv', bad]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /no labels were applied; fix these 2 rows of .*bad\.csv: line 3: .*missing\.jpg is not in the catalog; line 4: "Jumper" is not a category/,
    );
    assert.equal(count(db, 'SELECT count(*) FROM labels'), 0);

    const good = path.join(dir, 'labels.csv');
    // Paths relative to the CSV's folder work too; the odd name is quoted as RFC 4180 says.
    fs.writeFileSync(
      good,
      `path,label\n${files[0]},shirt\nphotos/${path.basename(files[1]!)},3\n"${odd.replace(/"/g, '""')}",Ankle boot\n`,
    );
    const applied = cli(['label', '--db', db, '--csv', good]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied 3 labels/);
    const labelOf = (file: string) =>
      count(
        db,
        `SELECT p.label FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id WHERE pp.path = '${file.replace(/'/g, "''")}'`,
      );
    assert.deepEqual(
      [labelOf(files[0]!), labelOf(files[1]!), labelOf(odd)],
      [CLASS_NAMES.indexOf('Shirt'), 3, CLASS_NAMES.indexOf('Ankle boot')],
    );
    assert.equal(count(db, 'SELECT count(*) FROM labels'), 3);
    // classify --out again: the reviewers' categories, not the model's guesses, and which is which.
    const again = path.join(dir, 'again.csv');
    const rerun = cli(['classify', photos, '--db', db, '--out', again], { FASHION_SORTER_CACHE: dir });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(
      rerun.stdout,
      /^imported: 6 photos from 6 files \(all unchanged since an earlier import: not read again\), 0 failed, in \S+\n/,
    );
    const written = parse(fs.readFileSync(again), { columns: true }) as Record<string, string>[];
    const rowOf = (file: string) => written.find((row) => row.path === file)!;
    assert.deepEqual(
      [files[0]!, files[1]!, odd].map((file) => [
        rowOf(file).category_name,
        rowOf(file).source,
        rowOf(file).confidence,
      ]),
      [
        ['Shirt', 'reviewer', ''],
        ['Dress', 'reviewer', ''],
        ['Ankle boot', 'reviewer', ''],
      ],
    );
    assert.equal(rowOf(files[2]!).source, 'model');
    assert.ok(Number(rowOf(files[2]!).confidence) > 0, 'the model row keeps its probability');

    // As a spreadsheet in a European locale saves it (a byte order mark, semicolons, capitalised headings),
    // with categories as people type them: plurals, short forms, the sorted folders' names.
    const excel = path.join(dir, 'excel.csv');
    fs.writeFileSync(
      excel,
      `\ufeffPath;Label\r\n${files[2]};sandals\r\n"${odd.replace(/"/g, '""')}";2\r\n${files[3]};T-shirt\r\n${files[4]};Ankle boots\r\n`,
    );
    const semicolons = cli(['label', '--db', db, '--csv', excel]);
    assert.equal(semicolons.code, 0, semicolons.stderr);
    assert.deepEqual(
      [labelOf(files[2]!), labelOf(odd), labelOf(files[3]!), labelOf(files[4]!)],
      [CLASS_NAMES.indexOf('Sandal'), 2, 0, 9],
    );

    // Excel's "Unicode text": UTF-16 with a byte order mark, tab-separated.
    const unicode = path.join(dir, 'unicode.txt');
    fs.writeFileSync(
      unicode,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`path\tlabel\r\n${files[2]}\tCoat\r\n`, 'utf16le')]),
    );
    const utf16 = cli(['label', '--db', db, '--csv', unicode]);
    assert.equal(utf16.code, 0, utf16.stderr);
    assert.equal(labelOf(files[2]!), CLASS_NAMES.indexOf('Coat'));

    // Numbers as spreadsheets write them; a number that is no category is still refused.
    const numbers = path.join(dir, 'numbers.csv');
    fs.writeFileSync(numbers, `path,label\n${files[3]},4.0\n${files[4]},07\n`);
    assert.equal(cli(['label', '--db', db, '--csv', numbers]).code, 0);
    assert.deepEqual([labelOf(files[3]!), labelOf(files[4]!)], [4, 7]);
    fs.writeFileSync(numbers, `path,label\n${files[3]},10\n${files[4]},4.5\n`);
    assert.match(
      cli(['label', '--db', db, '--csv', numbers]).stderr,
      /line 2: "10" is not a category .*; line 3: "4.5" is not a category/,
    );

    // Two rows that give one photo two categories contradict each other: refused, nothing written; the same twice is one label.
    fs.writeFileSync(numbers, `path,label\n${files[3]},Trouser\n${files[3]},Coat\n`);
    const contradicting = cli(['label', '--db', db, '--csv', numbers]);
    assert.equal(contradicting.code, 1);
    assert.match(contradicting.stderr, /line 3: Coat contradicts line 2, which gives the same photo Trouser/);
    assert.equal(labelOf(files[3]!), 4);
    fs.writeFileSync(numbers, `path,label\n${files[3]},Trouser\n${files[3]},trousers\n`);
    assert.match(cli(['label', '--db', db, '--csv', numbers]).stdout, /^applied 1 label /);
    assert.equal(labelOf(files[3]!), 1);

    // A file with its header alone, or nothing at all, was saved too early: said, and not "applied 0 labels".
    fs.writeFileSync(numbers, 'path,label\n');
    const headerOnly = cli(['label', '--db', db, '--csv', numbers]);
    assert.equal(headerOnly.code, 1);
    assert.match(headerOnly.stderr, /numbers\.csv has its header and no labels: add a row per photo/);
    fs.writeFileSync(numbers, '\n,,\n');
    assert.match(
      cli(['label', '--db', db, '--csv', numbers]).stderr,
      /numbers\.csv is empty: write a header path,label/,
    );

    // A bare file name names the one photo imported under it; a name two photos share needs its folder.
    const other = path.join(dir, 'other');
    await writePackshots(data.test.images, 1, other, { seed: 99 });
    assert.equal(cli(['classify', other, '--db', db], { FASHION_SORTER_CACHE: dir }).code, 0);
    const bare = path.join(dir, 'bare.csv');
    fs.writeFileSync(bare, `path,label\n${path.basename(files[1]!)},Bag\n`);
    const one = cli(['label', '--db', db, '--csv', bare]);
    assert.equal(one.code, 0);
    assert.match(one.stdout, /^applied 1 label from /);
    assert.equal(labelOf(files[1]!), CLASS_NAMES.indexOf('Bag'));
    fs.writeFileSync(bare, `path,label\n${path.basename(files[0]!)},Bag\n`);
    const shared = cli(['label', '--db', db, '--csv', bare]);
    assert.equal(shared.code, 1);
    assert.match(shared.stderr, /line 2: 2 photos in the catalog are named photo-00000\.jpg; give its folder too/);

    // A symbolic link is imported as the file it points to; its own name finds that photo too.
    fs.symlinkSync(files[0]!, path.join(dir, 'link.jpg'));
    fs.writeFileSync(bare, `path,label\nlink.jpg,Trouser\n`);
    const linked = cli(['label', '--db', db, '--csv', bare]);
    assert.equal(linked.code, 0, linked.stderr);
    assert.equal(labelOf(files[0]!), CLASS_NAMES.indexOf('Trouser'));
  },
);

test(
  "a catalog export goes back into label: a photo with no file left is named by its hash; a file the import could not read says why; a duplicated column or a row's two problems are said once",
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-label-roundtrip');
    const photos = path.join(dir, 'photos');
    const files = await writePackshots(data.test.images, 4, photos, { seed: 7 });
    const broken = path.join(photos, 'broken.jpg');
    fs.writeFileSync(broken, fs.readFileSync(files[0]!).subarray(0, 100));
    const db = path.join(dir, 'catalog.sqlite');
    const env = { FASHION_SORTER_CACHE: dir };
    assert.equal(cli(['classify', photos, '--db', db], env).code, 0);
    // The last file goes: its photo stays in the catalog with its prediction, and no path.
    fs.rmSync(files[3]!);
    assert.equal(cli(['classify', photos, '--db', db], env).code, 0);
    const exported = path.join(dir, 'export.csv');
    assert.equal(cli(['export', '--db', db, '--out', exported]).code, 0);
    const rows = parse(fs.readFileSync(exported), { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 4);
    assert.equal(rows.filter((row) => row.path === '').length, 1);
    // What a reviewer makes of it: the export with its category column called label, every photo a Bag.
    const header = Object.keys(rows[0]!).map((name) => (name === 'category_name' ? 'label' : name));
    const csv = (extra: string[] = []) =>
      [
        header.join(','),
        ...rows.map((row) => header.map((name) => (name === 'label' ? 'Bag' : row[name])).join(',')),
        ...extra,
      ].join('\n');
    const labels = path.join(dir, 'labels.csv');
    /** A row of that file for another path. */
    const row = (file: string, label: string) =>
      header.map((name) => (name === 'path' ? file : name === 'label' ? label : '')).join(',');
    fs.writeFileSync(labels, csv([row(broken, 'Bag')]));
    const refused = cli(['label', '--db', db, '--csv', labels]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: no labels were applied; fix this row of .*labels\.csv: line 6: .*broken\.jpg could not be imported \(.+\); mend it and classify its folder again, or leave the row out$/m,
    );
    fs.writeFileSync(labels, csv([row('nope.jpg', 'Jumper')]));
    const twoProblems = cli(['label', '--db', db, '--csv', labels]);
    assert.match(
      twoProblems.stderr,
      /fix this row of .*: line 6: nope\.jpg is not in the catalog, and "Jumper" is not a category/,
    );
    fs.writeFileSync(labels, 'path,label,label\nphoto.jpg,Bag,Coat\n');
    assert.match(cli(['label', '--db', db, '--csv', labels]).stderr, /labels\.csv has two label columns; keep one/);
    fs.writeFileSync(labels, csv());
    const applied = cli(['label', '--db', db, '--csv', labels]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^applied 4 labels from /);
    assert.equal(count(db, 'SELECT count(*) FROM photos WHERE label = 8'), 4);
  },
);

test(
  'relative paths mean the folder the command was typed in, also through `npm run cli` (which runs in the project folder)',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-relative');
    await writePackshots(data.test.images, 4, path.join(dir, 'my photos'), { seed: 5 });
    const r = spawnSync(
      'npm',
      [
        '--prefix',
        projectRoot,
        'run',
        '-s',
        'cli',
        '--',
        'classify',
        'my photos',
        '--db',
        'catalog.sqlite',
        '--out',
        'labels.csv',
        '--json',
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, FASHION_SORTER_CACHE: dir },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.db, path.join(dir, 'catalog.sqlite'));
    assert.equal(report.photos, 4);
    const rows = parse(fs.readFileSync(path.join(dir, 'labels.csv')), { columns: true }) as { path: string }[];
    assert.ok(
      rows.every((row) => row.path.startsWith(path.join(dir, 'my photos') + path.sep)),
      rows[0]?.path,
    );
  },
);

test("finetune, as the window's Improve model, refuses to learn again from the reviews its newest version learned from", () => {
  const dir = tempDir('cli-no-new-reviews');
  const db = path.join(dir, 'catalog.sqlite');
  const catalog = new Catalog(db);
  // A fine-tuned version trained on the whole label log as it is (empty here): nothing was reviewed since.
  catalog.models.registerModel({
    name: 'resnet9-mini-ft1',
    version: 'v1',
    dir: path.join(dir, 'ft1'),
    card: { fineTune: { labelLogId: catalog.labels.lastLogId() } },
  });
  catalog.close();
  const again = cli(['finetune', '--db', db], { FASHION_SORTER_CACHE: dir });
  assert.equal(again.code, 1);
  // Not the active version (the shipped one is): the message says it can be activated again.
  assert.equal(again.stderr, `error: ${noNewReviews('resnet9-mini-ft1', false)}\n`);
});

test(
  "the catalog's active model lost its files: classify says so and uses the shipped model; finetune stops at once with what to do",
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-gone-model');
    const db = path.join(dir, 'catalog.sqlite');
    const catalog = new Catalog(db);
    catalog.models.activateModel(
      catalog.models.registerModel({
        name: 'resnet9-mini-ft3',
        version: 'gone',
        dir: path.join(dir, 'deleted-model'),
        card: {},
      }).id,
    );
    catalog.close();
    const photos = path.join(dir, 'photos');
    await writePackshots(data.test.images, 2, photos);
    const classified = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(classified.code, 0, classified.stderr);
    assert.match(
      classified.stderr,
      /warning: the catalog's active model resnet9-mini-ft3 has no files at .*deleted-model \(moved or deleted\); classifying with the shipped model/,
    );
    assert.match(classified.stdout, /model resnet9-mini on /);
    const tuned = cli(['finetune', '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(tuned.code, 1);
    assert.match(
      tuned.stderr,
      /^error: the active model resnet9-mini-ft3 has no files at .*deleted-model \(moved or deleted\); make another version active/,
    );

    // The shipped model's own weights, recorded at a folder that is gone (a checkout that moved, another
    // install): the same model, found where this one keeps it, without a warning.
    const moved = new Catalog(db);
    moved.models.activateModel(
      moved.models.registerModel({
        name: 'resnet9-mini',
        version: modelVersion(defaultModelDir()),
        dir: path.join(dir, 'old-checkout', 'models', 'resnet9-mini'),
        card: {},
      }).id,
    );
    moved.close();
    const again = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /warning/);
  },
);

test(
  'the command line works from any folder, its worker threads included (they found tsx only from the project folder)',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('cli-elsewhere');
    await writePackshots(data.test.images, 2, path.join(dir, 'photos'));
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        import.meta.resolve('tsx'),
        path.join(projectRoot, 'electron', 'cli.ts'),
        'classify',
        'photos',
        '--db',
        'c.sqlite',
        '--json',
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, FASHION_SORTER_CACHE: dir },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).photos, 2);
  },
);
