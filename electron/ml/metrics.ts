import { CLASS_NAMES, NUM_CLASSES } from '../../contract/categories.ts';

export interface ClassMetrics {
  label: number;
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Evaluation {
  accuracy: number;
  loss: number;
  /** 10×10, rows = true class, columns = predicted class. */
  confusion: number[][];
  perClass: ClassMetrics[];
  count: number;
}

/** Accuracy, cross-entropy, confusion matrix and per-class precision/recall/F1 (scikit-learn's definitions, 0 where undefined). */
export function evaluatePredictions(probs: Float32Array, labels: ArrayLike<number>): Evaluation {
  const confusion = Array.from({ length: NUM_CLASSES }, () => new Array<number>(NUM_CLASSES).fill(0));
  let loss = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = probs.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
    let best = 0;
    for (let c = 1; c < NUM_CLASSES; c++) if (row[c]! > row[best]!) best = c;
    confusion[labels[i]!]![best]!++;
    loss -= Math.log(Math.max(row[labels[i]!]!, 1e-7));
  }
  const perClass = CLASS_NAMES.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label: c, name, precision, recall, f1, support };
  });
  const correct = confusion.reduce((a, row, c) => a + row[c]!, 0);
  return { accuracy: correct / labels.length, loss: loss / labels.length, confusion, perClass, count: labels.length };
}
