import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import {
  augmentBatch,
  DEFAULT_AUGMENT,
  formatAugment,
  parseAugment,
  type AugmentOptions,
} from '../electron/ml/augment.ts';

const data = await loadFashionMnist({ allowDownload: false });
const indices = Int32Array.from({ length: 64 }, (_, i) => i * 101);
/** No shift, flip or erasing: each output pixel is its source pixel unless a real-input augmentation changed it. */
const NONE: AugmentOptions = { shift: 0, flip: 0, erase: 0 };

function batch(options: AugmentOptions, seed = 5): Float32Array {
  const out = new Float32Array(indices.length * PIXELS);
  augmentBatch(data.train.images, indices, out, options, seed);
  return out;
}
/** The source pixel of output pixel k, as the float32 the output holds. */
const source = (k: number) =>
  Math.fround(data.train.images[indices[Math.floor(k / PIXELS)]! * PIXELS + (k % PIXELS)]! / 255);

test('augmentation is deterministic for a seed and differs between seeds', () => {
  const options = { ...DEFAULT_AUGMENT, scale: 0.1, tone: 0.5, edge: 0.5, residue: 0.5 };
  assert.deepEqual(batch(options, 9), batch(options, 9));
  assert.notDeepEqual(batch(options, 9), batch(options, 10));
});

test('every augmentation keeps values within 0..1', () => {
  const out = batch({ shift: 2, flip: 0.5, erase: 0.3, scale: 0.2, tone: 1, edge: 1, residue: 1 });
  assert.ok(
    out.every((v) => v >= 0 && v <= 1),
    `values from ${Math.min(...out)} to ${Math.max(...out)}`,
  );
});

test('the tone change reaches the garment and leaves the background black', () => {
  const out = batch({ ...NONE, tone: 1 });
  let changed = 0;
  out.forEach((v, k) => {
    if (source(k) === 0) assert.equal(v, 0, `background pixel ${k} changed`);
    else if (Math.abs(v - source(k)) > 1e-3) changed++;
  });
  assert.ok(changed > 0.5 * out.filter((_, k) => source(k) > 0).length, `only ${changed} garment pixels changed`);
});

test('a changed outline only dims or drops garment pixels, and leftover background only fills background pixels', () => {
  const edged = batch({ ...NONE, edge: 1 });
  edged.forEach((v, k) => assert.ok(v <= source(k) + 1e-6, `pixel ${k} brighter than its source`));
  assert.ok(
    edged.some((v, k) => v < source(k)),
    'no outline pixel changed',
  );
  const left = batch({ ...NONE, residue: 1 });
  let filled = 0;
  left.forEach((v, k) => {
    if (source(k) > 0) assert.equal(v, source(k), `garment pixel ${k} changed`);
    else if (v > 0) {
      filled++;
      assert.ok(v <= 0.25, `leftover background ${v} is not faint`);
    }
  });
  assert.ok(filled > 0, 'no leftover background');
});

test('turning the real-input augmentations on leaves the shift, flip and erasing draws as they were', () => {
  const paper = batch(DEFAULT_AUGMENT);
  const toned = batch({ ...DEFAULT_AUGMENT, tone: 1 });
  // The tone change keeps black pixels black: with the same shift, flip and erasing, every black pixel stays black.
  paper.forEach((v, k) => {
    if (v === 0) assert.equal(toned[k], 0, `pixel ${k}`);
  });
  assert.notDeepEqual(toned, paper);
});

test('--augment reads key=value pairs over the defaults and writes back what differs', () => {
  const options = parseAugment('tone=0.5, edge=0.3,erase=0');
  assert.deepEqual(options, { ...DEFAULT_AUGMENT, tone: 0.5, edge: 0.3, erase: 0 });
  assert.equal(formatAugment(options), 'erase=0,tone=0.5,edge=0.3');
  assert.deepEqual(parseAugment(formatAugment(options)), options);
  assert.equal(formatAugment(DEFAULT_AUGMENT), '');
  assert.throws(() => parseAugment('blur=1'), /"blur=1"/);
  assert.throws(() => parseAugment('tone=-1'), /"tone=-1"/);
});

test('a pair makes each shoe two, side by side and fitted to the frame, and leaves the other categories alone', () => {
  const labels = data.train.labels;
  const out = new Float32Array(indices.length * PIXELS);
  augmentBatch(data.train.images, indices, out, { ...NONE, pair: 1 }, 5, labels);
  const columns = (image: ArrayLike<number>) => {
    const used = new Set<number>();
    for (let i = 0; i < PIXELS; i++) if (image[i]! > 0) used.add(i % 28);
    return used.size;
  };
  let shoes = 0;
  for (let n = 0; n < indices.length; n++) {
    const image = out.subarray(n * PIXELS, (n + 1) * PIXELS);
    const original = data.train.images.subarray(indices[n]! * PIXELS, (indices[n]! + 1) * PIXELS);
    if (![5, 7, 9].includes(labels[indices[n]!]!)) {
      assert.deepEqual(
        image,
        Float32Array.from(original, (v) => v / 255),
        `image ${n} is not a shoe`,
      );
      continue;
    }
    shoes++;
    // Fashion-MNIST's shoes span the frame's width already; a pair fitted to it spans it too (within the
    // rounding of the rescale) and is a different image.
    assert.notDeepEqual(
      image,
      Float32Array.from(original, (v) => v / 255),
      `shoe ${n} unchanged`,
    );
    assert.ok(
      columns(image) >= columns(original) - 2,
      `shoe ${n}: ${columns(image)} columns, ${columns(original)} before`,
    );
    assert.ok(image.every((v) => v >= 0 && v <= 1));
  }
  assert.ok(shoes >= 10, `${shoes} shoes among the sampled images`);
  // Without labels a pair cannot tell a shoe, and nothing changes.
  const unlabelled = new Float32Array(indices.length * PIXELS);
  augmentBatch(data.train.images, indices, unlabelled, { ...NONE, pair: 1 }, 5);
  assert.deepEqual(unlabelled, batch(NONE));
});
