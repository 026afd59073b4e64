import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { defaultModelDir } from '../electron/appPaths.ts';
import { evaluateOnTestSet } from '../electron/commands/evaluate.ts';
import { IMAGE_SIZE, loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { inferenceNetwork, predictProbabilities } from '../electron/ml/classifier.ts';
import { APP_FLIP_AVERAGING } from '../electron/ml/flipAveraging.ts';
import { startPredictor } from '../electron/ml/inference.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { loadModel } from '../electron/ml/modelFiles.ts';
import { NUM_CLASSES } from '../contract/categories.ts';

test(
  'the shipped model scores on the full 10k test set at least what its model card states (−0.1 point)',
  { timeout: 900_000 },
  async () => {
    const card = readModelCard(defaultModelDir());
    assert.ok(card, `the shipped model card ${defaultModelDir()}/metrics.json is missing`);
    const backend = await initBackend();
    const data = await loadFashionMnist({ allowDownload: false });
    assert.equal(data.test.count, 10000);
    const report = evaluateOnTestSet(await loadModel(defaultModelDir()), data.test, defaultModelDir(), backend.name);
    assert.ok(
      report.accuracy >= card.accuracy - 0.001,
      `accuracy ${report.accuracy} is below the card's ${card.accuracy} − 0.1 point`,
    );
    const shirt = report.perClass.find((c) => c.name === 'Shirt')!;
    assert.ok(
      Math.abs(shirt.f1 - card.perClass[6]!.f1) < 0.01,
      `Shirt F1 ${shirt.f1} differs from the card's ${card.perClass[6]!.f1}`,
    );
  },
);

test("inference with each batch norm folded into its convolution gives the layers model's own probabilities", async () => {
  await initBackend();
  const data = await loadFashionMnist({ allowDownload: false });
  const model = await loadModel(defaultModelDir());
  const count = 500;
  const images = data.test.images.subarray(0, count * PIXELS);
  const folded = predictProbabilities(model, images, count);
  const layers = tf.tidy(() =>
    (
      model.predict(
        tf.div(tf.tensor4d(Float32Array.from(images), [count, IMAGE_SIZE, IMAGE_SIZE, 1]), 255),
      ) as tf.Tensor
    ).dataSync(),
  );
  assert.equal(folded.length, layers.length);
  const maxDifference = Math.max(...folded.map((p, i) => Math.abs(p - layers[i]!)));
  assert.ok(maxDifference < 1e-5, `probabilities differ by up to ${maxDifference}`);
  // The inference worker folds once per model and reuses it for every batch; disposing it frees what it made.
  const tensorsBefore = tf.memory().numTensors;
  const network = inferenceNetwork(model);
  assert.ok(tf.memory().numTensors > tensorsBefore, 'the folded network holds its own weights');
  for (let call = 0; call < 2; call++)
    assert.deepEqual(Array.from(network.probabilities(images, count)), Array.from(folded));
  network.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore);
  // A layer or setting the folding does not know (Flatten; a capped ReLU after a folded batch norm) sends the
  // whole network through the layers model instead.
  const input = tfl.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1] });
  const capped = tfl.layers
    .reLU({ maxValue: 0.01 })
    .apply(
      tfl.layers
        .batchNormalization()
        .apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input)),
    ) as tfl.SymbolicTensor;
  for (const features of [
    tfl.layers.flatten().apply(input) as tfl.SymbolicTensor,
    tfl.layers.globalAveragePooling2d({}).apply(capped) as tfl.SymbolicTensor,
  ]) {
    const plain = tfl.model({
      inputs: input,
      outputs: tfl.layers
        .softmax()
        .apply(tfl.layers.dense({ units: NUM_CLASSES }).apply(features)) as tfl.SymbolicTensor,
    });
    const expected = tf.tidy(() =>
      (
        plain.predict(
          tf.div(tf.tensor4d(Float32Array.from(images.subarray(0, 10 * PIXELS)), [10, IMAGE_SIZE, IMAGE_SIZE, 1]), 255),
        ) as tf.Tensor
      ).dataSync(),
    );
    assert.deepEqual(
      Array.from(predictProbabilities(plain, images.subarray(0, 10 * PIXELS), 10)),
      Array.from(expected),
    );
  }
});

test('the app averages only the images the model is unsure of with their mirror image, in its workers as in the card', async () => {
  await initBackend();
  const data = await loadFashionMnist({ allowDownload: false });
  const model = await loadModel(defaultModelDir());
  const count = 300;
  const images = data.test.images.subarray(0, count * PIXELS);
  const network = inferenceNetwork(model);
  const plain = network.classify(images, count, { features: true });
  const all = network.classify(images, count, { features: true, flipAverage: true });
  const app = network.classify(images, count, { features: true, flipAverage: APP_FLIP_AVERAGING, batchSize: 64 });
  network.dispose();
  assert.deepEqual(
    APP_FLIP_AVERAGING,
    readModelCard(defaultModelDir())!.flipAverage,
    'the card is measured as the app classifies',
  );
  const { belowConfidence } = APP_FLIP_AVERAGING as { belowConfidence: number };
  const width = plain.features!.length / count;
  const row = (a: Float32Array, i: number, n: number) => Array.from(a.subarray(i * n, (i + 1) * n));
  let mirrored = 0;
  for (let i = 0; i < count; i++) {
    const unsure = Math.max(...row(plain.probabilities, i, NUM_CLASSES)) < belowConfidence;
    const expected = unsure ? all : plain;
    mirrored += unsure ? 1 : 0;
    for (const [got, want, n] of [
      [app.probabilities, expected.probabilities, NUM_CLASSES],
      [app.features!, expected.features!, width],
    ] as const)
      row(got, i, n).forEach((v, k) =>
        assert.ok(Math.abs(v - want[i * n + k]!) < 1e-5, `image ${i} (${unsure ? 'unsure' : 'sure'}), value ${k}`),
      );
  }
  assert.ok(mirrored > 0 && mirrored < count, `${mirrored} of ${count} test images are below ${belowConfidence}`);
  // Two workers share the 300 images (150 each): each part's results come back in its images' places.
  const predictor = await startPredictor(defaultModelDir(), { workers: 2 });
  try {
    assert.equal(predictor.workers, 2);
    const fromWorkers = await predictor.predict(new Uint8Array(images), count);
    fromWorkers.forEach((p, i) => assert.ok(Math.abs(p - app.probabilities[i]!) < 1e-5, `workers' value ${i}`));
    const features = await predictor.features(new Uint8Array(images), count);
    assert.equal(features.length, app.features!.length);
    features.forEach((f, i) => assert.ok(Math.abs(f - app.features![i]!) < 1e-5, `workers' feature ${i}`));
  } finally {
    await predictor.close();
  }
});

test('prototypes blend a nearest-class-mean classifier on the penultimate features into the softmax', async () => {
  await initBackend();
  const data = await loadFashionMnist({ allowDownload: false });
  const model = await loadModel(defaultModelDir());
  const count = 40;
  const images = data.test.images.subarray(0, count * PIXELS);
  const plain = inferenceNetwork(model);
  const { probabilities: softmax, features } = plain.classify(images, count, { features: true }) as {
    probabilities: Float32Array;
    features: Float32Array;
  };
  plain.dispose();
  const width = features.length / count;
  assert.equal(width, 96, 'the features are the global average pool of the last 4w = 96 channels');
  // Each of the first three images is the only member of a category it is not: Sandal, Shirt, Bag.
  const chosen = [5, 6, 8];
  const means: (number[] | null)[] = new Array(NUM_CLASSES).fill(null);
  chosen.forEach((label, i) => {
    const f = Array.from(features.subarray(i * width, (i + 1) * width));
    const norm = Math.hypot(...f);
    means[label] = f.map((v) => v / norm);
  });
  const blended = (weight: number) => {
    const network = inferenceNetwork(model, {
      means,
      counts: means.map((m) => (m ? 1 : 0)),
      weight,
      temperature: 0.01,
    });
    try {
      return network.probabilities(images, count);
    } finally {
      network.dispose();
    }
  };
  const none = blended(0);
  softmax.forEach((p, i) => assert.ok(Math.abs(none[i]! - p) < 1e-6, 'weight 0 is the softmax'));
  const only = blended(1);
  for (let i = 0; i < count; i++) {
    const row = only.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
    const soft = softmax.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    for (let k = 0; k < NUM_CLASSES; k++)
      if (!means[k])
        assert.ok(Math.abs(row[k]! - soft[k]!) < 1e-5, 'a category without a mean keeps its softmax share');
    if (i < chosen.length)
      assert.ok(
        row[chosen[i]!]! > 0.9 * chosen.reduce((a, c) => a + soft[c]!, 0),
        `image ${i} goes to its own prototype`,
      );
  }
});
