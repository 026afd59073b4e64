import type * as tfl from '@tensorflow/tfjs-layers';
import { loadFashionMnist, type ImageSet } from '../dataset/fashionMnist.ts';
import { defaultModelDir } from '../appPaths.ts';
import { initBackend } from '../ml/backend.ts';
import { predictProbabilities } from '../ml/classifier.ts';
import { evaluatePredictions } from '../ml/metrics.ts';
import { APP_FLIP_AVERAGING, describeFlipAveraging, type FlipAveraging } from '../ml/flipAveraging.ts';
import type { EvaluationReport } from '../ml/modelCard.ts';
import { loadModel } from '../ml/modelFiles.ts';
import { pathOption, UsageError, type Values } from './args.ts';
import { CLASS_NAMES } from '../../contract/categories.ts';

/** The model's scores on `test` as the app classifies (or with `flipAverage`). */
export function evaluateOnTestSet(
  model: tfl.LayersModel,
  test: ImageSet,
  modelName: string,
  backend: string,
  flipAverage: FlipAveraging = APP_FLIP_AVERAGING,
): EvaluationReport {
  const probs = predictProbabilities(model, test.images, test.count, { flipAverage });
  return { ...evaluatePredictions(probs, test.labels), backend, model: modelName, flipAverage };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The human-readable report: accuracy, loss, per-class table and confusion matrix. */
export function formatEvaluation(report: EvaluationReport): string {
  const lines = [
    `model ${report.model} on ${report.count} test images (backend ${report.backend}${report.flipAverage ? `, ${describeFlipAveraging(report.flipAverage)}` : ''})`,
    `accuracy ${pct(report.accuracy)}   loss ${report.loss.toFixed(4)}`,
    '',
    `${'class'.padEnd(12)} precision  recall     f1  support`,
    ...report.perClass.map(
      (c) =>
        `${c.name.padEnd(12)} ${c.precision.toFixed(4).padStart(9)} ${c.recall.toFixed(4).padStart(7)} ${c.f1.toFixed(4).padStart(6)} ${String(c.support).padStart(8)}`,
    ),
    '',
    'confusion (rows = true class, columns = predicted)',
    `${''.padEnd(14)}${CLASS_NAMES.map((_, i) => String(i).padStart(5)).join('')}`,
    ...report.confusion.map(
      (row, i) => `${`${i} ${CLASS_NAMES[i]}`.padEnd(14)}${row.map((n) => String(n).padStart(5)).join('')}`,
    ),
  ];
  return lines.join('\n');
}

/** `--flip all|none|unsure`: every test image mirrored too, none, or as the app does (the default). */
function flipOption(value: Values[string]): FlipAveraging {
  if (value === undefined || value === 'unsure') return APP_FLIP_AVERAGING;
  if (value === 'all' || value === 'none') return value === 'all';
  throw new UsageError(`--flip takes all, none or unsure, not ${String(value)}`);
}

export async function runEvaluate(values: Values): Promise<void> {
  const modelDir = pathOption(values, 'model') ?? defaultModelDir();
  const backend = await initBackend();
  const model = await loadModel(modelDir);
  const data = await loadFashionMnist({ dataDir: pathOption(values, 'data') });
  const report = evaluateOnTestSet(model, data.test, modelDir, backend.name, flipOption(values.flip));
  console.log(values.json ? JSON.stringify(report, null, 1) : formatEvaluation(report));
}
