import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differenceInterval, wilsonInterval } from '../contract/intervals.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 5e-5, `${what}: ${actual} is not ${expected} to four decimals`);

test('the Wilson score interval matches the published values (Newcombe 1998, single proportion, method 3)', () => {
  // [successes, n, lower, upper], 95 %: the worked examples of Newcombe's Table I.
  const published: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
    [29, 29, 0.883, 1],
  ];
  for (const [x, n, low, high] of published) {
    const interval = wilsonInterval(x, n);
    close(interval.low, low, `lower bound of ${x}/${n}`);
    close(interval.high, high, `upper bound of ${x}/${n}`);
  }
  assert.deepEqual(wilsonInterval(0, 0), { low: 0, high: 1 });
  assert.throws(() => wilsonInterval(12, 11), RangeError);
  assert.throws(() => wilsonInterval(1.5, 11), RangeError);
});

test('the difference interval matches the published values (Newcombe 1998, independent proportions, method 10)', () => {
  // [a, n, b, m, lower, upper], 95 %: the worked examples of Newcombe's Table II.
  const published: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
  ];
  for (const [a, n, b, m, low, high] of published) {
    const interval = differenceInterval(a, n, b, m);
    close(interval.low, low, `lower bound of ${a}/${n} − ${b}/${m}`);
    close(interval.high, high, `upper bound of ${a}/${n} − ${b}/${m}`);
  }
});
