import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Runs `body` with a small filesystem of its own mounted at `dir` (a tmpfs with `options`, like
 * "size=256k" or "ro,size=1m"), unmounted afterwards. Mounting needs root; elsewhere the test is skipped.
 */
export async function withSmallDrive(
  t: { skip: (why: string) => void },
  dir: string,
  options: string,
  body: (drive: string) => Promise<void> | void,
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status !== 0)
    return t.skip('cannot mount a small tmpfs here (needs root), so this fault is not exercised');
  try {
    await body(dir);
  } finally {
    spawnSync('umount', [dir]);
  }
}
