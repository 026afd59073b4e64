/**
 * Stand-ins for a native TensorFlow backend: the cpu backend registered under another name (the native
 * packages register 'tensorflow'), faithful or with one convolution kernel changed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

export const FLAVOURS = ['faithful', 'tf32', 'wrong-forward', 'wrong-gradient'] as const;
export type Flavour = (typeof FLAVOURS)[number];

type KernelFunc = (args: {
  inputs: Record<string, tf.TensorInfo>;
  backend: MathBackendCPU;
  attrs: tf.NamedAttrMap;
}) => tf.TensorInfo;

/** Keeps 10 mantissa bits, rounding to nearest, as TF32 tensor cores read float32 factors. */
function toTf32(values: Float32Array): Float32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) bits[i] = ((bits[i]! + 0x1000) & ~0x1fff) >>> 0;
  return values;
}

/** Runs `kernel` on its float32 inputs rounded to TF32 (the output stays float32, as on a GPU). */
const tf32Inputs =
  (kernel: KernelFunc): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    // An absent optional input (FusedConv2D's preluActivationWeights) comes as undefined.
    const rounded = Object.fromEntries(
      Object.entries(inputs)
        .filter(([, info]) => info)
        .map(([key, info]) => {
          const values = Float32Array.from(backend.readSync(info.dataId) as Float32Array);
          return [key, backend.makeTensorInfo(info.shape, 'float32', toTf32(values))];
        }),
    );
    const out = kernel({ inputs: rounded, backend, attrs });
    for (const info of Object.values(rounded)) backend.disposeIntermediateTensorInfo(info);
    return out;
  };

/** Scales a kernel's output: 1.01 is the kind of small, systematic error a broken build makes. */
const scaled =
  (kernel: KernelFunc, factor: number): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const out = kernel({ inputs, backend, attrs });
    const values = (backend.readSync(out.dataId) as Float32Array).map((v) => v * factor);
    backend.disposeIntermediateTensorInfo(out);
    return backend.makeTensorInfo(out.shape, 'float32', values);
  };

/** What each flavour does to which cpu kernels. */
const CHANGES: Record<Flavour, Record<string, (kernel: KernelFunc) => KernelFunc>> = {
  faithful: {},
  tf32: {
    Conv2D: tf32Inputs,
    FusedConv2D: tf32Inputs,
    Conv2DBackpropFilter: tf32Inputs,
    Conv2DBackpropInput: tf32Inputs,
  },
  // The fused convolution ignores its bias.
  'wrong-forward': {
    FusedConv2D:
      (kernel) =>
      ({ inputs, backend, attrs }) =>
        kernel({ inputs: { x: inputs['x']!, filter: inputs['filter']! }, backend, attrs }),
  },
  'wrong-gradient': { Conv2DBackpropFilter: (kernel) => scaled(kernel, 1.01) },
};

/**
 * Registers a backend `name` made of the cpu backend's kernels, changed as `flavour` says. Throws when
 * `name` is registered already.
 */
export function registerStandIn(name: string, flavour: Flavour): void {
  if (!tf.registerBackend(name, () => new MathBackendCPU())) throw new Error(`backend ${name} is registered already`);
  for (const config of tf.getKernelsForBackend('cpu')) {
    const change = CHANGES[flavour][config.kernelName];
    const kernelFunc = change ? change(config.kernelFunc as unknown as KernelFunc) : config.kernelFunc;
    tf.registerKernel({ ...config, backendName: name, kernelFunc: kernelFunc as tf.KernelFunc });
  }
}
