import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/** Writes a file atomically: a crash leaves either the old or the new file, never half of one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** Saves in the tfjs layers format (model.json + weights.bin) without needing tfjs-node's file:// handler. */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
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
  }));
}

export function hasModel(dir: string): boolean {
  return fs.existsSync(path.join(dir, MODEL_JSON)) && fs.existsSync(path.join(dir, WEIGHTS_BIN));
}

/** Loads a layers model saved by saveModel (or by tfjs-node / the Python converter with one weights file). */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const jsonFile = path.join(dir, MODEL_JSON);
  if (!fs.existsSync(jsonFile)) throw new Error(`no model at ${dir}: ${MODEL_JSON} is missing`);
  const json = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  const manifest = json.weightsManifest as { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  const buffers = manifest.flatMap((group) => group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
  const weightData = tf.io.CompositeArrayBuffer.join(buffers.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
  return tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: manifest.flatMap((group) => group.weights),
    weightData,
  }));
}
