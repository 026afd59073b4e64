/**
 * The outline of a garment mask, compact enough to keep per photo in the catalog: each part's outer boundary
 * traced along the pixel edges by marching squares (the single-contour walk of d3-plugins' geom.contour,
 * https://github.com/d3/d3-plugins/blob/master/geom/contour/contour.js, BSD-3-Clause), then simplified by
 * Douglas–Peucker (Douglas and Peucker 1973) until all parts together have at most `maxPoints` vertices.
 */
import type { Isolation } from './isolate.ts';

/** Vertices of all of a photo's outline polygons together, at most: a few dozen draw a garment recognisably. */
export const OUTLINE_POINTS = 64;

/** Parts smaller than this share of the mask are left out of the outline (specks the isolation kept). */
const MIN_PART_SHARE = 0.01;

/** Directions of the walk for each 2×2 neighbourhood case (bit 1 top-left, 2 top-right, 4 bottom-left, 8 bottom-right). */
const STEP_X = [1, 0, 1, 1, -1, 0, -1, 1, 0, 0, 0, 0, -1, 0, -1, NaN];
const STEP_Y = [0, -1, 0, 0, 0, -1, 0, 0, 1, -1, 1, 1, 0, -1, 0, NaN];

/** Each 4-connected part of a mask: a label image (0 background, 1… parts) and each part's pixel count and first pixel. */
function parts(
  mask: Uint8Array,
  width: number,
  height: number,
): { labels: Int32Array; sizes: number[]; starts: number[] } {
  const labels = new Int32Array(width * height);
  const sizes: number[] = [];
  const starts: number[] = [];
  const stack: number[] = [];
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p] || labels[p]) continue;
    const label = sizes.length + 1;
    labels[p] = label;
    stack.push(p);
    let size = 0;
    while (stack.length) {
      const q = stack.pop()!;
      size++;
      const x = q % width;
      for (const r of [x > 0 ? q - 1 : -1, x < width - 1 ? q + 1 : -1, q - width, q + width]) {
        if (r >= 0 && r < mask.length && mask[r] && !labels[r]) {
          labels[r] = label;
          stack.push(r);
        }
      }
    }
    sizes.push(size);
    starts.push(p);
  }
  return { labels, sizes, starts };
}

/**
 * The outer boundary of the part `label` as pixel-corner coordinates (x, y from 0 to width, height), one
 * vertex per change of direction. `start` is the part's first pixel in row order, whose top-left corner is on it.
 */
function trace(labels: Int32Array, width: number, height: number, label: number, start: number): number[] {
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && labels[y * width + x] === label;
  const sx = start % width;
  const sy = Math.floor(start / width);
  const points: number[] = [];
  let x = sx;
  let y = sy;
  let previousX = NaN;
  let previousY = NaN;
  do {
    const i =
      (inside(x - 1, y - 1) ? 1 : 0) + (inside(x, y - 1) ? 2 : 0) + (inside(x - 1, y) ? 4 : 0) + (inside(x, y) ? 8 : 0);
    let dx: number;
    let dy: number;
    // The two saddles turn the way that keeps the walk on this part's side.
    if (i === 6) {
      dx = previousY === -1 ? -1 : 1;
      dy = 0;
    } else if (i === 9) {
      dx = 0;
      dy = previousX === 1 ? -1 : 1;
    } else {
      dx = STEP_X[i]!;
      dy = STEP_Y[i]!;
    }
    if (dx !== previousX && dy !== previousY) {
      points.push(x, y);
      previousX = dx;
      previousY = dy;
    }
    x += dx;
    y += dy;
  } while (x !== sx || y !== sy);
  return points;
}

/** Distance of point p from the line through a and b (from a, when they coincide). */
function offLine(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const length = Math.hypot(dx, dy);
  return length === 0 ? Math.hypot(px - ax, py - ay) : Math.abs(dy * (px - ax) - dx * (py - ay)) / length;
}

/** Douglas–Peucker on the open polyline points[from..to] (vertex indices): which vertices stay, marked in `keep`. */
function simplifyRange(points: number[], from: number, to: number, tolerance: number, keep: Uint8Array): void {
  let farthest = -1;
  let distance = tolerance;
  for (let i = from + 1; i < to; i++) {
    const d = offLine(
      points[2 * i]!,
      points[2 * i + 1]!,
      points[2 * from]!,
      points[2 * from + 1]!,
      points[2 * to]!,
      points[2 * to + 1]!,
    );
    if (d > distance) {
      farthest = i;
      distance = d;
    }
  }
  if (farthest < 0) return;
  keep[farthest] = 1;
  simplifyRange(points, from, farthest, tolerance, keep);
  simplifyRange(points, farthest, to, tolerance, keep);
}

/** A closed polygon simplified: split at its first vertex and the vertex farthest from it, each half by Douglas–Peucker. */
function simplifyClosed(points: number[], tolerance: number): number[] {
  const n = points.length / 2;
  if (n <= 4) return points;
  let far = 0;
  for (let i = 1; i < n; i++) {
    if (
      Math.hypot(points[2 * i]! - points[0]!, points[2 * i + 1]! - points[1]!) >
      Math.hypot(points[2 * far]! - points[0]!, points[2 * far + 1]! - points[1]!)
    )
      far = i;
  }
  const ring = [...points, points[0]!, points[1]!];
  const keep = new Uint8Array(n + 1);
  keep[0] = keep[far] = 1;
  simplifyRange(ring, 0, far, tolerance, keep);
  simplifyRange(ring, far, n, tolerance, keep);
  return points.filter((_, k) => keep[k >> 1]);
}

/**
 * The outline of an isolation's mask: one closed polygon per part (parts under 1 % of the mask left out),
 * largest first, as [x0, y0, x1, y1, …] with coordinates 0–1 relative to the mask's width and height (so the
 * same for the thumbnail and the photo), rounded to 4 decimals, with at most `maxPoints` vertices in all.
 * Empty for an empty mask.
 */
export function maskOutline(
  isolation: Pick<Isolation, 'mask' | 'width' | 'height'>,
  maxPoints = OUTLINE_POINTS,
): number[][] {
  const { mask, width, height } = isolation;
  const { labels, sizes, starts } = parts(mask, width, height);
  const total = sizes.reduce((a, b) => a + b, 0);
  const kept = sizes
    .map((size, k) => ({ size, label: k + 1 }))
    .filter((p) => p.size >= MIN_PART_SHARE * total)
    .sort((a, b) => b.size - a.size);
  const traced = kept.map((p) => trace(labels, width, height, p.label, starts[p.label - 1]!));
  // Half a pixel first (the staircase of a slanted edge), then coarser until the budget holds.
  let simplified: number[][];
  for (let tolerance = 0.5; ; tolerance *= 1.5) {
    simplified = traced.map((points) => simplifyClosed(points, tolerance));
    if (simplified.reduce((n, points) => n + points.length / 2, 0) <= maxPoints || tolerance > Math.max(width, height))
      break;
  }
  const round = (v: number) => Math.round(v * 1e4) / 1e4;
  return simplified.map((points) => points.map((v, i) => round(v / (i % 2 === 0 ? width : height))));
}
