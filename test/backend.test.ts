import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { projectRoot } from '../electron/appPaths.ts';
import { initBackend, type BackendInfo } from '../electron/ml/backend.ts';
import { selfCheck } from '../electron/ml/selfCheck.ts';
import { FLAVOURS, registerStandIn } from './helpers/standInBackend.ts';

/** "the <quantity> differs from <reference>'s by up to <error> where <allowed> is allowed" */
const MISMATCH =
  /the (output|loss|input gradient|filter gradient|bias gradient) differs from (\w+)'s by up to (\S+) where (\S+) is allowed$/;

function assertMismatch(message: string | undefined, quantity: string, reference: string) {
  const match = MISMATCH.exec(message ?? '');
  assert.ok(match, `a mismatch is reported: ${message}`);
  assert.equal(match[1], quantity);
  assert.equal(match[2], reference);
  assert.ok(Number(match[3]) > Number(match[4]), `the reported error exceeds the allowance: ${message}`);
}

describe('the self-check compares a training step with the reference backend', () => {
  before(async () => {
    await initBackend('wasm');
    // Each flavour as a backend of its own name, so that one process holds them all.
    for (const flavour of FLAVOURS) registerStandIn(flavour, flavour);
  });

  for (const reference of ['wasm', 'cpu']) {
    test(`a faithful backend passes against ${reference}, and tf is left on it`, async (t) => {
      const started = performance.now();
      assert.equal(await selfCheck('faithful', reference), undefined);
      t.diagnostic(`self-check against ${reference}: ${(performance.now() - started).toFixed(1)} ms`);
      assert.equal(tf.getBackend(), 'faithful');
    });
  }

  test('a backend whose convolutions round their inputs to TF32 (TensorFlow on Ampere and newer GPUs) passes', async () => {
    assert.equal(await selfCheck('tf32', 'wasm'), undefined);
  });

  test('a forward convolution that drops its bias fails on the output', async () => {
    assertMismatch(await selfCheck('wrong-forward', 'wasm'), 'output', 'wasm');
  });

  test('a filter gradient 1 % off fails on the filter gradient', async () => {
    assertMismatch(await selfCheck('wrong-gradient', 'wasm'), 'filter gradient', 'wasm');
  });
});

interface LadderResult extends BackendInfo {
  active: string;
  ms: number;
  trains: string;
}

/** Runs the ladder in a fresh process (initBackend answers once per process) with native stand-ins. */
function ladder(gpu: string, node: string, env: Record<string, string> = {}): LadderResult {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(projectRoot, 'test', 'helpers', 'nativeLadder.ts'), gpu, node],
    {
      cwd: projectRoot,
      encoding: 'utf8',
      env: { ...process.env, FASHION_SORTER_BACKEND: '', ...env },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as LadderResult;
}

const GPU_ABSENT = /^@tensorflow\/tfjs-node-gpu is not installed or cannot load/;

describe('the ladder uses a native backend only after its self-check', () => {
  test('a wrong tfjs-node is reported and skipped; the ladder lands on wasm, which trains', (t) => {
    const result = ladder('absent', 'wrong-gradient');
    t.diagnostic(`initBackend took ${result.ms.toFixed(0)} ms`);
    assert.equal(result.name, 'wasm');
    assert.equal(result.active, 'wasm');
    assert.equal(result.skipped.length, 2, result.skipped.join('\n'));
    assert.match(result.skipped[0]!, GPU_ABSENT);
    assert.match(result.skipped[1]!, /^@tensorflow\/tfjs-node failed its self-check: /);
    assertMismatch(result.skipped[1], 'filter gradient', 'wasm');
    assert.equal(result.trains, 'like cpu');
  });

  test('a faithful tfjs-node passes and is chosen', (t) => {
    const result = ladder('absent', 'faithful');
    t.diagnostic(`initBackend took ${result.ms.toFixed(0)} ms`);
    assert.equal(result.name, 'tensorflow');
    assert.equal(result.active, 'tensorflow');
    assert.equal(result.skipped.length, 1, result.skipped.join('\n'));
    assert.match(result.skipped[0]!, GPU_ABSENT);
    assert.equal(result.trains, 'like cpu');
  });

  test('a wrong tfjs-node-gpu is removed, so that a faithful tfjs-node can register the same backend name and be chosen', () => {
    const result = ladder('wrong-forward', 'faithful');
    assert.equal(result.name, 'tensorflow');
    assert.equal(result.active, 'tensorflow');
    assert.equal(result.skipped.length, 1, result.skipped.join('\n'));
    assert.match(result.skipped[0]!, /^@tensorflow\/tfjs-node-gpu failed its self-check: /);
    assertMismatch(result.skipped[0], 'output', 'wasm');
  });

  test('FASHION_SORTER_BACKEND naming the native rung still requires its self-check', () => {
    const result = ladder('faithful', 'wrong-forward', { FASHION_SORTER_BACKEND: 'tensorflow' });
    assert.equal(result.name, 'wasm');
    // The gpu rung, better but not named, is not tried.
    assert.equal(result.skipped.length, 1, result.skipped.join('\n'));
    assert.match(result.skipped[0]!, /^@tensorflow\/tfjs-node failed its self-check: /);
    assertMismatch(result.skipped[0], 'output', 'wasm');
  });
});
