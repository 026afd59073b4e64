import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModelDir } from '../electron/appPaths.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { startPredictor } from '../electron/ml/inference.ts';
import { measureFidelity } from '../electron/photos/pipelineBench.ts';

test('fidelity: test images imported as photos are classified within 1.5 points of the same images as tensors', { timeout: 600_000 }, async () => {
  const data = await loadFashionMnist({ allowDownload: false });
  const predictor = await startPredictor(defaultModelDir());
  try {
    const f = await measureFidelity(data.test, predictor, 1000);
    assert.equal(f.images, 1000);
    assert.ok(f.tensorAccuracy > 0.9, `tensor accuracy ${f.tensorAccuracy}`);
    assert.ok(f.gapPoints <= 1.5, `pipeline ${(100 * f.pipelineAccuracy).toFixed(1)}% vs tensors ${(100 * f.tensorAccuracy).toFixed(1)}%`);
  } finally {
    await predictor.close();
  }
});
