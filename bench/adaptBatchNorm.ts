/**
 * Unsupervised adaptation to a catalog's photos: each batch norm's moving mean and variance re-estimated on
 * the photos' 28×28 inputs (AdaBN: Li, Wang, Shi, Liu and Hou, "Revisiting Batch Normalization For Practical
 * Domain Adaptation", 2016), optionally blended with the statistics learned on Fashion-MNIST.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import * as tfLayers from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, PIXELS } from '../electron/dataset/fashionMnist.ts';

/**
 * Re-estimates, layer by layer in the network's order (each on the inputs as the batch norms before it,
 * already adapted, pass them on), every batch norm's moving statistics on `count` 28×28 images (bytes,
 * Fashion-MNIST polarity): `alpha` × the images' per-channel mean and population variance + (1 − `alpha`) ×
 * the model's own. Changes `model` in place and returns its weights in the order of `model.weights` (as
 * readWeights and publishModel take them). Throws for `count` < 2 or `alpha` outside 0..1.
 */
export function adaptBatchNorm(
  model: tfl.LayersModel,
  images: Uint8Array,
  count: number,
  alpha = 1,
  batchSize = 256,
): Float32Array[] {
  if (count < 2) throw new Error(`adapting batch norm needs at least 2 images, got ${count}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`alpha must be within 0..1, got ${alpha}`);
  for (const bn of model.layers.filter((layer) => layer.getClassName() === 'BatchNormalization')) {
    const upTo = tfLayers.model({ inputs: model.inputs, outputs: bn.input as tfl.SymbolicTensor });
    const channels = (bn.input as tfl.SymbolicTensor).shape.at(-1)!;
    const sum = new Float64Array(channels);
    const squares = new Float64Array(channels);
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const [s, q] = tf.tidy(() => {
        const x = tf.div(
          tf.tensor4d(Float32Array.from(images.subarray(start * PIXELS, (start + n) * PIXELS)), [
            n,
            IMAGE_SIZE,
            IMAGE_SIZE,
            1,
          ]),
          255,
        );
        const y = upTo.predict(x) as tf.Tensor;
        const flat = tf.reshape(y, [-1, channels]);
        return [tf.sum(flat, 0).dataSync(), tf.sum(tf.square(flat), 0).dataSync()];
      });
      s!.forEach((v, c) => (sum[c]! += v));
      q!.forEach((v, c) => (squares[c]! += v));
    }
    const values = count * (bn.input as tfl.SymbolicTensor).shape.slice(1, -1).reduce((a, b) => a! * b!, 1)!;
    const weights = bn.getWeights();
    const names = bn.weights.map((w) => w.originalName ?? w.name);
    const meanAt = names.findIndex((name) => name.endsWith('moving_mean'));
    const varianceAt = names.findIndex((name) => name.endsWith('moving_variance'));
    const oldMean = weights[meanAt]!.dataSync();
    const oldVariance = weights[varianceAt]!.dataSync();
    const mean = Float32Array.from(sum, (v, c) => (1 - alpha) * oldMean[c]! + alpha * (v / values));
    const variance = Float32Array.from(
      squares,
      (v, c) => (1 - alpha) * oldVariance[c]! + alpha * Math.max(0, v / values - (sum[c]! / values) ** 2),
    );
    const updated = weights.map((w, i) =>
      i === meanAt ? tf.tensor1d(mean) : i === varianceAt ? tf.tensor1d(variance) : w,
    );
    bn.setWeights(updated);
    tf.dispose([updated[meanAt]!, updated[varianceAt]!]);
  }
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}
