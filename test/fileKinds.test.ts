import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { bmp } from './helpers/bmp.ts';
import { testSet } from './helpers/catalogs.ts';
import { cli, count } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';

test(
  'what is an image is told by content, not by name, and every file not imported is reported with its reason, in the CLI and the Errors queue',
  { timeout: 300_000 },
  async () => {
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
    const bmpBytes = bmp(data, info.width, info.height);
    fs.writeFileSync(path.join(photos, 'SKU-1004.bmp'), bmpBytes);
    // A BMP whose copy stopped short of its last rows.
    fs.writeFileSync(path.join(photos, 'SKU-1005.bmp'), bmpBytes.subarray(0, bmpBytes.length - 100));
    fs.writeFileSync(
      path.join(photos, 'logo.svg'),
      '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n',
    );
    fs.writeFileSync(path.join(photos, 'catalogue.pdf'), '%PDF-1.7\n%âãÏÓ\n1 0 obj\n');
    fs.writeFileSync(
      path.join(photos, 'shop.jpg'),
      '<!DOCTYPE html>\n<html><body>Sign in to see this picture</body></html>\n',
    );

    const db = path.join(dir, 'catalog.sqlite');
    const r = cli(['classify', photos, '--db', db], { FASHION_SORTER_CACHE: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported: 4 photos from 8 files, 4 failed/);
    const reasons = new Map([...r.stdout.matchAll(/^ {2}(\/.+?): (.+)$/gm)].map((m) => [path.basename(m[1]!), m[2]!]));
    assert.deepEqual([...reasons.keys()].sort(), ['SKU-1005.bmp', 'catalogue.pdf', 'logo.svg', 'shop.jpg']);
    assert.match(reasons.get('logo.svg')!, /^not an image: a vector drawing \(SVG\)/);
    assert.match(reasons.get('catalogue.pdf')!, /^not an image: a PDF document/);
    assert.match(reasons.get('shop.jpg')!, /^not an image: a web page \(HTML\)/);
    assert.match(reasons.get('SKU-1005.bmp')!, /^the file is damaged or incomplete \(its image data is cut short\)/);
    // The window's Errors queue reads the same rows.
    assert.equal(count(db, `SELECT count(*) FROM import_files WHERE state = 'failed'`), 4);
    assert.equal(
      count(
        db,
        `SELECT count(*) FROM photo_paths WHERE name IN ('SKU-1001.jpg', 'SKU-1002', 'SKU-1003.png.download', 'SKU-1004.bmp')`,
      ),
      4,
    );
    // A BMP is known by its own bytes' hash, like every photo.
    assert.equal(
      count(db, `SELECT hash FROM photos WHERE name = 'SKU-1004.bmp' AND format = 'bmp'`),
      crypto.createHash('sha256').update(bmpBytes).digest('hex'),
    );
    assert.deepEqual(
      [
        count(db, `SELECT format FROM photos WHERE name = 'SKU-1002'`),
        count(db, `SELECT format FROM photos WHERE name = 'SKU-1003.png.download'`),
      ],
      ['jpeg', 'png'],
    );
  },
);
