import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../electron/appPaths.ts';
import { cli } from './helpers/cli.ts';
import { tempDir } from './helpers/photos.ts';

/** `npm run bench -- …args`, as its user types it. */
function npmBench(args: string[]) {
  const r = spawnSync('npm', ['run', '--silent', 'bench', '--', ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("npm run bench -- --only SECTION --json measures that section alone; the CLI's bench command runs the same runner", () => {
  for (const r of [
    npmBench(['--only', 'inference', '--quick', '--json']),
    cli(['bench', '--only', 'inference', '--quick', '--json']),
  ]) {
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(result), ['inference']);
    // --quick times 512 images instead of 2,048, in the import's calls of 256, through one and two workers.
    assert.equal(result.inference.images, 512);
    assert.equal(result.inference.batchSize, 256);
    assert.ok(result.inference.workers >= 1, r.stdout);
    for (const rate of ['imagesPerSecond', 'oneWorkerImagesPerSecond', 'onceEachImagesPerSecond'])
      assert.ok(result.inference[rate] > 0, `${rate}: ${r.stdout}`);
  }
});

test('an unknown section is a usage error naming it and the sections there are', () => {
  const r = npmBench(['--only', 'inference,nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^--only takes sections from training, inference, .*; unknown: nope\n\nUsage: npm run bench/);
  assert.equal(r.stdout, '');
});

test("where bench/ is absent (an installed app), the CLI's bench command fails with one line saying where to run it", () => {
  const app = tempDir('no-bench');
  for (const folder of ['contract', 'electron']) {
    fs.cpSync(path.join(projectRoot, folder), path.join(app, folder), { recursive: true });
  }
  fs.copyFileSync(path.join(projectRoot, 'package.json'), path.join(app, 'package.json'));
  fs.symlinkSync(path.join(projectRoot, 'node_modules'), path.join(app, 'node_modules'));
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(app, 'electron', 'cli.ts'), 'bench', '--only', 'inference'],
    { cwd: app, encoding: 'utf8' },
  );
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    /^error: the benchmarks are not part of an installed app; run `npm run bench` in a clone of the source \(no .*bench[/\\]run\.ts\)\n$/,
  );
});
