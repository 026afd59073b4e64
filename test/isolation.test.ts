import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { defaultModelDir } from '../electron/appPaths.ts';
import { IMAGE_SIZE, loadFashionMnist, PIXELS } from '../electron/dataset/fashionMnist.ts';
import { seededRandom } from '../electron/ml/augment.ts';
import { startPredictor } from '../electron/ml/inference.ts';
import { isolateGarment } from '../electron/photos/isolate.ts';
import { OUTLINE_POINTS } from '../electron/photos/outline.ts';
import { renderPackshot } from './fixtures/samplePhotos.ts';
import {
  convertPhoto,
  THUMBNAIL_SIZE,
  toFashionMnist,
  TONE_FLOOR,
  type ConversionOptions,
  type RawImage,
} from '../electron/photos/photoPipeline.ts';
import { NUM_CLASSES } from '../contract/categories.ts';

const data = await loadFashionMnist({ allowDownload: false });
const image = (i: number) => data.test.images.subarray(i * PIXELS, (i + 1) * PIXELS);
const predictor = await startPredictor(defaultModelDir());
after(() => predictor.close());

type Background = 'gradient' | 'texture' | 'shadow' | 'wall' | 'white' | 'floating';
type Rgb = [number, number, number];

/**
 * A generated product photo with a known mask: Fashion-MNIST test image `index` upscaled to `garment` pixels
 * is the garment's shape and shading (its pixels above 40 of 255 are the mask), coloured `colour` (or near
 * white with a darker seam along its outline for 'white'), placed in a `frame` on a generated background:
 * a studio gradient with a vignette, a concrete-like texture, white with a soft shadow under the garment,
 * a coloured wall with a gradient, white, or white with the garment (near white, as on 'white') floating above its
 * soft shadow. Returns the PNG and the mask at the photo's size.
 */
async function scene(
  index: number,
  background: Background,
  options: { frame?: { width: number; height: number }; garment?: number; colour?: Rgb } = {},
) {
  const { width, height } = options.frame ?? { width: 600, height: 500 };
  const size = options.garment ?? 340;
  const colour = options.colour ?? [40, 60, 150];
  const shape = await sharp(Buffer.from(image(index)), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(size, size, { kernel: 'lanczos3' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  const left = (width - size) >> 1;
  const top = Math.max(0, ((height - size) >> 1) - Math.round(0.05 * height));
  const random = seededRandom(index + 7);
  // Texture: smoothed noise, grey around 150 with ±40 blotches and grain.
  const noise =
    background === 'texture'
      ? await sharp(
          Buffer.from(Array.from({ length: (width >> 3) * (height >> 3) }, () => Math.floor(random() * 255))),
          { raw: { width: width >> 3, height: height >> 3, channels: 1 } },
        )
          .resize(width, height, { kernel: 'cubic' })
          .raw()
          .toBuffer()
      : undefined;
  const mask = new Uint8Array(width * height);
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const u = x / width - 0.5;
      const v = y / height - 0.5;
      let bg: Rgb;
      switch (background) {
        case 'gradient': {
          const l = 235 - 50 * (y / height) - 80 * (u * u + v * v);
          bg = [l, l, l + 4];
          break;
        }
        case 'texture': {
          const l = 110 + 0.35 * noise![p]! + 20 * (random() - 0.5);
          bg = [l, l - 3, l - 6];
          break;
        }
        case 'wall': {
          const k = 1 - 0.25 * (x / width);
          bg = [200 * k, 170 * k, 120 * k];
          break;
        }
        // A soft elliptical shadow under the garment's bottom edge, darkening white to 0.72 at its centre.
        case 'shadow':
          bg = softShadow(x - width / 2, y - (top + size * 0.97), 0.42 * size, 0.07 * size, 0.28);
          break;
        case 'white':
          bg = [255, 255, 255];
          break;
        // A packshot floating above its shadow: a soft ellipse a tenth of the garment below it, darkening white to 0.7.
        case 'floating':
          bg = softShadow(x - width / 2, y - (top + size * 1.1), 0.3 * size, 0.03 * size, 0.3);
          break;
      }
      let out = bg;
      const gx = x - left;
      const gy = y - top;
      if (gx >= 0 && gy >= 0 && gx < size && gy < size && shape[gy * size + gx]! > 40) {
        mask[p] = 1;
        const g = shape[gy * size + gx]! / 255;
        out =
          background === 'white' || background === 'floating'
            ? [252 - 30 * g, 252 - 30 * g, 250 - 30 * g]
            : (colour.map((c) => c * (0.55 + 0.45 * g)) as Rgb);
      }
      rgb.set(
        out.map((c) => Math.max(0, Math.min(255, Math.round(c)))),
        p * 3,
      );
    }
  }
  if (background === 'white' || background === 'floating') {
    // A light garment on white is seen by its seams and the shading at its outline.
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        const p = y * width + x;
        if (mask[p] && (!mask[p - 1] || !mask[p + 1] || !mask[p - width] || !mask[p + width]))
          rgb.set([190, 190, 190], p * 3);
      }
    }
  }
  const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return { png, mask, width, height };
}

/** White darkened by a Gaussian ellipse of radii `rx`, `ry` to 1 − `depth` at its centre, at `dx`, `dy` from it (pixels). */
function softShadow(dx: number, dy: number, rx: number, ry: number, depth: number): Rgb {
  const l = 255 * (1 - depth * Math.exp(-((dx / rx) ** 2 + (dy / ry) ** 2)));
  return [l, l, l];
}

/** The photo as the pipeline first decodes it (at most the thumbnail size, on white), and the mask at that size. */
async function decoded(s: {
  png: Buffer;
  mask: Uint8Array;
  width: number;
  height: number;
}): Promise<{ raw: RawImage; truth: Uint8Array }> {
  const { data: pixels, info } = await sharp(s.png)
    .resize({ width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE, fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const truth = new Uint8Array(info.width * info.height);
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++)
      truth[y * info.width + x] =
        s.mask[
          Math.floor(((y + 0.5) * s.height) / info.height) * s.width + Math.floor(((x + 0.5) * s.width) / info.width)
        ]!;
  }
  return { raw: { data: pixels, width: info.width, height: info.height, channels: info.channels }, truth };
}

function iou(a: Uint8Array, b: Uint8Array): number {
  let both = 0;
  let either = 0;
  for (let p = 0; p < a.length; p++) {
    if (a[p] && b[p]) both++;
    if (a[p] || b[p]) either++;
  }
  return both / either;
}

// Test images of different classes: 0 Ankle boot, 1 Pullover, 4 Shirt, 12 Sneaker, 10 Coat, 13 Dress, 19 T-shirt;
// 2 Trouser and 18 Bag have a gap and a handle's hole that the mask may partly fill (a lower bar, below).
const SOLID = [0, 1, 4, 12, 10, 13, 19];
const GARMENTS = [...SOLID, 2, 18];
const BACKGROUNDS: Background[] = ['gradient', 'texture', 'shadow', 'wall', 'white'];

test('the garment is found on gradients, textures, soft shadows, coloured walls and white: mask IoU >= 0.9', async () => {
  const worst: string[] = [];
  for (const background of BACKGROUNDS) {
    for (const index of GARMENTS) {
      const { raw, truth } = await decoded(await scene(index, background));
      const found = isolateGarment(raw);
      assert.ok(found, `${background} ${index}: nothing found`);
      const score = iou(found.mask, truth);
      // The closing that joins an outline bridges the narrow gap between trouser legs at their hem and the
      // filling then closes it (on white, and under a white shadow, a gap cannot be told from a white garment's inside).
      const least = SOLID.includes(index) ? 0.9 : 0.85;
      if (score < least) worst.push(`${background} ${index}: IoU ${score.toFixed(3)}`);
    }
  }
  assert.deepEqual(worst, []);
});

/** Today's conversion as it was before isolation: no isolation, nearest neighbour, no tone lift. */
const PAPER_ONLY: ConversionOptions = { isolate: false, reduce: 'nearest', tones: false };
/** The app's conversion: isolation is on by default (photoPipeline.ts's ConversionOptions). */
const ISOLATED: ConversionOptions = {};

test("a tiny sandal in a huge frame is converted from its own pixels, not from the few the whole frame's decode gives it", async () => {
  const far = await scene(8, 'gradient', { frame: { width: 4000, height: 3000 }, garment: 200 });
  const near = await scene(8, 'gradient', { frame: { width: 320, height: 240 }, garment: 200 });
  const { raw } = await decoded(far);
  // At the decode's size the sandal is 13 pixels wide; it is still found.
  assert.ok(isolateGarment(raw), 'nothing found');
  const difference = (a: Uint8Array, b: Uint8Array) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0) / PIXELS;
  const nearInput = (await convertPhoto(near.png, ISOLATED)).pixels;
  const now = difference((await convertPhoto(far.png, ISOLATED)).pixels, nearInput);
  // Converted from the whole frame's decode instead, as before.
  const coarse = difference(toFashionMnist(raw, ISOLATED), nearInput);
  // 10.6 against 19.9 when this was written; what remains is resampling at two other scales.
  assert.ok(
    now < 0.6 * coarse,
    `the sandal in a 4000×3000 and in a 320×240 frame differ by ${now.toFixed(1)} of 255 (by ${coarse.toFixed(1)} from the whole frame's decode)`,
  );
});

test("garments on backgrounds that are not white are classified right where the paper's conversion alone gets them wrong", async () => {
  const photos: Buffer[] = [];
  const labels: number[] = [];
  for (const background of ['gradient', 'texture', 'wall'] as const) {
    for (const index of GARMENTS) {
      photos.push((await scene(index, background)).png);
      labels.push(data.test.labels[index]!);
    }
  }
  const accuracy = async (options: ConversionOptions) => {
    const inputs = await Promise.all(photos.map(async (png) => (await convertPhoto(png, options)).pixels));
    const p = await predictor.predictEach(inputs);
    return (
      labels.filter((label, i) => {
        const row = p.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES);
        return row.indexOf(Math.max(...row)) === label;
      }).length / labels.length
    );
  };
  const before = await accuracy(PAPER_ONLY);
  const now = await accuracy(ISOLATED);
  assert.ok(before < 0.5, `the paper's conversion alone: ${(100 * before).toFixed(0)}%`);
  // 79% when this was written: see the notes on what still fails.
  assert.ok(
    now >= 0.75,
    `with isolation: ${(100 * now).toFixed(0)}% (the paper's conversion alone: ${(100 * before).toFixed(0)}%)`,
  );
});

test("a packshot on white converts as the paper's conversion alone does (tones aside)", async () => {
  const differing: string[] = [];
  for (const index of GARMENTS) {
    const png = await renderPackshot(image(index), {
      garment: 300,
      margins: { top: 30, bottom: 50, left: 20, right: 40 },
      format: 'png',
    });
    const a = await convertPhoto(png, { ...ISOLATED, tones: false });
    const b = await convertPhoto(png, PAPER_ONLY);
    const pixels = a.pixels.filter((v, i) => Math.abs(v - b.pixels[i]!) > 2).length;
    if (pixels > 8) differing.push(`${index}: ${pixels} pixels`);
  }
  // The ankle boot (0) differs in 125 pixels when this was written: a faint part of its outline is left out and
  // the trim's box moves by a pixel. The rendered-packshot fidelity measures what that costs (test/fidelity.test.ts).
  assert.ok(differing.length <= 1, differing.join(', '));
});

/** The bounding box (rows and columns, inclusive) of a 28×28 input's garment pixels (above 20 of 255). */
function inputBox(pixels: Uint8Array): [number, number, number, number] {
  let [top, bottom, left, right] = [IMAGE_SIZE, -1, IMAGE_SIZE, -1];
  pixels.forEach((v, i) => {
    if (v <= 20) return;
    const [y, x] = [Math.floor(i / IMAGE_SIZE), i % IMAGE_SIZE];
    [top, bottom, left, right] = [Math.min(top, y), Math.max(bottom, y), Math.min(left, x), Math.max(right, x)];
  });
  return [top, bottom, left, right];
}

/** The rows of a 28×28 input within its box (inputBox) without a garment pixel: a gap between the garment and its shadow. */
function emptyRows(pixels: Uint8Array): number {
  const [top, bottom] = inputBox(pixels);
  let empty = 0;
  for (let y = top; y <= bottom; y++)
    if (pixels.subarray(y * IMAGE_SIZE, (y + 1) * IMAGE_SIZE).every((v) => v <= 20)) empty++;
  return empty;
}

/** The median of a 28×28 input's garment pixels (above 20 of 255). */
const garmentMedian = (pixels: Uint8Array) => {
  const garment = Array.from(pixels)
    .filter((v) => v > 20)
    .sort((a, b) => a - b);
  return garment[garment.length >> 1]!;
};

test("a white garment floating above its soft shadow on white: the shadow is left out of the input and the garment's tones are lifted", async () => {
  for (const index of SOLID) {
    const floating = (await scene(index, 'floating')).png;
    const now = (await convertPhoto(floating, ISOLATED)).pixels;
    const paper = (await convertPhoto(floating, PAPER_ONLY)).pixels;
    // The same garment on white without a shadow, as the paper converts it: where the garment is at 28 px.
    const alone = (await convertPhoto((await scene(index, 'white')).png, PAPER_ONLY)).pixels;
    // Tones aside (lifted, faint rows rise above the box's level of 20), and reduced as `alone` is (the app
    // averages over this garment's texture, which moves its faint outline by a pixel).
    const untoned = (await convertPhoto(floating, { ...ISOLATED, tones: false, reduce: 'nearest' })).pixels;
    assert.deepEqual(inputBox(untoned), inputBox(alone), `${index}: the garment's box without its shadow`);
    // The paper's conversion keeps the shadow in the trim's box: it shows below the garment, an empty row between.
    assert.ok(
      emptyRows(paper) > 0 && emptyRows(now) === 0,
      `${index}: empty rows within the box ${emptyRows(paper)} (paper), ${emptyRows(now)}`,
    );
    assert.ok(
      garmentMedian(now) >= TONE_FLOOR - 3,
      `${index}: garment median ${garmentMedian(now)}, paper's ${garmentMedian(paper)}`,
    );
  }
});

test("a white garment on plain white, without a shadow: its tones are lifted as a floating one's are", async () => {
  for (const index of SOLID) {
    const png = (await scene(index, 'white')).png;
    const now = garmentMedian((await convertPhoto(png, ISOLATED)).pixels);
    const untoned = garmentMedian((await convertPhoto(png, { ...ISOLATED, tones: false })).pixels);
    // Negated, a white garment on white is nearly black: only its seams show.
    assert.ok(untoned < TONE_FLOOR - 10, `${index}: garment median ${untoned} without the lift`);
    assert.ok(now >= TONE_FLOOR - 3, `${index}: garment median ${now} (${untoned} without the lift)`);
  }
});

test('a garment reaching across the bottom edge does not pull the background model to its colour: mask IoU >= 0.9', async () => {
  // The frame cuts the garment off at the bottom: a third of the bottom edge, a tenth of the border band, is garment.
  for (const index of [1, 4, 10]) {
    const { raw, truth } = await decoded(await scene(index, 'texture', { frame: { width: 600, height: 300 } }));
    const found = isolateGarment(raw);
    assert.ok(found, `${index}: nothing found`);
    assert.ok(iou(found.mask, truth) >= 0.9, `${index}: IoU ${iou(found.mask, truth).toFixed(3)}`);
  }
});

test("TONE_FLOOR is where Fashion-MNIST's light garments are: the 5th percentile of the per-image median garment pixel", () => {
  const medians: number[] = [];
  for (let i = 0; i < data.test.count; i++) {
    const garment = Array.from(image(i))
      .filter((v) => v > 0)
      .sort((a, b) => a - b);
    medians.push(garment[garment.length >> 1]!);
  }
  medians.sort((a, b) => a - b);
  const p5 = medians[Math.floor(0.05 * medians.length)]!;
  assert.ok(Math.abs(p5 - TONE_FLOOR) <= 5, `5th percentile on the test set ${p5}, TONE_FLOOR ${TONE_FLOOR}`);
});

/** The pixels of a `width`×`height` image whose centres lie inside the outline (0–1 polygons, even–odd rule). */
function rasterize(outline: number[][], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const py = (y + 0.5) / height;
    for (let x = 0; x < width; x++) {
      const px = (x + 0.5) / width;
      let inside = false;
      for (const polygon of outline) {
        for (let i = 0, j = polygon.length - 2; i < polygon.length; j = i, i += 2) {
          const [xi, yi, xj, yj] = [polygon[i]!, polygon[i + 1]!, polygon[j]!, polygon[j + 1]!];
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      out[y * width + x] = inside ? 1 : 0;
    }
  }
  return out;
}

test('the import keeps an outline of the isolated garment, a few dozen points that cover its known mask (IoU >= 0.9)', async () => {
  for (const background of ['texture', 'wall', 'gradient'] as const) {
    for (const index of SOLID.slice(0, 4)) {
      const s = await scene(index, background);
      const photo = await convertPhoto(s.png);
      assert.ok(photo.outline, `${background} ${index}: an outline`);
      const points = photo.outline.reduce((n, polygon) => n + polygon.length / 2, 0);
      assert.ok(points >= 4 && points <= OUTLINE_POINTS, `${background} ${index}: ${points} points`);
      const overlap = iou(rasterize(photo.outline, s.width, s.height), s.mask);
      assert.ok(overlap >= 0.9, `${background} ${index}: outline IoU ${overlap.toFixed(3)}`);
    }
  }
  // A packshot on white needs no isolation, so it has no outline.
  assert.equal(
    (
      await convertPhoto(
        await renderPackshot(image(1), {
          garment: 300,
          margins: { top: 30, bottom: 50, left: 20, right: 40 },
          format: 'png',
        }),
      )
    ).outline,
    undefined,
  );
});

/**
 * A cut-out packshot (PNG with a transparent background) of test image `index` as in `scene`, coloured `colour`, at
 * `opacity` (0–1; sheer fabric below 1), with `shadow`: a soft elliptical shadow under the garment that touches its
 * bottom edge, half-transparent black at most 0.45 opaque, as cut-out tools draw them; `flat`: the same composited
 * onto white without alpha.
 */
async function cutout(
  index: number,
  options: { shadow?: boolean; flat?: boolean; opacity?: number; colour?: Rgb } = {},
): Promise<Buffer> {
  const { shadow = false, flat = false, opacity = 1, colour = [40, 60, 150] } = options;
  const size = 340;
  const [width, height] = [600, 500];
  const shape = await sharp(Buffer.from(image(index)), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } })
    .resize(size, size, { kernel: 'lanczos3' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  const [left, top] = [(width - size) >> 1, 60];
  const rows = Array.from({ length: size }, (_, gy) => shape.subarray(gy * size, (gy + 1) * size).some((v) => v > 40));
  const bottom = top + rows.lastIndexOf(true);
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const [gx, gy] = [x - left, y - top];
      const g = gx >= 0 && gy >= 0 && gx < size && gy < size ? shape[gy * size + gx]! : 0;
      if (g > 40) {
        const shade = colour.every((c) => c > 200) ? 1 - (0.04 * g) / 255 : 0.55 + (0.45 * g) / 255;
        rgba.set([...colour.map((c) => Math.round(c * shade)), Math.round(255 * opacity)], p);
      } else if (shadow) {
        const d = ((x - width / 2) / (0.45 * size)) ** 2 + ((y - bottom) / (0.06 * size)) ** 2;
        rgba.set([0, 0, 0, Math.round(255 * 0.45 * Math.exp(-d))], p);
      }
    }
  }
  const png = sharp(rgba, { raw: { width, height, channels: 4 } });
  return (flat ? png.flatten({ background: '#ffffff' }) : png).png().toBuffer();
}

/** The most any side of `a`'s box (inputBox) is off that of `b`, in pixels of the 28×28 input. */
const boxOffBy = (a: Uint8Array, b: Uint8Array) =>
  Math.max(...inputBox(a).map((side, k) => Math.abs(side - inputBox(b)[k]!)));

test("a cut-out packshot's half-transparent shadow, touching the product, is left out of the input", async () => {
  for (const index of SOLID) {
    const alone = (await convertPhoto(await cutout(index))).pixels;
    const shaded = (await convertPhoto(await cutout(index, { shadow: true }))).pixels;
    // The same photo flattened onto white: the shadow is then grey pixels joined to the product.
    const flattened = (await convertPhoto(await cutout(index, { shadow: true, flat: true }))).pixels;
    // Each side of the product's box where the shadowless cut-out's is, within the pixel a blended edge may move it.
    const offBy = (a: Uint8Array) => boxOffBy(a, alone);
    assert.ok(
      offBy(shaded) <= 1,
      `${index}: the box ${inputBox(shaded).join(',')}, without a shadow ${inputBox(alone).join(',')}`,
    );
    assert.ok(offBy(flattened) >= 2, `${index}: flattened, the shadow is in the box ${inputBox(flattened).join(',')}`);
    // The bottom edge blends with the shadow in the thumbnail-sized decode: a little of it stays (2.8 of 255 on
    // average for the ankle boot when this was written, against 30.7 flattened).
    const from = (a: Uint8Array) => a.reduce((sum, v, i) => sum + Math.abs(v - alone[i]!), 0) / PIXELS;
    assert.ok(
      from(shaded) <= 4 && from(shaded) <= 0.2 * from(flattened),
      `${index}: ${from(shaded).toFixed(1)} of 255 from the shadowless cut-out's input on average (flattened ${from(flattened).toFixed(1)})`,
    );
  }
});

test('a cut-out drawn part-transparent throughout (sheer), or white, keeps its whole product, and its shadow is left out', async () => {
  for (const index of SOLID) {
    const opaque = (await convertPhoto(await cutout(index))).pixels;
    const sheer = (await convertPhoto(await cutout(index, { shadow: true, opacity: 0.6 }))).pixels;
    assert.ok(boxOffBy(sheer, opaque) <= 1, `${index}: sheer, the box ${inputBox(sheer).join(',')}`);
    // A white product is found by its transparency, not its colour (within 5 % of white, the trim finds nothing),
    // and its tones are lifted as a white garment's on white are.
    const white = (await convertPhoto(await cutout(index, { shadow: true, colour: [246, 246, 246] }))).pixels;
    assert.ok(boxOffBy(white, opaque) <= 1, `${index}: white, the box ${inputBox(white).join(',')}`);
    assert.ok(garmentMedian(white) >= TONE_FLOOR - 3, `${index}: white, garment median ${garmentMedian(white)}`);
  }
});
