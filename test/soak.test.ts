import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soak } from '../bench/app.ts';
import { testSet } from './helpers/catalogs.ts';

test(
  'soak: the whole working cycle three times through the services; no growth in open files or retained memory',
  { timeout: 900_000 },
  async (t) => {
    const cycles = await soak(testSet, 3, 60);
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
