import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModelDir } from '../electron/appPaths.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { startPredictor } from '../electron/ml/inference.ts';
import { measureFidelity } from '../bench/pipeline.ts';

test(
  'fidelity: the first 5,000 test images imported as photos are classified within 1.5 points of the same images as tensors',
  { timeout: 900_000 },
  async (t) => {
    const data = await loadFashionMnist({ allowDownload: false });
    const predictor = await startPredictor(defaultModelDir());
    try {
      // Half of them: on the first 1,000 alone the gap swings by a point between models; the benchmark
      // (`npm run bench -- --only pipeline`) measures all 10,000, as the target is stated.
      const f = await measureFidelity(data.test, predictor, 5_000);
      assert.equal(f.images, 5_000);
      t.diagnostic(
        `through the photo pipeline ${(100 * f.pipelineAccuracy).toFixed(2)}%, as tensors ${(100 * f.tensorAccuracy).toFixed(2)}%, gap ${f.gapPoints.toFixed(2)} points`,
      );
      assert.ok(f.tensorAccuracy > 0.9, `tensor accuracy ${f.tensorAccuracy}`);
      assert.ok(
        f.gapPoints <= 1.5,
        `pipeline ${(100 * f.pipelineAccuracy).toFixed(1)}% vs tensors ${(100 * f.tensorAccuracy).toFixed(1)}%`,
      );
    } finally {
      await predictor.close();
    }
  },
);
