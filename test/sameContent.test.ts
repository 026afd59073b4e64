import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { PhotoSelection } from '../contract/api.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { exportCsvCounted } from '../electron/export/catalogExport.ts';
import { importPhotos } from '../electron/photos/importJob.ts';
import { MIGRATIONS } from '../electron/catalog/migrations.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { catalogAtVersion, sha256, testSet } from './helpers/catalogs.ts';
import { cli, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { CLASS_NAMES } from '../contract/categories.ts';
import { rawDb } from './helpers/rawSql.ts';

/** Every file under `dir`, relative to it, sorted. */
const filesUnder = (dir: string) =>
  (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();

test(
  "one packshot saved for two SKUs, and a link to a third photo: every file is a row of the export, is placed by a sort and moved by a move; the label is the photo's",
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('same-content');
    const photos = path.join(dir, 'photos');
    const [first, second] = await writePackshots(testSet.images, 2, path.join(dir, 'made'), { seed: 3 });
    fs.mkdirSync(photos);
    const sku = (n: number) => path.join(photos, `SKU-${n}.jpg`);
    fs.copyFileSync(first!, sku(1001));
    fs.copyFileSync(first!, sku(1002));
    fs.copyFileSync(second!, sku(1003));
    // A link beside the photo it points to: another name for the same file, not another file.
    fs.symlinkSync('SKU-1003.jpg', path.join(photos, 'alias.jpg'));
    const db = path.join(dir, 'catalog.sqlite');
    const classified = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(classified.code, 0, classified.stderr);
    assert.match(classified.stdout, /imported: 2 photos from 3 files, 0 failed/);

    // Labelling one SKU labels the photo, which is what the other SKU's file holds too.
    const labels = path.join(dir, 'labels.csv');
    fs.writeFileSync(labels, `path,label\n${sku(1001)},Bag\n`);
    assert.equal(cli(['label', '--db', db, '--csv', labels]).code, 0);

    const csv = path.join(dir, 'catalog.csv');
    const exported = cli(['export', '--db', db, '--out', csv]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(
      exported.stdout,
      /wrote 3 rows .*2 distinct photos: rows with the same hash are files with the same image/,
    );
    const rows = parse(fs.readFileSync(csv), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((r) => r.path).sort(), [sku(1001), sku(1002), sku(1003)]);
    const row = (n: number) => rows.find((r) => r.path === sku(n))!;
    assert.equal(row(1001).hash, row(1002).hash);
    assert.deepEqual(
      [row(1001).files_with_same_image, row(1002).files_with_same_image, row(1003).files_with_same_image],
      ['2', '2', '1'],
    );
    assert.deepEqual([row(1001).category_name, row(1002).category_name], ['Bag', 'Bag']);
    assert.deepEqual([row(1001).source, row(1002).source, row(1003).source], ['reviewer', 'reviewer', 'model']);

    const copies = path.join(dir, 'copies');
    const copied = cli(['sort', '--db', db, '--dest', copies]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(
      copied.stdout,
      /finished: 3 files copied into .* \(2 distinct photos\), 0 already there, 0 could not be sorted/,
    );
    const category1003 = CLASS_NAMES[Number(row(1003).category_id)]!.replace('/', '_');
    assert.deepEqual(
      filesUnder(copies),
      [`Bag/SKU-1001.jpg`, `Bag/SKU-1002.jpg`, `${category1003}/SKU-1003.jpg`].sort(),
    );
    assert.equal(sha256(path.join(copies, 'Bag', 'SKU-1002.jpg')), sha256(sku(1001)));
    // Sorting again writes nothing: each copy is already there for its own file.
    const again = cli(['sort', '--db', db, '--dest', copies]);
    // The distinct count goes with the files in all, not with the 0 copied this time.
    assert.match(
      again.stdout,
      /finished: 0 files copied into [^(]*, 3 already there \(3 files in all, 2 distinct photos\), 0 could not be sorted/,
    );
    assert.equal(filesUnder(copies).length, 3);

    const moved = path.join(dir, 'moved');
    const move = cli(['sort', '--db', db, '--dest', moved, '--move']);
    assert.equal(move.code, 0, move.stderr);
    assert.deepEqual(filesUnder(photos), [], "no file is left behind, the link's target included");
    assert.deepEqual(filesUnder(moved), filesUnder(copies));
    assert.equal(
      count(db, `SELECT count(*) FROM photo_paths WHERE path LIKE ? || '%'`, moved + path.sep),
      3,
      'the catalog follows every file',
    );
  },
);

test('a catalog from before files were sorted one by one opens, its sort journal kept', () => {
  const file = path.join(tempDir('sort-files-migration'), 'catalog.sqlite');
  catalogAtVersion(
    file,
    3,
    `INSERT INTO photos (id, hash, size, format, width, height, name, added_at) VALUES (1, 'h', 1, 'jpeg', 1, 1, 'a.jpg', 't');
    INSERT INTO sort_jobs (id, dest, mode, folders, status, created_at) VALUES (1, '/d', 'copy', '[]', 'done', 't');
    INSERT INTO sort_files (job_id, photo_id, source, target, state) VALUES (1, 1, '/p/a.jpg', '/d/Bag/a.jpg', 'done');`,
  );
  const catalog = new Catalog(file);
  try {
    assert.equal(rawDb(catalog).pragma('user_version', { simple: true }), MIGRATIONS.length);
    assert.deepEqual(
      rawDb(catalog).prepare('SELECT job_id, photo_id, source, target, state FROM sort_files').raw().all(),
      [[1, 1, '/p/a.jpg', '/d/Bag/a.jpg', 'done']],
    );
    // A second file of the same photo is a row of its own now; a second row for the same source is not.
    rawDb(catalog)
      .prepare(`INSERT INTO sort_files (job_id, photo_id, source, target) VALUES (1, 1, '/p/b.jpg', '/d/Bag/b.jpg')`)
      .run();
    assert.throws(
      () =>
        rawDb(catalog)
          .prepare(
            `INSERT INTO sort_files (job_id, photo_id, source, target) VALUES (1, 1, '/p/b.jpg', '/d/Bag/c.jpg')`,
          )
          .run(),
      /UNIQUE/,
    );
  } finally {
    catalog.close();
  }
});

test(
  'the counts the Export dialog shows for every queue, category and name filter are the rows, files and distinct photos of the CSVs it writes',
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('selection-counts');
    const photos = path.join(dir, 'photos');
    const made = await writePackshots(testSet.images, 6, path.join(dir, 'made'), { seed: 7 });
    fs.mkdirSync(photos);
    const sku = (n: number) => path.join(photos, `SKU-${n}.jpg`);
    // One packshot for two SKUs, three photos of their own; then SKU-1004 is edited in place (another photo),
    // so its first photo keeps its labels and its row, with no file left.
    [0, 0, 1, 2, 3].forEach((k, i) => fs.copyFileSync(made[k]!, sku(1001 + i)));
    const db = path.join(dir, 'catalog.sqlite');
    assert.equal(cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir }).code, 0);
    fs.copyFileSync(made[4]!, sku(1004));
    assert.equal(cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir }).code, 0);
    const labels = path.join(dir, 'labels.csv');
    fs.writeFileSync(labels, `path,label\n${sku(1001)},Bag\n${sku(1005)},Dress\n`);
    assert.equal(cli(['label', '--db', db, '--csv', labels]).code, 0);
    // And a photo no model has predicted yet: no category, so no Fashion-MNIST row.
    const catalog = new Catalog(db);
    try {
      const unpredicted = path.join(dir, 'unpredicted');
      fs.mkdirSync(unpredicted);
      fs.copyFileSync(made[5]!, path.join(unpredicted, 'new.jpg'));
      await importPhotos([unpredicted], { catalog, thumbnailsDir: path.join(dir, 'thumbs') });
      assert.deepEqual([catalog.queries.categoryCounts().total, catalog.queries.fileCount()], [6, 6]);
      // The command line says so beside either layout (the window's Export dialog says the same).
      const out = path.join(dir, 'cli.csv');
      assert.match(
        cli(['export', '--db', db, '--out', out]).stdout,
        /^1 photo has no category yet \(no model has predicted it; an import may still be running, or stopped before it finished: importing its folders again finishes it\): the category columns of its rows are empty$/m,
      );
      assert.match(
        cli(['export', '--db', db, '--out', out, '--format', 'fashion-mnist']).stdout,
        /^1 photo has no category yet .*: left out$/m,
      );
      assert.doesNotMatch(cli(['export', '--db', db, '--out', out, '--reviewed-only']).stdout, /no category/);

      const selections: Omit<PhotoSelection, 'queue'>[] = [
        { rule: DEFAULT_REVIEW_RULE },
        { rule: { minConfidence: 0.99, hardGroupMargin: 0.9 } },
        { search: 'SKU-100', rule: DEFAULT_REVIEW_RULE },
        ...Array.from({ length: 10 }, (_, category) => ({
          category,
          rule: { minConfidence: 0.99, hardGroupMargin: 0.9 },
        })),
      ];
      for (const selection of selections) {
        const counts = catalog.queries.selectionCounts(selection);
        for (const queue of ['all', 'reviewed', 'needsReview'] as const) {
          const chosen = { ...selection, queue };
          const csv = path.join(dir, 'out.csv');
          const written = await exportCsvCounted(catalog, csv, { format: 'catalog', selection: chosen, bom: false });
          const rows = parse(fs.readFileSync(csv), { columns: true }) as Record<string, string>[];
          const mnist = await exportCsvCounted(catalog, csv, {
            format: 'fashion-mnist',
            selection: chosen,
            bom: false,
          });
          const what = `${queue} ${JSON.stringify(selection)}`;
          assert.deepEqual(
            counts[queue],
            {
              photos: written.photos,
              files: rows.filter((r) => r.path !== '').length,
              catalogRows: written.rows,
              fashionMnistRows: mnist.rows,
            },
            what,
          );
          assert.equal(counts[queue].photos, catalog.queries.photoIds(chosen).length, what);
        }
      }
      const all = catalog.queries.selectionCounts({ rule: DEFAULT_REVIEW_RULE }).all;
      assert.deepEqual(
        all,
        { photos: 6, files: 6, catalogRows: 7, fashionMnistRows: 5 },
        'one packshot twice, one photo without a file, one without a category',
      );
    } finally {
      catalog.close();
    }
  },
);
