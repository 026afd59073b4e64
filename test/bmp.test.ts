import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import sharp from 'sharp';
import { bmpToPng, convertPhotoFile } from '../electron/photos/bmp.ts';
import { convertPhoto } from '../electron/photos/photoPipeline.ts';
import { writePackshots } from './fixtures/samplePhotos.ts';
import { bmp } from './helpers/bmp.ts';
import { testSet } from './helpers/catalogs.ts';
import { tempDir } from './helpers/photos.ts';

test('a BMP decodes to its own colours, in order, 24-bit and 32-bit (the unused fourth byte is not alpha), odd widths padded', async () => {
  // 3×2: red, green, blue / white, black, a grey-yellow; three pixels a row leave row padding in 24-bit.
  const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 200, 180, 10]);
  for (const bits of [24, 32] as const) {
    const { data, info } = await sharp(await bmpToPng(bmp(rgb, 3, 2, bits)))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [3, 2, 3], `${bits}-bit`);
    assert.deepEqual([...data], [...rgb], `${bits}-bit`);
  }
});

test(
  'a BMP of a garment converts like the same image as PNG, known by the hash of its own bytes; a cut-short or run-length BMP is refused with the reason',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('bmp');
    const [png] = await writePackshots(testSet.images, 1, dir, { seed: 3, format: 'png' });
    const { data, info } = await sharp(png!)
      .flatten({ background: '#ffffff' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const asPng = await convertPhoto(
      await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
        .png()
        .toBuffer(),
    );
    for (const bits of [24, 32] as const) {
      const bytes = bmp(data, info.width, info.height, bits);
      const photo = await convertPhotoFile(bytes);
      assert.equal(photo.hash, crypto.createHash('sha256').update(bytes).digest('hex'));
      assert.deepEqual([photo.format, photo.width, photo.height], ['bmp', info.width, info.height]);
      assert.deepEqual([...photo.pixels], [...asPng.pixels], `${bits}-bit: the same 28×28 input`);
      assert.ok((await sharp(photo.thumbnail).metadata()).format === 'jpeg');
    }
    const bytes = bmp(data, info.width, info.height);
    await assert.rejects(
      convertPhotoFile(bytes.subarray(0, bytes.length - 10)),
      /^Error: the file is damaged or incomplete \(its image data is cut short\)/,
    );
    await assert.rejects(convertPhotoFile(bytes.subarray(0, 40)), /cut short/);
    const rle = Buffer.from(bytes);
    rle.writeUInt16LE(8, 28);
    rle.writeUInt32LE(1, 30);
    rle.writeUInt32LE(100, 34);
    await assert.rejects(
      convertPhotoFile(rle),
      /a run-length compressed BMP, which Fashion Sorter cannot decode; save it as PNG or JPEG/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
