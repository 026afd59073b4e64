import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteBudget } from '../electron/photos/byteBudget.ts';

test("the photo worker's byte budget: work waits while it would go past the limit, and one larger piece goes alone", async () => {
  const budget = new ByteBudget(100);
  const order: string[] = [];
  await budget.reserve(60);
  const second = budget.reserve(50).then(() => order.push('second'));
  const third = budget.reserve(30).then(() => order.push('third'));
  await new Promise((resolve) => setImmediate(resolve));
  // 60 + 30 fits; 60 + 50 does not.
  assert.deepEqual(order, ['third']);
  assert.equal(budget.inUse, 90);
  budget.release(60);
  await second;
  assert.equal(budget.inUse, 80);
  budget.release(50);
  budget.release(30);
  // More than the whole budget, with nothing held: it goes ahead (no photo waits for ever), and the next waits for it.
  await budget.reserve(250);
  const after = budget.reserve(1).then(() => order.push('after'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['third', 'second']);
  budget.release(250);
  await after;
  await third;
  assert.equal(budget.inUse, 1);
});
