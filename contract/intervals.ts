/**
 * Confidence intervals for the small samples the model card and the comparison rest on (a few dozen reviewed
 * photos): a share of n photos is reported with its interval, so that "86 % of 11" is never read as "86 %".
 */

/** The normal quantile of a two-sided 95 % interval. */
const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/**
 * The Wilson score interval for a proportion of `successes` out of `n` trials (E. B. Wilson, "Probable
 * inference, the law of succession, and statistical inference", JASA 22, 1927; method 3 of R. G. Newcombe,
 * "Two-sided confidence intervals for the single proportion: comparison of seven methods", Statistics in
 * Medicine 17, 1998). Unlike the normal approximation it stays within 0–1 and keeps its coverage for small n
 * and for shares near 0 or 1. Both bounds are shares (0–1); n = 0 gives the whole range. Throws for counts
 * that are not whole, negative, or more successes than trials.
 */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (!Number.isInteger(successes) || !Number.isInteger(n) || successes < 0 || successes > n)
    throw new RangeError(`no proportion of ${successes} out of ${n}`);
  if (n === 0) return { low: 0, high: 1 };
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0 or n successes one bound is exactly 0 or 1; floating point would leave it a hair away.
  return { low: successes === 0 ? 0 : centre - half, high: successes === n ? 1 : centre + half };
}

/**
 * The interval of a difference of two proportions a/n − b/m (shares, −1 to 1) from the two Wilson intervals:
 * Newcombe's hybrid score method (method 10 of R. G. Newcombe, "Interval estimation for the difference between
 * independent proportions: comparison of eleven methods", Statistics in Medicine 17, 1998). For two models
 * scored on the same photos it ignores that the scores are paired, which makes it wider (more cautious) when
 * the models mostly agree, as a fine-tuned model and its parent do.
 */
export function differenceInterval(a: number, n: number, b: number, m: number, z = Z95): Interval {
  const p1 = n === 0 ? 0 : a / n;
  const p2 = m === 0 ? 0 : b / m;
  const w1 = wilsonInterval(a, n, z);
  const w2 = wilsonInterval(b, m, z);
  const d = p1 - p2;
  return {
    low: d - Math.hypot(p1 - w1.low, w2.high - p2),
    high: d + Math.hypot(w1.high - p1, p2 - w2.low),
  };
}
