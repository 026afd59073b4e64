/**
 * A leaner gradient for FusedBatchNorm, for every backend. tfjs-core's version tiles the
 * per-channel 1/σ to the full activation shape before multiplying (a broadcast does the same),
 * which made Tile the most expensive kernel of a training step on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';

const fusedBatchNormGrad: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as tf.Tensor[];
    const dyT = dy as tf.Tensor;
    const axes = tf.backend_util.getReductionAxes(mean!.shape, x!.shape);
    const reduce = (t: tf.Tensor) => tf.reshape(axes.length ? tf.sum(t, axes) : t, mean!.shape);
    const scaleValue = scale ?? tf.scalar(1);
    const rstd = tf.rsqrt(tf.add(variance!, varianceEpsilon));
    const centered = tf.sub(x!, mean!);
    // Σ dy·(x-μ) serves both the scale and the variance gradient.
    const dyCentered = reduce(tf.mul(dyT, centered));
    const dySum = reduce(dyT);
    return {
      x: () => tf.mul(dyT, tf.mul(rstd, scaleValue)),
      mean: () => tf.mul(tf.neg(dySum), tf.mul(rstd, scaleValue)),
      variance: () => tf.mul(dyCentered, tf.mul(tf.mul(scaleValue, tf.pow(rstd, 3)), -0.5)),
      scale: () => tf.mul(dyCentered, rstd),
      offset: () => dySum,
    };
  },
};

export function registerGradients(): void {
  tf.registerGradient(fusedBatchNormGrad);
}
