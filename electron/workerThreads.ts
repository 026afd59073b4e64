import path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread from a sibling module named like the caller's own file type: `.js` in the
 * built app, `.ts` under tsx (CLI, tests). Node 20 does not apply `--import tsx` to a worker's entry,
 * so for `.ts` a tiny bootstrap registers tsx first and then imports the module.
 */
export function startWorker(callerUrl: string, baseName: string): Worker {
  const ext = path.extname(new URL(callerUrl).pathname);
  const url = new URL(`./${baseName}${ext}`, callerUrl);
  if (ext !== '.ts') return new Worker(url);
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}
