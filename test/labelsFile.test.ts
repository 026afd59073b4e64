import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../electron/catalog/catalog.ts';
import { planSort } from '../electron/export/sortIntoFolders.ts';
import { importPhotos } from '../electron/photos/importJob.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { catalogAtVersion, testSet } from './helpers/catalogs.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';
import { CLASS_NAMES } from '../contract/categories.ts';
import { rawDb } from './helpers/rawSql.ts';

const ALL = { queue: 'all', rule: DEFAULT_REVIEW_RULE } as const;
// As a Mac names the file (decomposed: u and a combining diaeresis) and as a spreadsheet or a keyboard types it.
const NFD = 'Kleid_blu\u0308.jpg';
const NFC = 'Kleid_bl\u00fc.jpg';

test(
  "labels files as spreadsheets and Macs make them: composed and decomposed names are one name (labels, search, sort plans), blank rows are skipped, spaces at a cell's ends are trimmed or named",
  { timeout: 300_000 },
  async () => {
    const dir = tempDir('labels-file');
    const photos = path.join(dir, 'photos');
    const files = await writePackshots(testSet.images, 3, photos, { seed: 4 });
    const names = [NFD, 'Tasche.jpg', 'Hose.jpg'];
    files.forEach((file, i) => fs.renameSync(file, path.join(photos, names[i]!)));
    const db = path.join(dir, 'catalog.sqlite');
    const catalog = new Catalog(db);
    await importPhotos([photos], { catalog, thumbnailsDir: path.join(dir, 'thumbs') });
    catalog.close();

    const labels = path.join(dir, 'labels.csv');
    // Typed in a spreadsheet: the name composed, a space after a name, a full path composed, and the rows of
    // commas Excel leaves below the data.
    fs.writeFileSync(
      labels,
      `path,label\r\n${NFC},Dress\r\nTasche.jpg ,Bag \r\n${path.join(photos, NFC)},dress\r\nHose.jpg,Trouser\r\n,,,\r\n,,,\r\n`,
    );
    const applied = cli(['label', '--db', db, '--csv', labels]);
    assert.equal(applied.code, 0, applied.stderr);
    // Four rows, three photos: the name and the full path of one photo, with one category, are one label.
    assert.match(applied.stdout, /applied 3 labels/);
    const reopened = new Catalog(db);
    try {
      const labelOf = (name: string) =>
        rawDb(reopened)
          .prepare('SELECT p.label FROM photos p JOIN photo_paths pp ON pp.photo_id = p.id WHERE pp.path = ?')
          .pluck()
          .get(path.join(photos, name));
      assert.deepEqual(
        [labelOf(NFD), labelOf('Tasche.jpg'), labelOf('Hose.jpg')],
        [CLASS_NAMES.indexOf('Dress'), CLASS_NAMES.indexOf('Bag'), CLASS_NAMES.indexOf('Trouser')],
      );

      // Search: typed composed or pasted decomposed, the photo is found.
      for (const search of ['blü', 'blu\u0308', NFC, NFD])
        assert.equal(
          reopened.queries.photoPage({ ...ALL, search, sort: 'name', descending: false, offset: 0, limit: 10 }).total,
          1,
          JSON.stringify(search),
        );

      // A sort plan: a name already in the category's folder in the other normal form is the same name (on a
      // Mac, the same file), so the photo gets another.
      const dest = path.join(dir, 'sorted');
      fs.mkdirSync(path.join(dest, 'Dress'), { recursive: true });
      fs.writeFileSync(path.join(dest, 'Dress', NFC), 'another file');
      const plan = await planSort(reopened, { dest, mode: 'copy', selection: ALL });
      const target = plan.sample.find((s) => s.source === path.join(photos, NFD))!.target;
      assert.equal(target.normalize('NFC'), path.join(dest, 'Dress', 'Kleid_blü (2).jpg'));
    } finally {
      reopened.close();
    }

    // A name not in the catalog, with a space at its end: the message says so, as the space cannot be seen.
    fs.writeFileSync(labels, `path,label\nMantel.jpg ,Coat\nHose.jpg,\u00a0Jumpsuit\u00a0\nTasche.jpg,Bag,gift\n`);
    const refused = cli(['label', '--db', db, '--csv', labels]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /line 2: "Mantel\.jpg " \(with a space at its end\) is not in the catalog/);
    assert.match(
      refused.stderr,
      /line 3: "\u00a0Jumpsuit\u00a0" \(with a space at its start and end\) is not a category/,
    );
    assert.match(refused.stderr, /line 4: more cells than the header has columns \("gift"\)/);
  },
);

test('a catalog from before names were compared in one normal form: its decomposed names are found by their composed form', () => {
  const file = path.join(tempDir('nfc-migration'), 'catalog.sqlite');
  catalogAtVersion(
    file,
    4,
    `INSERT INTO photos (id, hash, size, format, width, height, name, added_at) VALUES (1, 'h', 1, 'jpeg', 1, 1, '${NFD}', 't');
    INSERT INTO photo_paths (photo_id, path, name, size, mtime_ms, seen_at) VALUES (1, '/photos/${NFD}', '${NFD}', 1, 1, 't');`,
  );
  const catalog = new Catalog(file);
  try {
    assert.equal(catalog.queries.photoAtPath(`/photos/${NFC}`), 1);
    assert.equal(catalog.queries.photoAtPath(`/photos/${NFD}`), 1);
    assert.deepEqual(catalog.queries.photosNamed(NFC), [1]);
    assert.equal(
      catalog.queries.photoPage({ ...ALL, search: 'blü', sort: 'name', descending: false, offset: 0, limit: 10 }).total,
      1,
    );
    assert.equal(
      rawDb(catalog).prepare('SELECT path FROM photo_paths').pluck().get(),
      `/photos/${NFD}`,
      'the path stays as the file system spells it',
    );
  } finally {
    catalog.close();
  }
});
