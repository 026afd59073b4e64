import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Papa from 'papaparse';
import { removeStaleTemporaries } from '../staleFiles.ts';

/**
 * Cells a spreadsheet would run as a formula: those that begin with = + - @ (or their full-width forms),
 * a tab or a carriage return. They are written with a leading apostrophe (OWASP's advice).
 */
const FORMULA = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** Rows turned into text at a time: large enough that the writer's per-call cost vanishes, small enough to stream. */
const ROWS_PER_CHUNK = 2000;

/**
 * Streams rows into a CSV file: RFC 4180 (CRLF line ends; commas, quotes and line breaks quoted) by
 * Papa Parse, formula cells neutralised, an optional UTF-8 BOM for Excel. It goes through a temporary file
 * that is flushed to disk and renamed into place, so readers never see half a file and a failed export
 * leaves no debris (and what a killed one left, the next clears). Returns the row count.
 */
export async function writeCsvFile(
  file: string,
  header: string[],
  rows: Iterable<unknown[]> | AsyncIterable<unknown[]>,
  options: { bom?: boolean } = {},
): Promise<number> {
  checkCsvTarget(file);
  const tmp = `${file}.${process.pid}.tmp`;
  removeStaleTemporaries(
    path.dirname(file),
    new RegExp(`^${path.basename(file).replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}\\.(\\d+)\\.tmp$`),
  );
  const format = (records: unknown[][]) => `${Papa.unparse(records, { escapeFormulae: FORMULA, newline: '\r\n' })}\r\n`;
  let count = 0;
  async function* text() {
    yield `${options.bom ? '\ufeff' : ''}${format([header])}`;
    let chunk: unknown[][] = [];
    for await (const row of rows) {
      chunk.push(row);
      if (chunk.length === ROWS_PER_CHUNK) {
        yield format(chunk);
        count += chunk.length;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield format(chunk);
    count += chunk.length;
  }
  try {
    await pipeline(Readable.from(text()), fs.createWriteStream(tmp));
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    return count;
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${explainWriteError(err as NodeJS.ErrnoException)}`, { cause: err });
  }
}

/**
 * Fails, saying what to do, when `file` cannot be a CSV file's name: it is a folder, its folder does not
 * exist, or it is a file that is not text (the catalog itself, a photo), which an export must never replace.
 * Commands check it before long work whose result goes there.
 */
export function checkCsvTarget(file: string): void {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) {
    throw new Error(
      `cannot write ${file}: it is a folder; give a file name in it, such as ${path.join(file, 'labels.csv')}`,
    );
  }
  if (stat?.isFile() && !looksLikeText(file)) {
    throw new Error(
      `will not replace ${file}: it is not a text file (a catalog, a photo?); choose another name for the CSV`,
    );
  }
  if (!fs.statSync(path.dirname(file), { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`cannot write ${file}: the folder ${path.dirname(file)} does not exist`);
  }
  // The CSV is written beside itself and renamed into place: its folder must take a new file.
  try {
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
  } catch (err) {
    throw new Error(`cannot write ${file}: ${explainWriteError(err as NodeJS.ErrnoException)}`, { cause: err });
  }
}

/** No NUL byte in the first 4 kB: CSV and text never have one; SQLite, JPEG and PNG files do. */
function looksLikeText(file: string): boolean {
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r');
  try {
    return !head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)).includes(0);
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a file could not be written, in words a person can act on. */
export function explainWriteError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOSPC':
      return 'the disk is full; free some space and try again';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied: your account cannot write there; choose another folder';
    case 'EROFS':
      return 'the drive is read-only; choose another folder';
    case 'ENOENT':
      return 'the folder does not exist';
    case 'EDQUOT':
      return 'your disk quota is used up; free some space and try again';
    case 'EIO':
      return 'the disk reported a write error; the drive may be damaged';
    default:
      return err.message;
  }
}
