import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../electron/appPaths.ts';

/** What `npm run build` writes last in each of its steps. */
const OUTPUTS = ['dist/electron/main.js', 'dist/electron/preload.cjs', 'dist/renderer/index.html'];
const SOURCES = ['contract', 'electron', 'renderer', 'package.json', 'tsconfig.build.json', 'vite.config.ts'];
const LOCK = path.join(projectRoot, 'dist', '.build-lock');
/** A lock older than any build is left by a killed test run. */
const STALE_LOCK_MS = 10 * 60_000;

function newestSource(): number {
  let newest = 0;
  for (const source of SOURCES) {
    const full = path.join(projectRoot, source);
    const files = fs.statSync(full).isDirectory()
      ? fs
          .readdirSync(full, { recursive: true, encoding: 'utf8' })
          .map((f) => path.join(full, f))
          .filter((f) => !f.includes(`${path.sep}node_modules${path.sep}`))
      : [full];
    for (const file of files) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  const built = OUTPUTS.map((f) => path.join(projectRoot, f));
  if (!built.every((f) => fs.existsSync(f))) return false;
  return Math.min(...built.map((f) => fs.statSync(f).mtimeMs)) >= newestSource();
}

/**
 * Runs `npm run build` unless dist/ is newer than every source. Test files run in parallel processes, so
 * one builds at a time (a directory lock) and the others then find dist/ fresh instead of rewriting it
 * under a reader. dist/electron and dist/contract are emptied first: tsc leaves the output of a removed
 * source in place, and electron-builder would ship it.
 */
export async function ensureDistBuilt(): Promise<void> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = fs.statSync(LOCK, { throwIfNoEntry: false });
      if (lock && Date.now() - lock.mtimeMs > STALE_LOCK_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      else if (lock) await sleep(500);
    }
  }
  try {
    if (isFresh()) return;
    for (const out of ['electron', 'contract'])
      fs.rmSync(path.join(projectRoot, 'dist', out), { recursive: true, force: true });
    // The build's own node (tsc, vite, esbuild) is the one running the tests.
    const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}` };
    await promisify(execFile)('npm', ['run', 'build'], { cwd: projectRoot, env, maxBuffer: 64 * 1024 * 1024 });
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}
