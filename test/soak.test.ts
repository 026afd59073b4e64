import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { soak } from '../bench/app.ts';
import { fashionMnist, testSet } from './helpers/catalogs.ts';
import { writeSmallFashionMnist } from './helpers/dataset.ts';
import { tempDir } from './helpers/photos.ts';

test(
  'soak: the whole working cycle three times through the services; no growth in open files or retained memory',
  { timeout: 900_000 },
  async (t) => {
    const dataDir = path.join(tempDir('soak'), 'fashion-mnist');
    writeSmallFashionMnist(fashionMnist, dataDir);
    const cycles = await soak(testSet, 3, 60, dataDir);
    t.diagnostic(JSON.stringify(cycles));
    const [, second, third] = cycles;
    // The first cycle opens what stays open (the catalog, the workers); later cycles must not add to it.
    if (second!.fileDescriptors !== null)
      assert.ok(
        third!.fileDescriptors! <= second!.fileDescriptors!,
        `open files ${second!.fileDescriptors} → ${third!.fileDescriptors}`,
      );
    assert.ok(
      third!.heapMB - second!.heapMB < 10,
      `heap after GC ${second!.heapMB.toFixed(1)} → ${third!.heapMB.toFixed(1)} MB`,
    );
  },
);
