/** Test-time flip averaging: which images the app also classifies mirrored (no tfjs here: the main process reads it). */
import { NUM_CLASSES } from '../../contract/categories.ts';

/**
 * Test-time flip averaging: which images are also classified mirrored, the two results (probabilities and
 * features alike) averaged. `false` none, `true` all, `{ belowConfidence }` those whose top probability is
 * below it (in 0..1).
 */
export type FlipAveraging = boolean | { belowConfidence: number };

/**
 * How the app classifies: an image the network is unsure of is averaged with its mirror image. Averaging
 * every image won 0.17 points on the chosen recipe's validation images at twice the cost (docs/model.md);
 * label smoothing 0.1 trains the network to give a sure image 0.91, and mirroring changed the top category
 * of none of the 6,514 test images the shipped model gives at least 0.9. Below 0.9: 35 % of the test images,
 * with every top category that of averaging all.
 */
export const APP_FLIP_AVERAGING: FlipAveraging = { belowConfidence: 0.9 };

/** The rows of `probabilities` (count × NUM_CLASSES) that `flipAverage` mirrors. */
export function rowsToMirror(probabilities: Float32Array, count: number, flipAverage: FlipAveraging): number[] {
  if (flipAverage === false) return [];
  const rows = Array.from({ length: count }, (_, i) => i);
  if (flipAverage === true) return rows;
  return rows.filter(
    (i) => Math.max(...probabilities.subarray(i * NUM_CLASSES, (i + 1) * NUM_CLASSES)) < flipAverage.belowConfidence,
  );
}

/** The flip averaging in words, for reports: "", "flip-averaged", "flip-averaged below 90 % confidence". */
export function describeFlipAveraging(flipAverage: FlipAveraging): string {
  if (flipAverage === false) return '';
  return flipAverage === true
    ? 'flip-averaged'
    : `flip-averaged below ${Math.round(100 * flipAverage.belowConfidence)} % confidence`;
}
