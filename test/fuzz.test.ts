import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'node:test';
import sharp from 'sharp';
import { Catalog } from '../electron/catalog/catalog.ts';
import {
  DatasetError,
  loadFashionMnist,
  loadFromDir,
  parseKaggleCsv,
  PIXELS,
} from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { idxFiles } from './helpers/dataset.ts';
import { tempDir } from './helpers/photos.ts';
import { rawDb } from './helpers/rawSql.ts';
import { importPredicted } from './helpers/catalogs.ts';

const data = await loadFashionMnist({ allowDownload: false });
const random = seededRandom(20261122);
const below = (n: number) => Math.floor(random() * n);

/** One seeded mutation of a file's bytes: flipped bits, a cut, a duplicated or zeroed stretch, inserted bytes. */
function mutate(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  switch (below(6)) {
    case 0: // flip bits anywhere, headers included
      for (let i = 1 + below(20); i > 0; i--) out[below(out.length)]! ^= 1 << below(8);
      return out;
    case 1: // flip bits in the first 64 bytes, where the headers and sizes live
      for (let i = 1 + below(6); i > 0; i--) out[below(Math.min(64, out.length))]! ^= 1 << below(8);
      return out;
    case 2:
      return out.subarray(0, below(out.length));
    case 3: {
      const start = below(out.length);
      return Buffer.concat([out.subarray(0, start), out.subarray(start, start + below(4096)), out.subarray(start)]);
    }
    case 4: {
      const start = below(out.length);
      out.fill(below(2) ? 0 : 0xff, start, Math.min(out.length, start + below(2048)));
      return out;
    }
    default: {
      const start = below(out.length);
      return Buffer.concat([
        out.subarray(0, start),
        Buffer.from(Array.from({ length: 1 + below(64) }, () => below(256))),
        out.subarray(start),
      ]);
    }
  }
}

test(
  'fuzzing the import: 320 mutated JPEG, PNG, WebP and TIFF photos; no crash, every file imported or a recorded error with a reason',
  { timeout: 600_000 },
  async (t) => {
    const dir = tempDir('fuzz-import');
    const seeds = await writePackshots(data.test.images, 4, path.join(dir, 'seeds'), {
      format: 'png',
      size: { width: 300, height: 360 },
      seed: 9,
    });
    const formats = {
      jpg: (s: sharp.Sharp) => s.jpeg(),
      png: (s: sharp.Sharp) => s.png(),
      webp: (s: sharp.Sharp) => s.webp(),
      tif: (s: sharp.Sharp) => s.tiff(),
    };
    const photos = path.join(dir, 'photos');
    fs.mkdirSync(photos);
    let written = 0;
    for (const [ext, encode] of Object.entries(formats)) {
      for (const [k, seed] of seeds.entries()) {
        const original = await encode(sharp(seed)).toBuffer();
        for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(photos, `${ext}-${k}-${i}.${ext}`), mutate(original));
        written += 20;
      }
    }
    const catalog = new Catalog(path.join(dir, 'catalog.sqlite'));
    try {
      const { result } = await importPredicted(catalog, photos, path.join(dir, 'thumbs'), { withCard: false });
      t.diagnostic(`${written} mutated files: ${result.counts.done} imported, ${result.counts.failed} recorded errors`);
      assert.equal(result.status, 'done');
      assert.equal(result.counts.found, written);
      assert.equal(result.counts.done + result.counts.failed, written, 'every file is accounted for');
      assert.ok(result.counts.done > 0 && result.counts.failed > 0, 'the corpus has both readable and broken files');
      for (const error of result.errors) {
        assert.ok(
          error.reason.length > 10 && !/\n| {4}at /.test(error.reason),
          `a reason a person can read: ${JSON.stringify(error.reason)}`,
        );
      }
      // Every imported photo has its input, a prediction, a thumbnail; the database is whole.
      const one = (sql: string) => rawDb(catalog).prepare(sql).pluck().get() as number;
      assert.equal(one('SELECT count(*) FROM photos WHERE id NOT IN (SELECT photo_id FROM photo_inputs)'), 0);
      assert.equal(one('SELECT count(*) FROM photos WHERE prediction_id IS NULL'), 0);
      assert.equal(rawDb(catalog).pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(rawDb(catalog).pragma('foreign_key_check'), []);
    } finally {
      catalog.close();
    }
  },
);

test(
  'fuzzing the dataset loaders: 300 mutated IDX (raw and gzip) and Kaggle CSV files load or fail with a DatasetError naming the file',
  { timeout: 300_000 },
  (t) => {
    const dir = tempDir('fuzz-dataset');
    const valid = idxFiles(data, { train: 50, test: 50 });
    const names = Object.keys(valid);
    const outcomes = { loaded: 0, refused: 0 };
    const expectLoadedOrRefused = (run: () => unknown, file: string) => {
      try {
        run();
        outcomes.loaded++;
      } catch (err) {
        assert.ok(err instanceof DatasetError, `${file}: ${(err as Error).stack}`);
        assert.ok(err.message.includes(path.basename(file)), err.message);
        outcomes.refused++;
      }
    };
    for (let i = 0; i < 200; i++) {
      const folder = path.join(dir, `idx-${i}`);
      fs.mkdirSync(folder);
      const victim = names[below(names.length)]!;
      const gzip = i % 2 === 1;
      for (const name of names) {
        const bytes = name === victim ? mutate(gzip ? zlib.gzipSync(valid[name]!) : valid[name]!) : valid[name]!;
        fs.writeFileSync(path.join(folder, name === victim && gzip ? `${name}.gz` : name), bytes);
      }
      expectLoadedOrRefused(() => loadFromDir(folder), victim);
    }
    const header = `label,${Array.from({ length: PIXELS }, (_, i) => `pixel${i + 1}`).join(',')}\n`;
    const rows = Array.from(
      { length: 20 },
      (_, r) => `${data.test.labels[r]},${data.test.images.subarray(r * PIXELS, (r + 1) * PIXELS).join(',')}\n`,
    ).join('');
    for (let i = 0; i < 100; i++) {
      const file = path.join(dir, `kaggle-${i}.csv`);
      const text = mutate(Buffer.from(header + rows)).toString('utf8');
      expectLoadedOrRefused(() => parseKaggleCsv(text, file), file);
    }
    t.diagnostic(
      `300 mutated dataset files: ${outcomes.loaded} loaded, ${outcomes.refused} refused with a DatasetError`,
    );
    assert.ok(outcomes.refused > 150);
  },
);
