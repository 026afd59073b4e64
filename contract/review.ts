/** Which photos need a reviewer: the rule the window starts with, and the novelty limit. */
import type { PhotoTile, ReviewRule } from './api.ts';

/** Unsure below 70 % confidence, or torn within the hard group by a top-two margin below 0.3. */
export const DEFAULT_REVIEW_RULE: Readonly<ReviewRule> = { minConfidence: 0.7, hardGroupMargin: 0.3 };

/**
 * A photo whose novelty (PhotoTile.novelty) is at least this needs review whatever the softmax says: 1 flags
 * about 5 % of Fashion-MNIST's validation images.
 */
export const NOVELTY_LIMIT = 1;

/** Why such a photo is in review, as the tile and the review view say it. */
export const UNUSUAL_REASON = 'unlike the photos the model learned from';

/** True when a photo is in review because it is unlike the model's training images. */
export const isUnusual = (tile: Pick<PhotoTile, 'novelty' | 'label'>): boolean =>
  tile.label === null && tile.novelty !== null && tile.novelty >= NOVELTY_LIMIT;
