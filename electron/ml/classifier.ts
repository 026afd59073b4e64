import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES, PIXELS } from '../dataset/fashionMnist.ts';

/**
 * Class probabilities for `count` 28×28 grayscale images (bytes, Fashion-MNIST polarity: garment bright
 * on black). With `flipAverage`, each image is also classified mirrored and the two results averaged.
 */
export function predictProbabilities(model: tfl.LayersModel, images: Uint8Array, count: number, options: { batchSize?: number; flipAverage?: boolean } = {}): Float32Array {
  const batchSize = options.batchSize ?? 256;
  const probs = new Float32Array(count * NUM_CLASSES);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const out = tf.tidy(() => {
      const bytes = images.subarray(start * PIXELS, (start + n) * PIXELS);
      const x = tf.div(tf.tensor4d(Float32Array.from(bytes), [n, IMAGE_SIZE, IMAGE_SIZE, 1]), 255) as tf.Tensor4D;
      let p = model.predict(x) as tf.Tensor;
      if (options.flipAverage) p = tf.div(tf.add(p, model.predict(tf.reverse(x, 2)) as tf.Tensor), 2);
      return p.dataSync() as Float32Array;
    });
    probs.set(out, start * NUM_CLASSES);
  }
  return probs;
}
