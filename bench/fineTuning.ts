/**
 * Fine-tuning measured on a shifted domain: Fashion-MNIST test images rendered as photos from another
 * shop (renderShiftedPhoto) and converted by the real photo pipeline. The model's accuracy on them drops;
 * fine-tuning on 300 of them should win back at least half of the drop on a disjoint held-out part while
 * losing at most half a point on the Fashion-MNIST test set. The fine-tuning hyperparameters were chosen
 * on test images 0–1,299; this benchmark uses images from 5,000 on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PIXELS, type FashionMnist, type ImageSet } from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { DEFAULT_FINETUNE_OPTIONS, fineTune, fineTunedFiles } from '../electron/ml/fineTune.ts';
import { startPredictor, type Predictor } from '../electron/ml/inference.ts';
import { evaluatePredictions } from '../electron/ml/metrics.ts';
import { publishModel } from '../electron/ml/modelFiles.ts';
import { convertPhoto } from '../electron/photos/photoPipeline.ts';
import { renderShiftedPhoto } from '../test/fixtures/samplePhotos.ts';

export interface DomainShiftBench {
  corrections: number;
  heldOut: number;
  /** Accuracy on the held-out shifted photos before and after fine-tuning. */
  shiftedBefore: number;
  shiftedAfter: number;
  /** (after − before) ÷ (Fashion-MNIST test accuracy − before): the share of the drop won back. */
  recoveredShare: number;
  testBefore: number;
  testAfter: number;
  /** Fine-tuning seconds on the corrections above, and on `speedCorrections` others (the speed target: 500). */
  fineTuneSeconds: number;
  speedCorrections: number;
  speedSeconds: number;
}

/** `count` test images from `first` on, rendered as shifted-domain photos and converted by the pipeline. */
async function shiftedInputs(test: ImageSet, first: number, count: number): Promise<ImageSet> {
  const images = new Uint8Array(count * PIXELS);
  for (let i = 0; i < count; i++) {
    const source = first + i;
    const photo = await renderShiftedPhoto(
      test.images.subarray(source * PIXELS, (source + 1) * PIXELS),
      seededRandom(source),
    );
    images.set((await convertPhoto(photo)).pixels, i * PIXELS);
  }
  return { images, labels: test.labels.slice(first, first + count), count };
}

async function accuracy(predictor: Predictor, set: ImageSet): Promise<number> {
  return evaluatePredictions(await predictor.predict(set.images, set.count), set.labels).accuracy;
}

export async function benchDomainShift(
  modelDir: string,
  data: FashionMnist,
  sizes = { corrections: 300, heldOut: 1000, speed: 500 },
): Promise<DomainShiftBench> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-bench-shift-'));
  const base = await startPredictor(modelDir);
  let tuned: Predictor | undefined;
  try {
    const corrections = await shiftedInputs(data.test, 5000, sizes.corrections);
    const heldOut = await shiftedInputs(data.test, 5000 + sizes.corrections, sizes.heldOut);
    const shiftedBefore = await accuracy(base, heldOut);
    const testBefore = await accuracy(base, data.test);

    let started = performance.now();
    const result = await fineTune(modelDir, corrections, data.train, DEFAULT_FINETUNE_OPTIONS);
    const fineTuneSeconds = (performance.now() - started) / 1000;
    publishModel(modelDir, result.weights, path.join(workDir, 'tuned'), fineTunedFiles(result));
    tuned = await startPredictor(path.join(workDir, 'tuned'));
    const shiftedAfter = await accuracy(tuned, heldOut);
    const testAfter = await accuracy(tuned, data.test);

    const speedSet = await shiftedInputs(data.test, 8000, sizes.speed);
    started = performance.now();
    await fineTune(modelDir, speedSet, data.train, DEFAULT_FINETUNE_OPTIONS);
    const speedSeconds = (performance.now() - started) / 1000;
    return {
      corrections: sizes.corrections,
      heldOut: sizes.heldOut,
      shiftedBefore,
      shiftedAfter,
      recoveredShare: (shiftedAfter - shiftedBefore) / (testBefore - shiftedBefore),
      testBefore,
      testAfter,
      fineTuneSeconds,
      speedCorrections: sizes.speed,
      speedSeconds,
    };
  } finally {
    await base.close();
    await tuned?.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
