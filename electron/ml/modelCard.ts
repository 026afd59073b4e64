import fs from 'node:fs';
import path from 'node:path';
import type { FashionMnist } from '../dataset/fashionMnist.ts';
import type { FlipAveraging } from './flipAveraging.ts';
import type { Evaluation } from './metrics.ts';
import { writeFileAtomic } from './modelFiles.ts';
import type { EpochRecord, TrainResult } from './train.ts';

export const MODEL_CARD = 'metrics.json';

/** The evaluation JSON of `evaluate --json`: the metrics plus what produced them. */
export interface EvaluationReport extends Evaluation {
  backend: string;
  model: string;
  /** Which test images were also classified mirrored (classifier.ts's FlipAveraging). */
  flipAverage: FlipAveraging;
}

export interface ModelCard extends EvaluationReport {
  name: string;
  createdAt: string;
  parameters: number;
  multiplyAddsPerImage: number;
  flopsPerImage: number;
  /** `from`: the model a run continued from (`train --from`), absent for one trained from scratch. */
  training: Omit<TrainResult, 'weights'> & { command: string; node: string; cpus: string; from?: string };
  data: { source: string; official: boolean; checksums: Record<string, string> };
  /** A fine-tuned version's parent, the labels and replay sample it learned from, and how (`training` stays the parent's). */
  fineTune?: FineTuneRecord;
}

/** What fine-tuning records in a version's card (learning/improveModel.ts writes it). */
export interface FineTuneRecord {
  parent: { name: string; version: string };
  /** The reviewed photos' catalog ids, by the part they played. */
  labels: { train: number[]; validation: number[]; heldOut: number[] };
  /** Fashion-MNIST training images replayed for training and for validation, and the seed that drew them. */
  replay: { train: number; validation: number; seed: number };
  history: EpochRecord[];
  bestEpoch: number;
  seconds: number;
  backend: string;
  /** The label log's last entry it learned from; absent in versions made before it was recorded. */
  labelLogId?: number;
  /** The new version's accuracy (0–1) on the held-out and validation photos, with their counts. */
  yourPhotos?: { heldOut: { count: number; accuracy: number }; validation: { count: number; accuracy: number } };
}

export function writeModelCard(dir: string, card: ModelCard): void {
  writeFileAtomic(path.join(dir, MODEL_CARD), `${JSON.stringify(card, null, 1)}\n`);
}

export function readModelCard(dir: string): ModelCard | undefined {
  const file = path.join(dir, MODEL_CARD);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as ModelCard) : undefined;
}

export function dataProvenance(data: FashionMnist): ModelCard['data'] {
  return { source: data.source, official: data.official, checksums: data.checksums };
}
