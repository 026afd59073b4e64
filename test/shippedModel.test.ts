import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultModelDir } from '../electron/appPaths.ts';
import { evaluateOnTestSet } from '../electron/commands/evaluate.ts';
import { loadFashionMnist } from '../electron/dataset/fashionMnist.ts';
import { initBackend } from '../electron/ml/backend.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { loadModel } from '../electron/ml/modelFiles.ts';

test('the shipped model scores on the full 10k test set at least what its model card states (−0.1 point)', { timeout: 900_000 }, async () => {
  const card = readModelCard(defaultModelDir());
  assert.ok(card, `the shipped model card ${defaultModelDir()}/metrics.json is missing`);
  const backend = await initBackend();
  const data = await loadFashionMnist({ allowDownload: false });
  assert.equal(data.test.count, 10000);
  const report = evaluateOnTestSet(await loadModel(defaultModelDir()), data.test, defaultModelDir(), backend.name);
  assert.ok(report.accuracy >= card.accuracy - 0.001, `accuracy ${report.accuracy} is below the card's ${card.accuracy} − 0.1 point`);
  const shirt = report.perClass.find((c) => c.name === 'Shirt')!;
  assert.ok(Math.abs(shirt.f1 - card.perClass[6]!.f1) < 0.01, `Shirt F1 ${shirt.f1} differs from the card's ${card.perClass[6]!.f1}`);
});
