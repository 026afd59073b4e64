import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { writePackshots } from '../electron/photos/samplePhotos.ts';
import { testSet } from './helpers/catalogs.ts';
import { cli, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';

/** An uncompressed 24-bit BMP (BITMAPINFOHEADER) of a raw RGB image, bottom-up as BMPs are. */
function bmp(rgb: Buffer, width: number, height: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + stride * height, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = ((height - 1 - y) * width + x) * 3;
      pixels.set([rgb[from + 2]!, rgb[from + 1]!, rgb[from]!], y * stride + x * 3);
    }
  }
  return Buffer.concat([header, pixels]);
}

test('what is an image is told by content, not by name, and every file not imported is reported with its reason, in the CLI and the Errors queue', { timeout: 300_000 }, async () => {
  const dir = tempDir('file-kinds');
  const photos = path.join(dir, 'photos');
  const made = await writePackshots(testSet.images, 4, path.join(dir, 'made'), { seed: 6 });
  fs.mkdirSync(photos);
  const jpegs = made.filter((f) => f.endsWith('.jpg'));
  const png = made.find((f) => f.endsWith('.png'))!;
  fs.copyFileSync(jpegs[0]!, path.join(photos, 'SKU-1001.jpg'));
  // A JPEG saved with no extension, and a PNG as a browser leaves a download it did not finish naming.
  fs.copyFileSync(jpegs[1]!, path.join(photos, 'SKU-1002'));
  fs.copyFileSync(png, path.join(photos, 'SKU-1003.png.download'));
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  fs.writeFileSync(path.join(photos, 'SKU-1004.bmp'), bmp(data, info.width, info.height));
  fs.writeFileSync(path.join(photos, 'logo.svg'), '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n');
  fs.writeFileSync(path.join(photos, 'catalogue.pdf'), '%PDF-1.7\n%âãÏÓ\n1 0 obj\n');
  fs.writeFileSync(path.join(photos, 'shop.jpg'), '<!DOCTYPE html>\n<html><body>Sign in to see this picture</body></html>\n');

  const db = path.join(dir, 'catalog.sqlite');
  const r = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /imported: 3 photos from 7 files, 4 failed/);
  const reasons = new Map([...r.stdout.matchAll(/^ {2}(\/.+?): (.+)$/gm)].map((m) => [path.basename(m[1]!), m[2]!]));
  assert.deepEqual([...reasons.keys()].sort(), ['SKU-1004.bmp', 'catalogue.pdf', 'logo.svg', 'shop.jpg']);
  assert.match(reasons.get('logo.svg')!, /^not an image: a vector drawing \(SVG\)/);
  assert.match(reasons.get('catalogue.pdf')!, /^not an image: a PDF document/);
  assert.match(reasons.get('shop.jpg')!, /^not an image: a web page \(HTML\)/);
  assert.match(reasons.get('SKU-1004.bmp')!, /^a BMP image, which Fashion Sorter cannot decode yet; save it as PNG or JPEG/);
  // The window's Errors queue reads the same rows.
  assert.equal(count(db, `SELECT count(*) FROM import_files WHERE state = 'failed'`), 4);
  assert.equal(count(db, `SELECT count(*) FROM photo_paths WHERE name IN ('SKU-1001.jpg', 'SKU-1002', 'SKU-1003.png.download')`), 3);
  assert.deepEqual([count(db, `SELECT format FROM photos WHERE name = 'SKU-1002'`), count(db, `SELECT format FROM photos WHERE name = 'SKU-1003.png.download'`)], ['jpeg', 'png']);
});
