/**
 * Leaner batch norm for training, for every backend. tfjs differentiates a batch norm layer in training
 * as the composition of its moments and batchNorm ops, each with its own gradient: about twenty passes
 * over the activations per layer, where nine and four reductions do.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BatchNormalization } from '@tensorflow/tfjs-layers/dist/layers/normalization.js';

/**
 * FusedBatchNorm's gradient (batch norm with fixed statistics: inference mode, or frozen while
 * fine-tuning). tfjs-core's version tiles the per-channel 1/σ to the full activation shape before
 * multiplying (a broadcast does the same), which made Tile the most expensive kernel of a step on wasm.
 */
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

/**
 * Batch norm over all axes but the last with the batch's own statistics, as one op with the closed-form
 * gradient: dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)), dγ = Σ dy·x̂, dβ = Σ dy, where x̂ = (x − μ)/σ.
 * Nine elementwise passes over the activations and four reductions, against about twenty passes in
 * tfjs's composition. The variance is the batch's own (divided by N), as tfjs-layers has it. The caller
 * disposes the returned mean and variance.
 */
function batchNormInTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.rank - 1]!;
  let statistics: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const normalize = tf.customGrad((...args) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const mean = tf.mean(x, axes) as tf.Tensor1D;
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axes) as tf.Tensor1D;
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const scale = tf.mul(gamma, rstd);
    // The op's forward runs in a tidy of its own: the statistics leave it kept, and the caller disposes them.
    statistics = { mean: tf.keep(mean), variance: tf.keep(variance) };
    save([centered, rstd, scale]);
    return {
      value: tf.add(tf.mul(centered, scale), beta),
      gradFunc: (dy, saved) => {
        const [centered, rstd, scale] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
        const dBeta = tf.sum(dy, axes);
        const dyCentered = tf.sum(tf.mul(dy, centered), axes);
        // Per channel: x̂·mean(dy·x̂)·γ/σ = centered · γ·dyCentered/(σ³N), and mean(dy)·γ/σ.
        const centeredFactor = tf.div(tf.mul(scale, tf.mul(tf.square(rstd), dyCentered)), count);
        const offset = tf.div(tf.mul(scale, dBeta), count);
        const dx = tf.sub(tf.sub(tf.mul(dy, scale), tf.mul(centered, centeredFactor)), offset);
        return [dx, tf.mul(dyCentered, rstd), dBeta];
      },
    };
  });
  const y = normalize(x, gamma, beta);
  return { y, ...statistics! };
}

/** What the training path below reads of a BatchNormalization layer (private in tfjs-layers' typings). */
interface BatchNormState {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tfl.LayerVariable;
  beta: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

let routed = false;

/**
 * Routes tfjs-layers' BatchNormalization in training mode (channels last, with γ and β) through
 * batchNormInTraining, for every model built or loaded; saved models stay the standard layer. The moving
 * averages are updated exactly as tfjs-layers does. Anything else keeps the layer's own code.
 */
function useBatchNormInTraining(): void {
  if (routed) return;
  routed = true;
  const prototype = Object.getPrototypeOf(tfl.layers.batchNormalization({})) as BatchNormalization;
  const original = prototype.call;
  prototype.call = function (
    this: BatchNormalization,
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: Record<string, unknown>,
  ) {
    const layer = this as unknown as BatchNormState;
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const channelsLast = layer.axis === -1 || layer.axis === input.rank - 1;
    if (
      !kwargs['training'] ||
      !channelsLast ||
      !layer.center ||
      !layer.scale ||
      (Array.isArray(inputs) && inputs.length !== 1)
    ) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormInTraining(
        input,
        layer.gamma.read() as tf.Tensor1D,
        layer.beta.read() as tf.Tensor1D,
        layer.epsilon,
      );
      for (const [moving, batch] of [
        [layer.movingMean, mean],
        [layer.movingVariance, variance],
      ] as const) {
        const current = moving.read();
        moving.write(tf.sub(current, tf.mul(tf.sub(current, batch), 1 - layer.momentum)));
      }
      tf.dispose([mean, variance]);
      return y;
    });
  };
}

export function registerGradients(): void {
  tf.registerGradient(fusedBatchNormGrad);
  useBatchNormInTraining();
}
