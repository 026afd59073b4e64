import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, PIXELS } from '../dataset/fashionMnist.ts';
import { NUM_CLASSES } from '../../contract/categories.ts';
import { rowsToMirror, type FlipAveraging } from './flipAveraging.ts';

/** One forward pass: the class probabilities and the penultimate features (what the last dense layer reads). */
type Forward = (x: tf.Tensor4D) => { probabilities: tf.Tensor2D; features: tf.Tensor2D };

interface LayerConfig {
  activation?: string;
  dataFormat?: string;
  padding?: 'same' | 'valid';
  strides?: number[];
  dilationRate?: number | number[];
  poolSize?: number[];
  useBias?: boolean;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  axis?: number;
  maxValue?: number | null;
}

/** The layers a layer reads from, or undefined when it is called more than once (a shared layer). */
function inputsOf(layer: tfl.layers.Layer): tfl.layers.Layer[] | undefined {
  return layer.inboundNodes.length === 1 ? layer.inboundNodes[0]!.inboundLayers : undefined;
}

/** A convolution's kernel and bias with the batch norm after it folded in: w·γ/σ and β + (b − μ)·γ/σ. */
function foldBatchNorm(conv: tfl.layers.Layer, bn: tfl.layers.Layer): { filter: tf.Tensor4D; bias: tf.Tensor1D } {
  return tf.tidy(() => {
    const [kernel, convBias] = conv.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
    const config = bn.getConfig() as LayerConfig;
    const weights = [...bn.getWeights()];
    const gamma = config.scale === false ? undefined : weights.shift();
    const beta = config.center === false ? undefined : weights.shift();
    const [mean, variance] = weights as [tf.Tensor1D, tf.Tensor1D];
    let scale = tf.rsqrt(tf.add(variance, config.epsilon ?? 1e-3));
    if (gamma) scale = tf.mul(scale, gamma);
    let bias = tf.mul(tf.sub(convBias ?? tf.zerosLike(mean), mean), scale);
    if (beta) bias = tf.add(bias, beta);
    return { filter: tf.mul(kernel, scale) as tf.Tensor4D, bias: bias as tf.Tensor1D };
  });
}

/**
 * The network as plain tensor ops for inference: each batch norm folded into the convolution before it and
 * the ReLU after that fused in, so a conv–BN–ReLU block is one XNNPACK convolution instead of three passes
 * over the activations (about 1.35× the layers model's predict on wasm). It copies the weights: after a
 * training step, build it again. Undefined for a network with a layer or setting it does not know, which
 * then runs through the layers model as before.
 */
function foldedForward(
  model: tfl.LayersModel,
  featuresName: string,
): { forward: Forward; dispose: () => void } | undefined {
  const consumers = new Map<string, number>();
  for (const layer of model.layers)
    for (const input of inputsOf(layer) ?? []) consumers.set(input.name, (consumers.get(input.name) ?? 0) + 1);
  const onlyConsumer = (layer: tfl.layers.Layer, className: string) =>
    consumers.get(layer.name) === 1
      ? model.layers.find((l) => l.getClassName() === className && inputsOf(l)?.[0] === layer)
      : undefined;

  const steps: { name: string; inputs: string[]; run: (xs: tf.Tensor[]) => tf.Tensor }[] = [];
  // Batch norms and ReLUs folded into the convolution before them.
  const absorbed = new Set<string>();
  const owned: tf.Tensor[] = [];
  const fail = () => {
    tf.dispose(owned);
    return undefined;
  };
  for (const layer of model.layers) {
    const config = layer.getConfig() as LayerConfig;
    if (config.dataFormat && config.dataFormat !== 'channelsLast') return fail();
    if (absorbed.has(layer.name)) continue;
    const inputs = inputsOf(layer);
    if (!inputs) return fail();
    const className = layer.getClassName();
    let output = layer.name;
    let run: (xs: tf.Tensor[]) => tf.Tensor;
    if (className === 'InputLayer') {
      continue;
    } else if (className === 'Conv2D') {
      const dilation = config.dilationRate ?? 1;
      if (config.activation !== 'linear' || [dilation].flat().some((d) => d !== 1)) return fail();
      const bn = onlyConsumer(layer, 'BatchNormalization');
      if (bn && ![undefined, -1, 3].includes((bn.getConfig() as LayerConfig).axis)) return fail();
      const { filter, bias } = bn
        ? foldBatchNorm(layer, bn)
        : {
            filter: layer.getWeights()[0]!.clone() as tf.Tensor4D,
            bias: config.useBias ? (layer.getWeights()[1]!.clone() as tf.Tensor1D) : undefined,
          };
      owned.push(filter, ...(bias ? [bias] : []));
      const relu = [onlyConsumer(bn ?? layer, 'ReLU')].find(
        (r) => r && (r.getConfig() as LayerConfig).maxValue == null,
      );
      for (const folded of [bn, relu]) {
        if (!folded) continue;
        absorbed.add(folded.name);
        output = folded.name;
      }
      const strides = config.strides as [number, number];
      run = ([x]) =>
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter,
          strides,
          pad: config.padding!,
          bias,
          activation: relu ? 'relu' : 'linear',
        });
    } else if (className === 'ReLU' && config.maxValue == null) {
      run = ([x]) => tf.relu(x!);
    } else if (className === 'MaxPooling2D') {
      run = ([x]) =>
        tf.maxPool(
          x as tf.Tensor4D,
          config.poolSize as [number, number],
          config.strides as [number, number],
          config.padding!,
        );
    } else if (className === 'Add') {
      run = (xs) => tf.addN(xs);
    } else if (className === 'GlobalAveragePooling2D') {
      run = ([x]) => tf.mean(x!, [1, 2]);
    } else if (className === 'Dense' && config.activation === 'linear') {
      const [kernel, bias] = layer.getWeights().map((w) => w.clone());
      owned.push(kernel!, ...(bias ? [bias] : []));
      run = ([x]) => tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel as tf.Tensor2D, bias });
    } else if (className === 'Softmax') {
      run = ([x]) => tf.softmax(x!);
    } else {
      return fail();
    }
    steps.push({ name: output, inputs: inputs.map((l) => l.name), run });
  }
  const inputName = model.inputLayers[0]!.name;
  const outputName = model.outputLayers[0]!.name;
  if (!steps.some((step) => step.name === featuresName)) return fail();
  const forward: Forward = (x) => {
    const values = new Map<string, tf.Tensor>([[inputName, x]]);
    for (const step of steps) values.set(step.name, step.run(step.inputs.map((n) => values.get(n)!)));
    return { probabilities: values.get(outputName) as tf.Tensor2D, features: values.get(featuresName) as tf.Tensor2D };
  };
  return { forward, dispose: () => tf.dispose(owned) };
}

/**
 * A few-shot component stored with a fine-tuned model version (prototypes.json): the mean of the
 * L2-normalised penultimate features of the user's labelled photos per category, a nearest class mean
 * classifier (Mensink et al. 2013) whose probabilities are blended with the network's softmax.
 */
export interface Prototypes {
  /** Per category, the mean normalised feature vector, or null for a category without labelled photos. */
  means: (number[] | null)[];
  /** Labelled photos behind each mean. */
  counts: number[];
  /** Share of the nearest-class-mean probabilities in the blend, 0..1 (the rest is the softmax's). */
  weight: number;
  /** Cosine similarities to the means are divided by this before the softmax over categories. */
  temperature: number;
}

/**
 * The blend of softmax `p` with nearest-class-mean probabilities from features `f` (both per row). Categories
 * without a mean keep the softmax's probability; those with one share the rest by cosine similarity.
 */
function blendPrototypes(
  p: tf.Tensor2D,
  f: tf.Tensor2D,
  prototypes: Prototypes,
  means: tf.Tensor2D,
  present: tf.Tensor1D,
): tf.Tensor2D {
  const unit = tf.div(f, tf.add(tf.norm(f, 'euclidean', 1, true), 1e-12));
  const logits = tf.div(tf.matMul(unit, means, false, true), prototypes.temperature);
  // A softmax over the categories with a mean only (log 0 = −∞ for the others), which then keep their softmax share.
  const masked = tf.add(logits, tf.log(present));
  const presentMass = tf.sum(tf.mul(p, present), 1, true);
  const ncm = tf.add(tf.mul(tf.softmax(masked), presentMass), tf.mul(p, tf.sub(1, present)));
  return tf.add(tf.mul(p, 1 - prototypes.weight), tf.mul(ncm, prototypes.weight)) as tf.Tensor2D;
}

/** What one forward pass over some images gives: count × 10 probabilities, and count × featureSize features when asked for. */
export interface NetworkOutputs {
  probabilities: Float32Array;
  features?: Float32Array;
}

export interface ClassifyOptions {
  batchSize?: number;
  /** Which images are also classified mirrored (default none). */
  flipAverage?: FlipAveraging;
  /** Return the penultimate features too (the global average pool's output, featureSize per image). */
  features?: boolean;
}

/** A model ready to classify batches of 28×28 images; holds its own copy of the (folded) weights until disposed. */
export interface InferenceNetwork {
  /** Length of one image's penultimate feature vector. */
  readonly featureSize: number;
  /**
   * Class probabilities, and with `features` the penultimate features, for `count` 28×28 grayscale images
   * (bytes, Fashion-MNIST polarity: garment bright on black), from one forward pass.
   */
  classify(images: Uint8Array, count: number, options?: ClassifyOptions): NetworkOutputs;
  /** `classify(…).probabilities`. */
  probabilities(images: Uint8Array, count: number, options?: Omit<ClassifyOptions, 'features'>): Float32Array;
  dispose(): void;
}

/** The layer whose output the last dense layer reads: the network's penultimate features. */
function featureLayer(model: tfl.LayersModel): tfl.layers.Layer {
  const dense = model.layers.findLast((layer) => layer.getClassName() === 'Dense');
  const input = dense && inputsOf(dense)?.[0];
  if (!input) throw new Error(`the model ${model.name} has no dense layer reading one layer's features`);
  return input;
}

/**
 * The model as it runs for inference: folded when it can be, else a layers model with both outputs; with
 * `prototypes` blended into its probabilities (the features stay the network's own).
 */
export function inferenceNetwork(model: tfl.LayersModel, prototypes?: Prototypes): InferenceNetwork {
  const features = featureLayer(model);
  const featureSize = (features.outputShape as number[]).at(-1)!;
  const folded = foldedForward(model, features.name);
  const twoOutputs = folded
    ? undefined
    : tfl.model({ inputs: model.inputs, outputs: [model.outputs[0]!, features.output as tfl.SymbolicTensor] });
  const network: Forward =
    folded?.forward ??
    ((x) => {
      const [probabilities, feats] = twoOutputs!.predict(x, { batchSize: x.shape[0] }) as tf.Tensor2D[];
      return { probabilities: probabilities!, features: feats! };
    });
  const means =
    prototypes &&
    tf.tensor2d(
      prototypes.means.flatMap((m) => m ?? new Array<number>(featureSize).fill(0)),
      [NUM_CLASSES, featureSize],
    );
  const present = prototypes && tf.tensor1d(prototypes.means.map((m) => (m ? 1 : 0)));
  const forward: Forward = !prototypes
    ? network
    : (x) => {
        const out = network(x);
        return {
          probabilities: blendPrototypes(out.probabilities, out.features, prototypes, means!, present!),
          features: out.features,
        };
      };
  const classify = (images: Uint8Array, count: number, options: ClassifyOptions = {}): NetworkOutputs => {
    const batchSize = options.batchSize ?? 256;
    const probs = new Float32Array(count * NUM_CLASSES);
    const feats = options.features ? new Float32Array(count * featureSize) : undefined;
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      tf.tidy(() => {
        const bytes = images.subarray(start * PIXELS, (start + n) * PIXELS);
        const x = tf.div(tf.tensor4d(Float32Array.from(bytes), [n, IMAGE_SIZE, IMAGE_SIZE, 1]), 255) as tf.Tensor4D;
        const out = forward(x);
        const p = out.probabilities.dataSync() as Float32Array;
        probs.set(p, start * NUM_CLASSES);
        if (feats) feats.set(out.features.dataSync() as Float32Array, start * featureSize);
        const rows = rowsToMirror(p, n, options.flipAverage ?? false);
        if (rows.length === 0) return;
        // Averaged into our own arrays: dataSync may hand back the backend's buffer, which is not ours to change.
        const picked = rows.length === n ? x : tf.gather(x, tf.tensor1d(rows, 'int32'));
        const mirrored = forward(tf.reverse(picked, 2));
        const average = (into: Float32Array, from: Float32Array, width: number) =>
          rows.forEach((row, j) => {
            for (let k = 0; k < width; k++) {
              const at = (start + row) * width + k;
              into[at] = (into[at]! + from[j * width + k]!) / 2;
            }
          });
        average(probs, mirrored.probabilities.dataSync() as Float32Array, NUM_CLASSES);
        if (feats) average(feats, mirrored.features.dataSync() as Float32Array, featureSize);
      });
    }
    return { probabilities: probs, features: feats };
  };
  return {
    featureSize,
    classify,
    probabilities: (images, count, options) => classify(images, count, options).probabilities,
    dispose: () => {
      folded?.dispose();
      tf.dispose([means, present].filter((t) => t !== undefined));
    },
  };
}

/** `inferenceNetwork(model).probabilities(…)` once, for a model whose weights may change between calls. */
export function predictProbabilities(
  model: tfl.LayersModel,
  images: Uint8Array,
  count: number,
  options: { batchSize?: number; flipAverage?: FlipAveraging } = {},
): Float32Array {
  const network = inferenceNetwork(model);
  try {
    return network.probabilities(images, count, options);
  } finally {
    network.dispose();
  }
}
