import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createServices } from '../electron/app/services.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { callValidated } from '../electron/ipc.ts';
import { folderNameProblems } from '../contract/folderNames.ts';
import { filesByHash, testSet, unsureCatalog } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

test('excludeNeedsReview: counts, the CSV and the sort plan leave out exactly the photos that still need review', async () => {
  const dir = tempDir('leave-out');
  const { db, paths, hashes, guess: wrong } = await unsureCatalog(dir);
  const dest = path.join(dir, 'sorted');
  const services = createServices({
    catalogFile: db,
    thumbnailsDir: path.join(dir, 'thumbs'),
    chooseDestination: async () => dest,
  });
  try {
    const rule = { ...DEFAULT_REVIEW_RULE };
    const all = await services.api.selectionCounts({ rule });
    const kept = await services.api.selectionCounts({ rule, excludeNeedsReview: true });
    assert.equal(all.needsReview.photos, 2);
    assert.deepEqual(kept.all, { photos: 10, files: 10, catalogRows: 10, fashionMnistRows: 10 });
    assert.equal(kept.needsReview.photos, 0);
    assert.deepEqual(kept.reviewed, all.reviewed);
    // Within one category: the 23 % guess's category holds it and whatever was labeled there.
    const inCategory = await services.api.selectionCounts({ rule, category: wrong(0), excludeNeedsReview: true });
    const labeledThere = testSet.labels.subarray(0, 12).filter((l, i) => i > 2 && l === wrong(0)).length;
    const guessedThere = wrong(2) === wrong(0) ? 1 : 0;
    assert.equal(inCategory.all.photos, labeledThere + guessedThere);

    const csv = path.join(dir, 'kept.csv');
    const selection = { queue: 'all' as const, rule, excludeNeedsReview: true };
    const written = await services.operations.exportCsv(csv, { format: 'catalog', selection, bom: false });
    assert.equal(written.rows, 10);
    const text = fs.readFileSync(csv, 'utf8');
    assert.ok(!text.includes(path.basename(paths[0]!)) && !text.includes(path.basename(paths[1]!)));
    assert.ok(text.includes(path.basename(paths[2]!)));
    const mnist = await services.operations.exportCsv(path.join(dir, 'kept-mnist.csv'), {
      format: 'fashion-mnist',
      selection,
      bom: false,
    });
    assert.equal(mnist.rows, 10);

    await services.api.chooseSortDestination();
    const folders = [...DEFAULT_FOLDER_NAMES];
    assert.equal((await services.api.previewSort({ mode: 'copy', selection, folders })).photos, 10);
    assert.equal(
      (
        await services.api.previewSort({
          mode: 'copy',
          selection: { ...selection, excludeNeedsReview: false },
          folders,
        })
      ).photos,
      12,
    );
    const result = await services.operations.sort({ dest, mode: 'copy', selection, folders });
    assert.equal(result.status, 'done');
    const sorted = filesByHash(dest);
    assert.deepEqual([...sorted.keys()].sort(), hashes.slice(2).sort());
    assert.equal(path.basename(path.dirname(sorted.get(hashes[2]!)![0]!)), folders[wrong(2)]);

    await assert.rejects(
      callValidated(services.api, 'selectionCounts', [{ rule, excludeNeedsReview: 'yes' }]),
      /invalid arguments for selectionCounts: 0\.excludeNeedsReview/,
    );
  } finally {
    await services.close();
  }
});

test('folder names: each problem in plain words, beside the category it belongs to', () => {
  const names = [...DEFAULT_FOLDER_NAMES];
  assert.deepEqual(folderNameProblems(names), Array(10).fill(null));
  const bad = [...names];
  bad[8] = '';
  bad[4] = 'a:b';
  bad[2] = 'tops.';
  bad[3] = 'CON';
  bad[9] = 'trouser';
  const problems = folderNameProblems(bad);
  assert.equal(problems[8], 'Give this folder a name.');
  assert.equal(problems[4], 'Some systems refuse : in a folder name.');
  assert.match(problems[2]!, /cannot end with a dot or a space/);
  assert.match(problems[3]!, /Windows keeps "CON" for a device/);
  assert.equal(problems[9], 'Trouser already has this folder; give each category its own.');
  assert.equal(problems[0], null);
});
