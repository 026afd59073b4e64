import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../electron/catalog/catalog.ts';
import { loadFashionMnist, parseKaggleCsv, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { CATALOG_COLUMNS } from '../electron/export/catalogExport.ts';
import { checkAgainstCatalog, pythonRows } from '../bench/export.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { cli, count } from './helpers/cli.ts';
import { withSmallDrive } from './helpers/drives.ts';
import { tempDir } from './helpers/photos.ts';
import { rawDb } from './helpers/rawSql.ts';

const data = await loadFashionMnist({ allowDownload: false });

// A catalog of 24 photos, some with names that break careless CSV writers or run as spreadsheet formulas.
const dir = tempDir('export');
const photos = path.join(dir, 'photos');
const files = await writePackshots(data.test.images, 24, path.join(photos, 'shoot 1'), { seed: 11 });
const ODD_NAMES = [
  '=HYPERLINK("evil").jpg',
  '+SUM(A1).png',
  '-2+3.jpg',
  '@cmd.png',
  '\tTabbed.jpg',
  'comma, "quoted".png',
  'Jäckchen 夹克 👕.jpg',
  'new\nline.png',
];
ODD_NAMES.forEach((name, i) => fs.renameSync(files[i]!, path.join(photos, 'shoot 1', name)));
const db = path.join(dir, 'catalog.sqlite');
const classified = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
assert.equal(classified.code, 0, classified.stderr);
{
  const catalog = new Catalog(db);
  // Reviewers label eight photos (two of them twice: the latest label and its reviewer count).
  const ids = rawDb(catalog).prepare('SELECT id FROM photos ORDER BY id').pluck().all() as number[];
  catalog.labels.setLabels(
    ids.slice(0, 8).map((photoId, i) => ({ photoId, label: i % 10 })),
    'ana',
  );
  catalog.labels.setLabels(
    ids.slice(0, 2).map((photoId) => ({ photoId, label: 6 })),
    'bo, "the second"',
  );
  catalog.close();
}

/** What a cell that spreadsheets would run as a formula becomes: the same text behind an apostrophe. */
const neutralised = (text: string) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text);

test('the catalog CSV, read back by Python, has every field equal to the catalog, formulas neutralised and odd names intact', () => {
  const out = path.join(dir, 'catalog.csv');
  const r = cli(['export', '--db', db, '--out', out, '--bom']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote 24 rows/);
  // As the window's Export dialog does, it says how many rows carry the model's guess for a photo still in review:
  // as many as the review queue's own export has.
  const unsure = Number(
    /(\d+) of these photos still need review: their category is the model's guess/.exec(r.stdout)?.[1],
  );
  const queue = cli(['export', '--db', db, '--out', path.join(dir, 'queue.csv'), '--needs-review']);
  assert.equal(queue.code, 0, queue.stderr);
  assert.ok(unsure > 0, r.stdout);
  assert.match(queue.stdout, new RegExp(`wrote ${unsure} rows`));
  assert.doesNotMatch(queue.stdout, /still need review/, 'the review queue chosen as such needs no warning');
  assert.deepEqual([...fs.readFileSync(out).subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte order mark for Excel');
  const [header, ...rows] = pythonRows(out);
  assert.deepEqual(header, CATALOG_COLUMNS);
  // Every field, as Python read it, against the catalog's own tables.
  const catalog = new Catalog(db);
  try {
    const check = checkAgainstCatalog(out, catalog, photos);
    assert.equal(check.mismatches, 0, check.firstMismatch ?? '');
    assert.equal(check.fieldsChecked, (rows.length + 1) * CATALOG_COLUMNS.length);
    assert.equal(rows.length, catalog.queries.categoryCounts().total);
  } finally {
    catalog.close();
  }
  const names = rows.map((cells) => cells[2]);
  for (const name of ODD_NAMES) assert.ok(names.includes(neutralised(name)), `${JSON.stringify(name)} comes back`);
  assert.deepEqual(rows.filter((cells) => cells[14] === 'bo, "the second"').length, 2);
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary file is left',
  );
});

test('filters: reviewed only, the review queue, one category; the counts match the catalog', () => {
  const rowsOf = (args: string[]) => {
    const out = path.join(dir, 'filtered.csv');
    const r = cli(['export', '--db', db, '--out', out, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return pythonRows(out).slice(1);
  };
  assert.equal(rowsOf(['--reviewed-only']).length, 8);
  assert.ok(rowsOf(['--reviewed-only']).every((cells) => cells[6] === 'reviewer'));
  const shirts = rowsOf(['--category', 'shirt']);
  assert.equal(shirts.length, count(db, 'SELECT count(*) FROM photos WHERE category = 6'));
  assert.ok(shirts.every((cells) => cells[4] === '6'));
  const queue = rowsOf(['--needs-review']);
  assert.ok(queue.every((cells) => cells[6] === 'model'));
  assert.equal(
    queue.length,
    count(
      db,
      `SELECT count(*) FROM photos WHERE label IS NULL AND (confidence < 0.7 OR (predicted_label IN (0,2,4,6) AND runner_up IN (0,2,4,6) AND margin < 0.3))`,
    ),
  );
});

test('the Fashion-MNIST CSV is the Kaggle layout and reads back through the project loader with the stored inputs', () => {
  const out = path.join(dir, 'fashion-mnist.csv');
  const r = cli(['export', '--db', db, '--out', out, '--format', 'fashion-mnist', '--reviewed-only']);
  assert.equal(r.code, 0, r.stderr);
  const text = fs.readFileSync(out, 'utf8');
  assert.ok(
    text.startsWith(`label,${Array.from({ length: PIXELS }, (_, i) => `pixel${i + 1}`).join(',')}\r\n`),
    'RFC 4180 line ends',
  );
  const set = parseKaggleCsv(text, out);
  const catalog = new Catalog(db);
  const stored = catalog.labels.labeledInputs();
  catalog.close();
  assert.equal(set.count, 8);
  assert.deepEqual(set.labels, stored.labels);
  assert.deepEqual(set.images, stored.pixels);
});

test('bad requests: unknown format or category is a usage error; a missing catalog or folder says so and leaves nothing', () => {
  assert.equal(cli(['export', '--db', db, '--out', path.join(dir, 'x.csv'), '--format', 'xlsx']).code, 2);
  assert.equal(cli(['export', '--db', db, '--out', path.join(dir, 'x.csv'), '--category', 'Jumper']).code, 2);
  // Usage errors in words, with the command's own usage (not every command's).
  for (const [args, problem] of [
    [['export', '--db', '--out', 'x.csv'], '--db needs a value'],
    [['export', '--frobnicate'], 'there is no option --frobnicate for this command'],
    [['export', '--bom=yes'], '--bom takes no value'],
  ] as const) {
    const r = cli([...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`${problem}\n\nUsage: npm run cli -- export --db FILE --out FILE`), r.stderr);
    assert.doesNotMatch(r.stderr, /sort --db|Did you forget|positional/);
  }
  // A negative number after an option is taken for an option by Node's parser: the message says how to write it.
  const negative = cli(['finetune', '--db', db, '--epochs', '-1']);
  assert.equal(negative.code, 2);
  assert.ok(
    negative.stderr.startsWith('--epochs needs a value; a negative one is written --epochs=-1\n'),
    negative.stderr,
  );
  const written = cli(['finetune', '--db', db, '--epochs=-1']);
  assert.equal(written.code, 2);
  assert.match(written.stderr, /--epochs/);
  const noCatalog = cli(['export', '--db', path.join(dir, 'none.sqlite'), '--out', path.join(dir, 'x.csv')]);
  assert.equal(noCatalog.code, 1);
  assert.match(noCatalog.stderr, /no catalog at .*none\.sqlite; run classify first/);
  assert.ok(!fs.existsSync(path.join(dir, 'none.sqlite')));
  // An empty file is no catalog either (SQLite would take it for a new one and write a schema into it).
  const empty = path.join(dir, 'empty.sqlite');
  fs.writeFileSync(empty, '');
  const emptyFile = cli(['export', '--db', empty, '--out', path.join(dir, 'x.csv')]);
  assert.equal(emptyFile.code, 1);
  assert.match(emptyFile.stderr, /no catalog at .*empty\.sqlite \(the file is empty\); run classify first/);
  assert.equal(fs.statSync(empty).size, 0);
  const noFolder = cli(['export', '--db', db, '--out', path.join(dir, 'missing', 'x.csv')]);
  assert.equal(noFolder.code, 1);
  assert.match(noFolder.stderr, /cannot write .*missing\/x\.csv: the folder .*missing does not exist/);
  const aFolder = cli(['export', '--db', db, '--out', dir]);
  assert.equal(aFolder.code, 1);
  assert.equal(
    aFolder.stderr.trim(),
    `error: cannot write ${dir}: it is a folder; give a file name in it, such as ${path.join(dir, 'labels.csv')}`,
  );
  // A slip of the keyboard must not replace the catalog (every review in it) with a CSV.
  const before = fs.readFileSync(db);
  const overCatalog = cli(['export', '--db', db, '--out', db]);
  assert.equal(overCatalog.code, 1);
  assert.equal(
    overCatalog.stderr.trim(),
    `error: will not replace ${db}: it is not a text file (a catalog, a photo?); choose another name for the CSV`,
  );
  assert.ok(fs.readFileSync(db).equals(before), 'the catalog is untouched');
});

test('the disk fills up while exporting: a clear message, and no partial file', { timeout: 120_000 }, async (t) => {
  await withSmallDrive(t, path.join(dir, 'small'), 'size=8k', (small) => {
    const r = cli(['export', '--db', db, '--out', path.join(small, 'pixels.csv'), '--format', 'fashion-mnist']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot write .*small\/pixels\.csv: the disk is full; free some space and try again/);
    assert.deepEqual(fs.readdirSync(small), []);
  });
});
