import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE } from '../dataset/fashionMnist.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';

/**
 * A small residual network in the style of the DAWNBench "ResNet-9", pooled early for a CPU budget.
 * Every convolution has stride 1 (downsampling is max pooling), which keeps all training kernels on
 * the fast wasm path; pooling before (not after) each widening convolution cuts the multiply-adds by
 * ~40 % against the original layout.
 *
 *   stem conv(w) @28 → pool → conv(2w) @14 → res(2w) @14 → pool → conv(4w) @7 → res(4w) @7 → global average → dense
 *
 * `depth` sets how many residual blocks each resolution has (28, 14 and 7 px; [0, 1, 1] as drawn): a block at
 * 28 px sees collars, buttons and seams before the first pooling, at 8.1 M multiply-adds per image for w = 24 (the network without it: 20.5 M).
 */
export interface ArchitectureSpec {
  name: 'resnet9-mini';
  width: number;
  batchNormMomentum: number;
  /** Residual blocks at 28, 14 and 7 px; absent: [0, 1, 1]. */
  depth?: [number, number, number];
}

/** Residual blocks per resolution (28, 14, 7 px) of a spec that does not say. */
export const DEFAULT_DEPTH: readonly [number, number, number] = [0, 1, 1];

export const DEFAULT_ARCHITECTURE: ArchitectureSpec = {
  name: 'resnet9-mini',
  width: 24,
  batchNormMomentum: 0.9,
};

function convBnRelu(
  input: tfl.SymbolicTensor,
  filters: number,
  spec: ArchitectureSpec,
  name: string,
): tfl.SymbolicTensor {
  const conv = tfl.layers
    .conv2d({
      filters,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      name: `${name}_conv`,
      kernelInitializer: 'heNormal',
    })
    .apply(input) as tfl.SymbolicTensor;
  const bn = tfl.layers
    .batchNormalization({ momentum: spec.batchNormMomentum, name: `${name}_bn` })
    .apply(conv) as tfl.SymbolicTensor;
  return tfl.layers.reLU({ name: `${name}_relu` }).apply(bn) as tfl.SymbolicTensor;
}

function residual(
  input: tfl.SymbolicTensor,
  filters: number,
  spec: ArchitectureSpec,
  name: string,
): tfl.SymbolicTensor {
  const a = convBnRelu(input, filters, spec, `${name}a`);
  const b = convBnRelu(a, filters, spec, `${name}b`);
  return tfl.layers.add({ name: `${name}_add` }).apply([input, b]) as tfl.SymbolicTensor;
}

/** Builds the classifier: input is [batch, 28, 28, 1] scaled to 0..1, output is class probabilities. */
export function buildModel(spec: ArchitectureSpec = DEFAULT_ARCHITECTURE): tfl.LayersModel {
  const w = spec.width;
  const input = tfl.input({ shape: [IMAGE_SIZE, IMAGE_SIZE, 1], name: 'image' });
  const [at28, at14, at7] = spec.depth ?? DEFAULT_DEPTH;
  // The default depth's blocks keep their first names (res1, res2), so models saved before `depth` still load.
  const blocks = (x: tfl.SymbolicTensor, count: number, filters: number, name: string) => {
    for (let i = 0; i < count; i++) x = residual(x, filters, spec, i === 0 ? name : `${name}_${i + 1}`);
    return x;
  };
  let x = convBnRelu(input, w, spec, 'stem');
  x = blocks(x, at28, w, 'res0');
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }).apply(x) as tfl.SymbolicTensor;
  x = convBnRelu(x, 2 * w, spec, 'layer1');
  x = blocks(x, at14, 2 * w, 'res1');
  x = tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }).apply(x) as tfl.SymbolicTensor;
  x = convBnRelu(x, 4 * w, spec, 'layer2');
  x = blocks(x, at7, 4 * w, 'res2');
  x = tfl.layers.globalAveragePooling2d({ name: 'pool3' }).apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: NUM_CLASSES, name: 'logits' }).apply(x) as tfl.SymbolicTensor;
  const probabilities = tfl.layers.softmax({ name: 'probabilities' }).apply(logits) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: probabilities, name: spec.name });
}

/**
 * The spec that `buildModel` would need to make the network a saved model.json describes, read from its layers
 * (`modelTopology.config.layers`, each `{ name, config }`): the stem's filters, its batch norm's momentum and
 * the residual blocks per resolution (res0…, res1…, res2…). Fine-tuning and continued training rebuild the
 * network from it, so a model folder without a card (or with another card) still trains as what it is.
 * Returns undefined when the layers are not this architecture's.
 */
export function architectureOfLayers(
  layers: readonly { name?: string; config?: { name?: string; filters?: number; momentum?: number } }[],
): ArchitectureSpec | undefined {
  const named = new Map(layers.map((l) => [l.config?.name ?? l.name, l.config]));
  const width = named.get('stem_conv')?.filters;
  const batchNormMomentum = named.get('stem_bn')?.momentum;
  if (typeof width !== 'number' || typeof batchNormMomentum !== 'number') return undefined;
  // Each residual block ends in an add named res0_add, res0_2_add, … (buildModel's names); the digit is its resolution.
  const depth: [number, number, number] = [0, 0, 0];
  for (const name of named.keys()) {
    const block = /^res([012])(?:_\d+)?_add$/.exec(name ?? '');
    if (block) depth[Number(block[1])]!++;
  }
  // The default depth stays unsaid, as in the spec the model was trained from (and its reproducing command).
  const isDefault = depth.every((n, i) => n === DEFAULT_DEPTH[i]);
  return { name: 'resnet9-mini', width, batchNormMomentum, ...(isDefault ? {} : { depth }) };
}

/** The same network up to the logits (shares the weights): training uses it for a stable loss. */
export function logitsModel(model: tfl.LayersModel): tfl.LayersModel {
  return tfl.model({ inputs: model.inputs, outputs: model.getLayer('logits').output as tfl.SymbolicTensor });
}

/** The layers with weights that work at the input's full resolution (before the first pooling). */
export function fullResolutionLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => l.weights.length > 0 && (l.outputShape as number[])[1] === IMAGE_SIZE);
}

/** Multiply-adds of one forward pass per image (convolutions and dense layers). */
export function multiplyAddsPerImage(model: tfl.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'Conv2D') {
      const [, h, w, c] = layer.outputShape as number[];
      const [kh, kw, ci] = layer.getWeights()[0]!.shape as number[];
      total += h! * w! * c! * kh! * kw! * ci!;
    } else if (cls === 'Dense') {
      total += tf.util.sizeFromShape(layer.getWeights()[0]!.shape);
    }
  }
  return total;
}
