import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { defaultModelDir } from '../electron/appPaths.ts';
import { loadFashionMnist, IMAGE_SIZE, PIXELS, type FashionMnist } from '../electron/dataset/fashionMnist.ts';
import { adaptBatchNorm } from '../bench/adaptBatchNorm.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { predictProbabilities } from '../electron/ml/classifier.ts';
import { evaluatePredictions } from '../electron/ml/metrics.ts';
import { loadModel, readWeights } from '../electron/ml/modelFiles.ts';

let data: FashionMnist;
before(async () => {
  await initBackend();
  data = await loadFashionMnist({ allowDownload: false });
});

const names = (model: Awaited<ReturnType<typeof loadModel>>) => model.weights.map((w) => w.originalName ?? w.name);

test("the first batch norm gets the mean and population variance of the stem convolution's outputs on the images; the others change too", async () => {
  const model = await loadModel(defaultModelDir());
  const original = readWeights(defaultModelDir());
  // Shifted images: negatives of 300 test images, far from what the statistics were learned on.
  const count = 300;
  const images = data.test.images.slice(0, count * PIXELS).map((v) => 255 - v);
  const weights = adaptBatchNorm(model, images, count, 1);
  const at = (name: string) => names(model).indexOf(name);
  const [mean, variance] = tf.tidy(() => {
    const x = tf.div(tf.tensor4d(Float32Array.from(images), [count, IMAGE_SIZE, IMAGE_SIZE, 1]), 255) as tf.Tensor4D;
    const kernel = tf.tensor4d(original[at('stem_conv/kernel')]!, [3, 3, 1, 24]);
    const moments = tf.moments(tf.conv2d(x, kernel, 1, 'same'), [0, 1, 2]);
    return [moments.mean.dataSync(), moments.variance.dataSync()];
  });
  for (let c = 0; c < 24; c++) {
    assert.ok(
      Math.abs(weights[at('stem_bn/moving_mean')]![c]! - mean![c]!) < 1e-4 + 1e-4 * Math.abs(mean![c]!),
      `channel ${c} mean`,
    );
    assert.ok(
      Math.abs(weights[at('stem_bn/moving_variance')]![c]! - variance![c]!) < 1e-4 * variance![c]! + 1e-6,
      `channel ${c} variance`,
    );
  }
  for (const layer of ['layer1_bn', 'res2b_bn']) {
    const i = at(`${layer}/moving_mean`);
    assert.ok(
      weights[i]!.some((v, c) => Math.abs(v - original[i]![c]!) > 1e-3),
      `${layer} kept its statistics`,
    );
  }
  // Everything but the moving statistics is as it was.
  names(model).forEach((name, i) => {
    if (!/moving_(mean|variance)$/.test(name)) assert.deepEqual(weights[i], original[i], name);
  });
  model.dispose();
});

test("alpha blends the images' statistics with the model's own: 0 keeps the weights, 0.5 is halfway for the first batch norm", async () => {
  const images = data.test.images.slice(0, 200 * PIXELS).map((v) => 255 - v);
  const adapt = async (alpha: number) => {
    const model = await loadModel(defaultModelDir());
    const weights = adaptBatchNorm(model, images, 200, alpha);
    const at = names(model).indexOf('stem_bn/moving_mean');
    model.dispose();
    return { weights, at };
  };
  const original = readWeights(defaultModelDir());
  const none = await adapt(0);
  none.weights.forEach((w, i) =>
    assert.ok(
      w.every((v, k) => Math.abs(v - original[i]![k]!) < 1e-6),
      `weight ${i} changed with alpha 0`,
    ),
  );
  const half = await adapt(0.5);
  const full = await adapt(1);
  half.weights[half.at]!.forEach((v, c) =>
    assert.ok(Math.abs(v - (original[half.at]![c]! + full.weights[full.at]![c]!) / 2) < 1e-4, `channel ${c}`),
  );
  const model = await loadModel(defaultModelDir());
  assert.throws(() => adaptBatchNorm(model, images, 1), /at least 2 images/);
  assert.throws(() => adaptBatchNorm(model, images, 200, 1.5), /alpha/);
  model.dispose();
});

test("adapted to Fashion-MNIST's own training images, the model loses at most half a point on 1,000 test images", async () => {
  const model = await loadModel(defaultModelDir());
  const test = { images: data.test.images.subarray(0, 1000 * PIXELS), labels: data.test.labels.subarray(0, 1000) };
  const before = evaluatePredictions(predictProbabilities(model, test.images, 1000), test.labels).accuracy;
  adaptBatchNorm(model, data.train.images.subarray(0, 1000 * PIXELS), 1000, 1);
  const after = evaluatePredictions(predictProbabilities(model, test.images, 1000), test.labels).accuracy;
  model.dispose();
  assert.ok(after >= before - 0.005, `${(100 * before).toFixed(1)}% -> ${(100 * after).toFixed(1)}%`);
});
