import { differenceInterval, wilsonInterval } from '../../../contract/intervals.ts';

/** Whole percent points, as small samples warrant: 0.8571 → "86". */
const whole = (share: number) => String(Math.round(100 * share));

/** A count out of n as a share with its 95 % Wilson interval: "86%, 95% CI 82–89%" (n > 0). */
export function shareWithInterval(count: number, n: number): string {
  const { low, high } = wilsonInterval(count, n);
  return `${whole(count / n)}%, 95% CI ${whole(low)}–${whole(high)}%`;
}

/** A signed number with a real minus sign, rounded to `digits` first so that −0.0 never shows. */
export function signed(x: number, digits: number): string {
  const rounded = Number(x.toFixed(digits));
  return `${rounded >= 0 ? '+' : '−'}${Math.abs(rounded).toFixed(digits)}`;
}

/**
 * The change between two accuracies (shares 0–1) measured on the same n photos, in points with its 95 %
 * interval (Newcombe's hybrid score interval) and n: "+9.1 pts from 11 photos (95% CI −28 to +44)".
 */
export function pointsChange(after: number, before: number, n: number): string {
  const { low, high } = differenceInterval(Math.round(after * n), n, Math.round(before * n), n);
  // Whole points for a few dozen photos; tenths for thousands, where the interval is that narrow.
  const points = (x: number) => signed(100 * x, n >= 1000 ? 1 : 0);
  return `${signed(100 * (after - before), 1)} pts from ${n.toLocaleString('en')} photos (95% CI ${points(low)} to ${points(high)})`;
}
