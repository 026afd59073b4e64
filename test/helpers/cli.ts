import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { projectRoot } from '../../electron/appPaths.ts';

/** Node's arguments that run the CLI (`npm run cli --` without npm). */
export const CLI = ['--import', 'tsx', path.join(projectRoot, 'electron', 'cli.ts')];

/** Runs the CLI to completion; `prefix` runs it through another command (setpriv, to be an ordinary user). */
export function cli(args: string[], env: Record<string, string> = {}, prefix: string[] = []) {
  const [cmd, ...rest] = [...prefix, process.execPath, ...CLI, ...args];
  const r = spawnSync(cmd!, rest, { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `stderr` without Node's own process warnings ("(node:PID) Warning: …" and the "(Use `node --trace-warnings …`)"
 * line after it): a clean-clone CI run once printed a circular-require warning from inside a model-loading worker
 * before the CLI's own line, which a dozen local runs never reproduced. The CLI's words are what the tests judge.
 */
export const withoutNodeWarnings = (stderr: string) =>
  stderr.replace(/^\(node:\d+\) \w*Warning: .*\n(\(Use `node --trace-warnings .*\n)?/gm, '');

/** One number from a catalog file, read on a connection of its own. */
export function count(dbFile: string, sql: string, ...params: unknown[]): number {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db
      .prepare(sql)
      .pluck()
      .get(...params) as number;
  } finally {
    db.close();
  }
}
