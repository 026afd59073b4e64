import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';

/**
 * Streams rows into a CSV file: RFC 4180 quoting and formula neutralising by csv-stringify (a cell that
 * begins with = + - @ tab or carriage return gets a leading apostrophe, so no spreadsheet runs it), an
 * optional UTF-8 BOM for Excel. It goes through a temporary file that is flushed to disk and renamed into
 * place, so readers never see half a file and a failed export leaves no debris. Returns the row count.
 */
export async function writeCsvFile(file: string, header: string[], rows: Iterable<unknown[]> | AsyncIterable<unknown[]>, options: { bom?: boolean } = {}): Promise<number> {
  const tmp = `${file}.${process.pid}.tmp`;
  let count = 0;
  async function* counted() {
    for await (const row of rows) {
      count++;
      yield row;
    }
  }
  try {
    await pipeline(Readable.from(counted()), stringify({ header: true, columns: header, bom: options.bom ?? false, escape_formulas: true }), fs.createWriteStream(tmp));
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
    throw new Error(`cannot write ${file}: ${explainWriteError(err as NodeJS.ErrnoException)}`);
  }
}

/** Why a file could not be written, in words a person can act on. */
export function explainWriteError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOSPC': return 'the disk is full; free some space and try again';
    case 'EACCES':
    case 'EPERM': return 'permission denied: your account cannot write there; choose another folder';
    case 'EROFS': return 'the drive is read-only; choose another folder';
    case 'ENOENT': return 'the folder does not exist';
    case 'EDQUOT': return 'your disk quota is used up; free some space and try again';
    case 'EIO': return 'the disk reported a write error; the drive may be damaged';
    default: return err.message;
  }
}
