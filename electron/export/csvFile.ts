import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';

/**
 * Streams rows into a CSV file (RFC 4180 quoting by csv-stringify), through a temporary file renamed into
 * place at the end, so readers never see half a file and a failed export leaves no debris.
 */
export async function writeCsvFile(file: string, header: string[], rows: Iterable<unknown[]>, options: { bom?: boolean } = {}): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(rows), stringify({ header: true, columns: header, bom: options.bom ?? false }), fs.createWriteStream(tmp));
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(err as Error).message}`);
  }
}
