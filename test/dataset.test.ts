import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  DatasetError,
  OFFICIAL_SHA256,
  PIXELS,
  download,
  loadFashionMnist,
  loadFromDir,
  parseIdxImages,
  parseIdxLabels,
  parseKaggleCsv,
} from '../electron/dataset/fashionMnist.ts';

/** IDX bytes for `count` images whose pixels encode their index, and labels i % 10. */
function idxImages(count: number, declared = count): Buffer {
  const buf = Buffer.alloc(16 + count * PIXELS);
  buf.writeUInt32BE(0x803, 0);
  buf.writeUInt32BE(declared, 4);
  buf.writeUInt32BE(28, 8);
  buf.writeUInt32BE(28, 12);
  for (let i = 0; i < count; i++) buf.fill(i % 256, 16 + i * PIXELS, 16 + (i + 1) * PIXELS);
  return buf;
}
function idxLabels(count: number, labelOf = (i: number) => i % 10): Buffer {
  const buf = Buffer.alloc(8 + count);
  buf.writeUInt32BE(0x801, 0);
  buf.writeUInt32BE(count, 4);
  for (let i = 0; i < count; i++) buf[8 + i] = labelOf(i);
  return buf;
}
function writeIdxDir(dir: string, gz: boolean) {
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, Buffer][] = [
    ['train-images-idx3-ubyte', idxImages(30)],
    ['train-labels-idx1-ubyte', idxLabels(30)],
    ['t10k-images-idx3-ubyte', idxImages(12)],
    ['t10k-labels-idx1-ubyte', idxLabels(12)],
  ];
  for (const [name, bytes] of files)
    fs.writeFileSync(path.join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-dataset-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('IDX files', () => {
  for (const gz of [true, false]) {
    test(`loads a folder of ${gz ? 'gzipped' : 'raw'} IDX files`, () => {
      const dir = path.join(tmp, gz ? 'gz' : 'raw');
      writeIdxDir(dir, gz);
      const data = loadFromDir(dir)!;
      assert.equal(data.train.count, 30);
      assert.equal(data.test.count, 12);
      assert.equal(data.train.images[7 * PIXELS + 100], 7);
      assert.equal(data.train.labels[13], 3);
      assert.equal(data.official, false);
      assert.match(data.checksums['train-images-idx3-ubyte']!, /^[0-9a-f]{64}$/);
    });
  }

  test('a bad magic number names the file and the problem', () => {
    const bytes = idxImages(2);
    bytes.writeUInt32BE(0x801, 0);
    assert.throws(
      () => parseIdxImages(bytes, 'x.idx'),
      (e: Error) =>
        e instanceof DatasetError && /x\.idx: bad magic number 0x00000801, expected 0x00000803/.test(e.message),
    );
    assert.throws(
      () => parseIdxLabels(idxImages(1), 'y.idx'),
      /y\.idx: bad magic number 0x00000803, expected 0x00000801/,
    );
  });

  test('a wrong count or a truncated file is caught', () => {
    assert.throws(() => parseIdxImages(idxImages(3, 4), 'a'), /a: header says 4 images .* but the file has/);
    assert.throws(() => parseIdxImages(idxImages(3).subarray(0, 16 + PIXELS * 2 + 5), 'b'), /b: header says 3 images/);
    assert.throws(() => parseIdxImages(Buffer.alloc(5), 'c'), /c: is too short/);
    const labels = idxLabels(5).subarray(0, 10);
    assert.throws(() => parseIdxLabels(labels, 'd'), /d: header says 5 labels but the file has 2/);
  });

  test('a label out of range is caught with its index', () => {
    assert.throws(
      () =>
        parseIdxLabels(
          idxLabels(5, (i) => (i === 3 ? 12 : 0)),
          'l',
        ),
      /l: label 12 at index 3 is out of range 0\.\.9/,
    );
  });

  test('a truncated gzip file fails with the file name', () => {
    const dir = path.join(tmp, 'badgz');
    writeIdxDir(dir, true);
    const file = path.join(dir, 'train-labels-idx1-ubyte.gz');
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 20));
    assert.throws(
      () => loadFromDir(dir),
      (e: Error) => e.message.includes('train-labels-idx1-ubyte.gz') && /not a valid gzip/.test(e.message),
    );
  });

  test('images and labels of different counts are caught', () => {
    const dir = path.join(tmp, 'mismatch');
    writeIdxDir(dir, false);
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxLabels(11));
    assert.throws(() => loadFromDir(dir), /has 11 labels but .* has 12 images/);
  });

  test('a folder missing some files says which', () => {
    const dir = path.join(tmp, 'partial');
    writeIdxDir(dir, false);
    fs.rmSync(path.join(dir, 't10k-images-idx3-ubyte'));
    assert.throws(() => loadFromDir(dir), /is missing t10k-images-idx3-ubyte/);
  });

  test('an explicit --data folder that does not exist or is empty fails clearly', async () => {
    await assert.rejects(loadFashionMnist({ dataDir: path.join(tmp, 'nope') }), /nope: does not exist/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    await assert.rejects(
      loadFashionMnist({ dataDir: path.join(tmp, 'empty') }),
      /holds neither the four Fashion-MNIST IDX files nor/,
    );
  });
});

describe('Kaggle CSV layout', () => {
  const header = ['label', ...Array.from({ length: PIXELS }, (_, i) => `pixel${i + 1}`)].join(',');
  const row = (label: number | string, value = 0) => [label, ...new Array(PIXELS).fill(value)].join(',');

  test('parses label,pixel1..pixel784 rows', () => {
    const set = parseKaggleCsv(`${header}\n${row(3, 9)}\n${row(7, 255)}\n`, 'k.csv');
    assert.equal(set.count, 2);
    assert.deepEqual([...set.labels], [3, 7]);
    assert.equal(set.images[PIXELS + 5], 255);
    assert.equal(set.images[5], 9);
  });

  test('loads fashion-mnist_train.csv and fashion-mnist_test.csv from a folder', () => {
    const dir = path.join(tmp, 'kaggle');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'fashion-mnist_train.csv'), `${header}\n${row(1)}\n${row(2)}\n`);
    fs.writeFileSync(path.join(dir, 'fashion-mnist_test.csv'), `${header}\n${row(9)}\n`);
    const data = loadFromDir(dir)!;
    assert.equal(data.train.count, 2);
    assert.deepEqual([...data.test.labels], [9]);
  });

  test('a wrong column count names the line', () => {
    assert.throws(
      () => parseKaggleCsv(`${header}\n${row(1)}\n1,2,3\n`, 'k.csv'),
      /k\.csv: line 3 has 3 columns, expected 785/,
    );
    assert.throws(
      () => parseKaggleCsv('label,pixel1\n1,2\n', 'h.csv'),
      /h\.csv: header must be label,pixel1\.\.pixel784/,
    );
  });

  test('a label or pixel out of range names the line', () => {
    assert.throws(
      () => parseKaggleCsv(`${header}\n${row(10)}\n`, 'k.csv'),
      /k\.csv: line 2: label "10" is out of range 0\.\.9/,
    );
    assert.throws(
      () => parseKaggleCsv(`${header}\n${row(1, 300)}\n`, 'k.csv'),
      /line 2, column 2: pixel "300" is not an integer 0\.\.255/,
    );
  });
});

describe('download', () => {
  let server: http.Server;
  let baseUrl = '';
  const served = new Map<string, Buffer>();
  before(async () => {
    server = http.createServer((req, res) => {
      const body = served.get(req.url!.slice(1));
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  after(() => server.close());

  const officialDir = '/usr/share/datasets/fashion-mnist';
  test(
    'fetches the four files, verifies the decompressed bytes and loads them',
    { skip: !fs.existsSync(officialDir) && 'dataset-fashion-mnist is not installed' },
    async () => {
      for (const name of Object.keys(OFFICIAL_SHA256))
        served.set(`${name}.gz`, fs.readFileSync(path.join(officialDir, `${name}.gz`)));
      const dest = path.join(tmp, 'downloaded');
      await download(dest, baseUrl);
      const data = loadFromDir(dest)!;
      assert.equal(data.official, true);
      assert.equal(data.train.count, 60000);
      assert.equal(data.test.count, 10000);
    },
  );

  test('a file whose bytes do not match the official checksum is rejected and not saved', async () => {
    for (const name of Object.keys(OFFICIAL_SHA256))
      served.set(`${name}.gz`, gzipSync(name.includes('images') ? idxImages(3) : idxLabels(3)));
    const dest = path.join(tmp, 'tampered');
    await assert.rejects(
      download(dest, baseUrl),
      /train-images-idx3-ubyte\.gz: checksum mismatch: got sha256 [0-9a-f]{64}, expected c59f468a/,
    );
    assert.deepEqual(fs.readdirSync(dest), []);
  });

  test('an HTTP error or an unreachable server says what to do', async () => {
    served.clear();
    await assert.rejects(
      download(path.join(tmp, 'missing'), baseUrl),
      /download failed with HTTP 404; pass --data DIR/,
    );
    await assert.rejects(
      download(path.join(tmp, 'down'), 'http://127.0.0.1:9/'),
      /download failed .*check the network or pass --data DIR/,
    );
  });
});
