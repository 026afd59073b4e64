import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { removeStaleTemporaries } from '../staleFiles.ts';
import type { Prototypes } from './classifier.ts';
import { architectureOfLayers, type ArchitectureSpec } from './model.ts';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
/** A fine-tuned version's few-shot component (classifier.ts, Prototypes), when it has one. */
export const PROTOTYPES_JSON = 'prototypes.json';

/** The prototypes stored with the model in `dir`, or undefined when it has none. */
export function readPrototypes(dir: string): Prototypes | undefined {
  const file = path.join(dir, PROTOTYPES_JSON);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Prototypes) : undefined;
}

/** Writes a file atomically: a crash leaves either the old or the new file, never half of one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Saves in the tfjs layers format (model.json + weights.bin) without needing tfjs-node's file:// handler. */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
      writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
      };
      writeFileAtomic(path.join(dir, MODEL_JSON), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Writes a file and forces it to disk, so a rename after it publishes complete bytes even across a power cut. */
function writeFileDurable(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** What to do about a damaged model, said once for every way it can be damaged. */
const damaged = (dir: string, what: string) =>
  new Error(`the model at ${dir} is damaged: ${what}; reinstall the app, or make another model version active`);

function readModelJson(dir: string): ModelJson {
  const jsonFile = path.join(dir, MODEL_JSON);
  if (!fs.existsSync(jsonFile)) throw new Error(`no model at ${dir}: ${MODEL_JSON} is missing`);
  let json: Partial<ModelJson>;
  try {
    json = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Partial<ModelJson>;
  } catch {
    throw damaged(dir, `${MODEL_JSON} is not valid JSON`);
  }
  const valid =
    typeof json.modelTopology === 'object' &&
    json.modelTopology !== null &&
    Array.isArray(json.weightsManifest) &&
    json.weightsManifest.every((group) => Array.isArray(group?.paths) && Array.isArray(group?.weights));
  if (!valid) throw damaged(dir, `${MODEL_JSON} is not a TensorFlow.js layers model`);
  return json as ModelJson;
}

/** Bytes per stored value of each weight type (a quantized weight is stored as its quantization's type). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };
const storedBytes = (spec: tf.io.WeightsManifestEntry) =>
  spec.shape.reduce((a, b) => a * b, 1) * (DTYPE_BYTES[spec.quantization?.dtype ?? spec.dtype] ?? 4);

/** The weight files' bytes, checked against the sizes model.json gives: a short file is a damaged model. */
function readWeightBytes(dir: string, json: ModelJson): Buffer[] {
  const buffers = json.weightsManifest.flatMap((group) =>
    group.paths.map((p) => {
      try {
        return fs.readFileSync(path.join(dir, p));
      } catch {
        throw damaged(dir, `its weights file ${p} is missing or unreadable`);
      }
    }),
  );
  const expected = json.weightsManifest.flatMap((group) => group.weights).reduce((n, spec) => n + storedBytes(spec), 0);
  const actual = buffers.reduce((n, b) => n + b.length, 0);
  if (actual !== expected)
    throw damaged(
      dir,
      `its weights are ${actual.toLocaleString('en-US')} bytes where ${MODEL_JSON} describes ${expected.toLocaleString('en-US')}`,
    );
  return buffers;
}

/** A model's weights as float32 arrays in the order of `model.weights`, read without tfjs. */
export function readWeights(dir: string): Float32Array[] {
  const json = readModelJson(dir);
  const files = readWeightBytes(dir, json);
  const arrays: Float32Array[] = [];
  for (const group of json.weightsManifest) {
    const bytes = Buffer.concat(files.splice(0, group.paths.length));
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32' || spec.quantization)
        throw new Error(`${dir}: weight ${spec.name} is not plain float32`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const array = new Float32Array(size);
      new Uint8Array(array.buffer).set(bytes.subarray(offset, offset + size * 4));
      arrays.push(array);
      offset += size * 4;
    }
  }
  return arrays;
}

/**
 * The architecture of the model in `dir`, read from its model.json's layers (model.ts, architectureOfLayers):
 * what fine-tuning and `train --from` rebuild before loading its weights.
 * @throws when model.json is missing or damaged, or describes another network.
 */
export function readArchitecture(dir: string): ArchitectureSpec {
  const topology = readModelJson(dir).modelTopology as { config?: { layers?: unknown } } | null;
  const layers = topology?.config?.layers;
  const spec = Array.isArray(layers) ? architectureOfLayers(layers) : undefined;
  if (!spec) throw damaged(dir, `${MODEL_JSON} does not describe a resnet9-mini network`);
  return spec;
}

/**
 * Publishes a new model with `base`'s architecture and the given weights as `destDir`: written into a
 * hidden folder beside it, forced to disk and renamed into place, so a crash leaves either no new model
 * or a complete one, and never touches `base`. `extraFiles` (the model card) go in with it.
 */
export function publishModel(
  baseDir: string,
  weights: Float32Array[],
  destDir: string,
  extraFiles: Record<string, string> = {},
): void {
  const json = readModelJson(baseDir);
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  if (specs.length !== weights.length)
    throw new Error(`internal: ${weights.length} weight arrays for ${specs.length} weights`);
  const staging = path.join(path.dirname(destDir), `.${path.basename(destDir)}.${process.pid}.incoming`);
  // Staging folders of runs killed while saving (any version's): about a megabyte each, otherwise kept forever.
  removeStaleTemporaries(path.dirname(destDir), /^\..+\.(\d+)\.incoming$/);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  try {
    writeFileDurable(
      path.join(staging, WEIGHTS_BIN),
      Buffer.concat(weights.map((w) => Buffer.from(w.buffer, w.byteOffset, w.byteLength))),
    );
    writeFileDurable(
      path.join(staging, MODEL_JSON),
      JSON.stringify({ ...json, weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }] }),
    );
    for (const [name, text] of Object.entries(extraFiles)) writeFileDurable(path.join(staging, name), text);
    // A complete folder of that name holds these very weights (the name carries their hash): a run that
    // was killed after publishing and before registering it. Keep it.
    if (hasModel(destDir)) fs.rmSync(staging, { recursive: true });
    else fs.renameSync(staging, destDir);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  // The rename itself is durable once the parent folder's entry is on disk.
  const parent = fs.openSync(path.dirname(destDir), 'r');
  try {
    fs.fsyncSync(parent);
  } finally {
    fs.closeSync(parent);
  }
}

export function hasModel(dir: string): boolean {
  return fs.existsSync(path.join(dir, MODEL_JSON)) && fs.existsSync(path.join(dir, WEIGHTS_BIN));
}

/** Loads a layers model saved by saveModel (or by tfjs-node / the Python converter with one weights file). */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const json = readModelJson(dir);
  const manifest = json.weightsManifest;
  const buffers = readWeightBytes(dir, json);
  const weightData = tf.io.CompositeArrayBuffer.join(
    buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer),
  );
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: manifest.flatMap((group) => group.weights),
      weightData,
    }),
  );
}
