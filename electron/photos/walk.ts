import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { contentKind, SNIFF_BYTES } from './fileKinds.ts';
import { explainReadError } from './photoPipeline.ts';

/** Operating-system clutter that is never a product photo. */
const SYSTEM_NAMES = new Set([
  'thumbs.db',
  'desktop.ini',
  '__macosx',
  '$recycle.bin',
  'system volume information',
  'lost+found',
]);

/** Why a folder or file given to import is not there. */
const MISSING_ROOT = 'this path does not exist; check the spelling or whether the drive is connected';

/** A file to import (whether it is a photo, its content decides), or a path the walk could not follow, and why. */
export type WalkEntry = { type: 'file'; path: string } | { type: 'problem'; path: string; reason: string };

const skipped = (name: string) => name.startsWith('.') || SYSTEM_NAMES.has(name.toLowerCase());

/**
 * Every file under the roots (folders or single files), depth first in name order, whatever its name: a
 * JPEG saved without an extension is a photo, a text file named .jpg is not, and the import tells them
 * apart by content and reports every file it does not import. Hidden and system files are skipped;
 * symbolic links are followed, but a folder already visited is not entered again, so
 * link cycles end, and a link to a file yields the file's real path. An entry that cannot be resolved or
 * read (too long a path, no permission, vanished, an I/O error) is a problem of its own and the walk goes
 * on; a root that holds no files is a problem too. `ignore` names files and folders never to yield or
 * enter (the catalog and the thumbnail cache, when they lie in a folder being imported).
 */
export async function* walkPhotos(
  roots: string[],
  options: { ignore?: Iterable<string> } = {},
): AsyncGenerator<WalkEntry> {
  // Folders already visited, by real path; the ignored paths (the app's own files) count as visited.
  const visited = new Set<string>([...(options.ignore ?? [])].map((p) => path.resolve(p)));
  for (const root of roots) {
    let stat;
    try {
      stat = await fs.stat(root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      yield {
        type: 'problem',
        path: root,
        reason: code === 'ENOENT' ? MISSING_ROOT : explainReadError(err as NodeJS.ErrnoException),
      };
      continue;
    }
    if (!stat.isDirectory()) {
      yield { type: 'file', path: root };
      continue;
    }
    // A root inside one walked before (classify photos photos/jpeg) was walked with it. (One whose real path
    // cannot be worked out is reported by walkFolder.)
    const real = await fs.realpath(root).catch(() => undefined);
    if (real !== undefined && visited.has(real)) continue;
    let files = 0;
    for await (const entry of walkFolder(root, visited)) {
      if (entry.type === 'file') files++;
      yield entry;
    }
    if (files === 0) yield { type: 'problem', path: root, reason: 'this folder (and its subfolders) holds no photos' };
  }
}

/**
 * Why none of `roots` gives the import a photo, when none does: the first problem the walk met (a missing path,
 * a folder of no photos), or why its first file is not one (a folder of documents); undefined as soon as a file's
 * first bytes are an image's. A folder of photos costs a directory read and a few kilobytes.
 */
export async function noPhotoFileIn(roots: string[]): Promise<{ path: string; reason: string } | undefined> {
  let first: { path: string; reason: string } | undefined;
  let others = -1;
  for await (const entry of walkPhotos(roots)) {
    if (entry.type === 'problem') {
      first ??= entry;
      continue;
    }
    const kind = await firstBytes(entry.path).then(
      (head) => contentKind(head, path.basename(entry.path)),
      () => undefined,
    );
    // One that cannot be read is the import's to report, beside the others.
    if (kind === undefined || kind.type !== 'other') return undefined;
    first ??= { path: entry.path, reason: kind.what };
    others++;
  }
  return first && others > 0
    ? {
        ...first,
        reason: `${first.reason} (${others === 1 ? 'nor is the other file' : `nor is any of the other ${others} files`})`,
      }
    : first;
}

/**
 * The first SNIFF_BYTES of the regular file `file`, or fewer; rejects for anything else. Opened without blocking,
 * as the photo worker reads: a named pipe among the photos would otherwise hold the check until something writes.
 */
async function firstBytes(file: string): Promise<Buffer> {
  const handle = await fs.open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    if (!(await handle.stat()).isFile()) throw new Error(`${file} is not a regular file`);
    const head = Buffer.alloc(SNIFF_BYTES);
    return head.subarray(0, (await handle.read(head, 0, SNIFF_BYTES, 0)).bytesRead);
  } finally {
    await handle.close();
  }
}

/** A folder the walk cannot enter (too long a path, no permission, vanished, a read error): its own problem, and the walk goes on. */
const cannotOpen = (dir: string, err: unknown): WalkEntry => ({
  type: 'problem',
  path: dir,
  reason: `cannot open this folder: ${explainReadError(err as NodeJS.ErrnoException)}`,
});

async function* walkFolder(dir: string, visited: Set<string>): AsyncGenerator<WalkEntry> {
  let real: string;
  try {
    real = await fs.realpath(dir);
  } catch (err) {
    yield cannotOpen(dir, err);
    return;
  }
  if (visited.has(real)) {
    // A link into its own ancestors is a loop worth telling; another way into a folder already walked is not.
    if (dir.startsWith(real + path.sep))
      yield { type: 'problem', path: dir, reason: `a link loop: this folder leads back to ${real}; skipped` };
    return;
  }
  visited.add(real);
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    yield cannotOpen(dir, err);
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    let full = path.join(dir, entry.name);
    if (skipped(entry.name) || visited.has(full)) continue;
    let isDirectory = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      try {
        const target = await fs.stat(full);
        isDirectory = target.isDirectory();
        // A link to a file is another name for that file, not another file: the file itself is recorded,
        // so that it is one row of the catalog and a move moves it (not the link, leaving the file behind).
        // A link to anything else keeps its own name, which its error is shown under.
        if (target.isFile()) full = await fs.realpath(full);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        yield {
          type: 'problem',
          path: full,
          reason:
            code === 'ENOENT'
              ? 'a broken link: what it points to does not exist'
              : explainReadError(err as NodeJS.ErrnoException),
        };
        continue;
      }
    }
    // Named pipes, sockets and devices too: the import refuses them unread, with the reason.
    if (isDirectory) yield* walkFolder(full, visited);
    else yield { type: 'file', path: full };
  }
}
