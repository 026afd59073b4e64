/**
 * Training kernels for the wasm backend.
 *
 * tfjs-backend-wasm ships no Conv2DBackpropFilter, and its Conv2DBackpropInput is a scalar loop.
 * Both gradients are convolutions themselves, so we express them as XNNPACK-backed Conv2D calls:
 *
 *  - filter gradient: dW[kh,kw,ci,co] = Σ_b,y,x xpad[b, y·s+kh, x·s+kw, ci] · dy[b,y,x,co].
 *    With x transposed to [ci, H, W, b] (batch ↔ channels) and dy to [y, x, b, co] (a filter),
 *    that is a valid convolution with dilation s whose output is [ci, kh, kw, co].
 *  - input gradient (stride 1): dx = conv(dy, W rotated 180° with in/out swapped), padded by k-1-pad.
 */
import {
  backend_util,
  registerKernel,
  unregisterKernel,
  getKernel,
  type KernelConfig,
  type TensorInfo,
  type NamedAttrMap,
} from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

type Attrs = Record<string, unknown>;

/** Runs another wasm kernel directly (no engine bookkeeping: we dispose intermediates ourselves). */
function run(
  backend: WasmBackendLike,
  name: string,
  inputs: Record<string, TensorInfo>,
  attrs: Attrs = {},
): TensorInfo {
  const kernel = getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  return kernel.kernelFunc({ inputs, backend: backend as never, attrs: attrs as NamedAttrMap }) as TensorInfo;
}

function disposeAll(backend: WasmBackendLike, ...infos: TensorInfo[]) {
  for (const info of infos) backend.disposeData(info.dataId);
}

interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface FilterGradAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

function conv2DBackpropFilter({
  inputs,
  backend,
  attrs,
}: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WasmBackendLike;
  attrs: FilterGradAttrs;
}): TensorInfo {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  const { strideHeight, strideWidth, filterHeight, filterWidth, outHeight, outWidth } = info;

  // Pad so that every (y·s + kh) index lands inside the tensor, then crop the surplus output.
  const paddedH = info.inHeight + top + bottom;
  const paddedW = info.inWidth + left + right;
  const padded =
    top || bottom || left || right
      ? run(
          backend,
          'PadV2',
          { x },
          {
            paddings: [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ],
            constantValue: 0,
          },
        )
      : x;
  const xT = run(backend, 'Transpose', { x: padded }, { perm: [3, 1, 2, 0] });
  const dyT = run(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  // The rows/cols of xpad that the convolution can reach: (out-1)·s + k.
  const usedH = (outHeight - 1) * strideHeight + filterHeight;
  const usedW = (outWidth - 1) * strideWidth + filterWidth;
  let xUsed = xT;
  if (usedH < paddedH || usedW < paddedW) {
    xUsed = run(backend, 'Slice', { x: xT }, { begin: [0, 0, 0, 0], size: [-1, usedH, usedW, -1] });
  }
  const grad = run(
    backend,
    'Conv2D',
    { x: xUsed, filter: dyT },
    {
      strides: [1, 1],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [strideHeight, strideWidth],
    },
  );
  const dw = run(backend, 'Transpose', { x: grad }, { perm: [1, 2, 0, 3] });
  disposeAll(backend, xT, dyT, grad);
  if (padded !== x) disposeAll(backend, padded);
  if (xUsed !== xT) disposeAll(backend, xUsed);
  return dw;
}

interface InputGradAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

/**
 * W[kh,kw,ci,co] → W'[K-1-kh, L-1-kw, co, ci] in one pass over the heap; the Reverse and Transpose
 * kernels it replaces cost more than the small filter is worth.
 */
function rotateAndSwapChannels(backend: WasmBackendLike, filter: TensorInfo): TensorInfo {
  const [K, L, ci, co] = filter.shape as [number, number, number, number];
  const out = backend.makeOutput([K, L, co, ci], 'float32');
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(filter);
  for (let kh = 0; kh < K; kh++) {
    for (let kw = 0; kw < L; kw++) {
      const srcBase = ((K - 1 - kh) * L + (L - 1 - kw)) * ci * co;
      const dstBase = (kh * L + kw) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[dstBase + o * ci + i] = src[srcBase + i * co + o]!;
      }
    }
  }
  return out;
}

/** Stride-1 NHWC input gradients as one convolution; the original (scalar-loop) kernel keeps the rest. */
const conv2DBackpropInput =
  (original: KernelConfig) =>
  (args: {
    inputs: { dy: TensorInfo; filter: TensorInfo };
    backend: WasmBackendLike;
    attrs: InputGradAttrs;
  }): TensorInfo => {
    const {
      inputs: { dy, filter },
      backend,
      attrs,
    } = args;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    if (dataFormat === 'NCHW' || info.strideHeight !== 1 || info.strideWidth !== 1) {
      return original.kernelFunc(args as never) as TensorInfo;
    }
    const { top, bottom, left, right } = info.padInfo;
    const k = info.filterHeight;
    const kw = info.filterWidth;
    const swapped = rotateAndSwapChannels(backend, filter);
    const dx = run(
      backend,
      'Conv2D',
      { x: dy, filter: swapped },
      {
        strides: [1, 1],
        dilations: [1, 1],
        dataFormat: 'NHWC',
        pad: [
          [0, 0],
          [k - 1 - top, k - 1 - bottom],
          [kw - 1 - left, kw - 1 - right],
          [0, 0],
        ],
      },
    );
    disposeAll(backend, swapped);
    return dx;
  };

interface PoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Max-pool gradient as one pass over the pooled outputs: each dy goes to its window's first maximum
 * (the same tie rule as tfjs-core). The wasm kernel revisits every input pixel and is ~10× slower.
 * Each window is scanned position by position with the channels innermost, so the loops read the
 * activations contiguously (NHWC) instead of striding across them once per channel.
 */
function maxPoolGrad({
  inputs,
  backend,
  attrs,
}: {
  inputs: { dy: TensorInfo; input: TensorInfo };
  backend: WasmBackendLike;
  attrs: PoolGradAttrs;
}): TensorInfo {
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: C,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(input.shape, 'float32');
  // Views are taken after makeOutput: allocating may grow (and detach) the wasm heap.
  const dx = backend.typedArrayFromHeap(out);
  const x = backend.typedArrayFromHeap(input);
  const g = backend.typedArrayFromHeap(dy);
  dx.fill(0);
  const best = new Float32Array(C);
  const bestIndex = new Int32Array(C);
  const rowStride = inWidth * C;
  for (let b = 0; b < batchSize; b++) {
    const xBase = b * inHeight * rowStride;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      const yFrom = Math.max(0, y0);
      const yTo = Math.min(inHeight, y0 + filterHeight);
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        const xFrom = Math.max(0, x0);
        const xTo = Math.min(inWidth, x0 + filterWidth);
        if (yFrom >= yTo || xFrom >= xTo) continue;
        best.fill(-Infinity);
        bestIndex.fill(-1);
        for (let yy = yFrom; yy < yTo; yy++) {
          for (let xx = xFrom; xx < xTo; xx++) {
            const at = xBase + yy * rowStride + xx * C;
            for (let c = 0; c < C; c++) {
              const v = x[at + c]!;
              if (v > best[c]!) {
                best[c] = v;
                bestIndex[c] = at + c;
              }
            }
          }
        }
        const gBase = ((b * outHeight + oy) * outWidth + ox) * C;
        for (let c = 0; c < C; c++) {
          const i = bestIndex[c]!;
          if (i >= 0) dx[i] = dx[i]! + g[gBase + c]!;
        }
      }
    }
  }
  return out;
}

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * Sum and Mean over the leading axes (batch norm's statistics and gradients reduce [N,H,W,C] to [C]) as
 * one matrix–vector product, [R,C]ᵀ·[R,1]. The wasm kernels first transpose the reduced axes innermost, a
 * full copy that made these reductions cost as much as a convolution in a training step. (The data goes in
 * as the transposed left operand: as the right one it would be packed as XNNPACK weights on every call.)
 * Other reductions keep the original kernel.
 */
function leadingAxesReduction(original: KernelConfig, divideByCount: boolean) {
  return (args: { inputs: { x: TensorInfo }; backend: WasmBackendLike; attrs: ReduceAttrs }): TensorInfo => {
    const {
      inputs: { x },
      backend,
      attrs,
    } = args;
    const shape = x.shape;
    const axes = [
      ...new Set((Array.isArray(attrs.axis) ? attrs.axis : [attrs.axis]).map((a) => (a < 0 ? a + shape.length : a))),
    ].sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < shape.length && axes.every((a, i) => a === i);
    if (!leading || x.dtype !== 'float32' || shape.includes(0)) return original.kernelFunc(args as never) as TensorInfo;
    const kept = shape.slice(axes.length);
    const columns = kept.reduce((a, b) => a * b, 1);
    const rows = shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const weights = backend.makeOutput([1, rows, 1], 'float32');
    backend.typedArrayFromHeap(weights).fill(divideByCount ? 1 / rows : 1);
    const out = run(
      backend,
      'BatchMatMul',
      { a: { ...x, shape: [1, rows, columns] }, b: weights },
      { transposeA: true, transposeB: false },
    );
    disposeAll(backend, weights);
    out.shape = attrs.keepDims ? [...axes.map(() => 1), ...kept] : kept;
    return out;
  };
}

/**
 * Identity (and a Cast to the same type) as a new reference to the same data, as Reshape already is on
 * wasm and both are on the cpu backend. The wasm kernels copy the tensor, and the engine clones every
 * tensor a gradient keeps for the backward pass: about 3% of a training step went to those copies.
 * No wasm kernel writes into its inputs, so sharing is safe.
 */
const sameData =
  (original: KernelConfig) =>
  (args: { inputs: { x: TensorInfo }; backend: WasmBackendLike; attrs?: { dtype?: string } }): TensorInfo => {
    const {
      inputs: { x },
      backend,
      attrs,
    } = args;
    if (x.dtype === 'string' || (attrs?.dtype !== undefined && attrs.dtype !== x.dtype))
      return original.kernelFunc(args as never) as TensorInfo;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };

/** Puts `replacement` in place of a wasm kernel; it gets the original for the cases it leaves to it. */
function replaceWasmKernel(name: string, replacement: (original: KernelConfig) => (args: never) => TensorInfo): void {
  const original = getKernel(name, 'wasm');
  if (!original) throw new Error(`wasm kernel ${name} is not registered`);
  unregisterKernel(name, 'wasm');
  registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: replacement(original) as never,
    setupFunc: original.setupFunc,
  });
}

let registered = false;

/** Registers the wasm training kernels once; call after the wasm backend is set up. */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilter as never,
  });
  replaceWasmKernel('Conv2DBackpropInput', conv2DBackpropInput);
  replaceWasmKernel('Sum', (original) => leadingAxesReduction(original, false));
  replaceWasmKernel('Mean', (original) => leadingAxesReduction(original, true));
  replaceWasmKernel('MaxPoolGrad', () => maxPoolGrad);
  replaceWasmKernel('Identity', sameData);
  replaceWasmKernel('Cast', sameData);
}
