import fs from 'node:fs';
import path from 'node:path';

/** Whether a process with this id is running (EPERM: it is, as another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what writes into `dir` left behind when their process died mid-write (a crash, SIGKILL, a power
 * cut): the files and folders whose name `pattern` matches, its first group the writer's process id, that
 * process gone. Nothing else would ever remove them; a live process's are its own. Best effort.
 */
export function removeStaleTemporaries(dir: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // no folder yet: nothing left behind
  }
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!pid || pid === process.pid || processAlive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    } catch {
      /* untidy, not harmful */
    }
  }
}
