import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { Catalog } from '../catalog/catalog.ts';
import { categoryFromText, CLASS_NAMES } from '../dataset/fashionMnist.ts';
import { pathOption, UsageError, waitingForCatalog, type Values } from './args.ts';

/**
 * The delimiter of a labels file, from its header line: spreadsheets in many European locales save CSV with
 * semicolons, and some tools write tabs. The header names no paths, so a separator in it is the delimiter.
 */
function delimiterOf(text: string): string {
  const header = text.slice(0, text.search(/\r?\n|$/));
  if (header.includes(',')) return ',';
  return header.includes(';') ? ';' : header.includes('\t') ? '\t' : ',';
}

/** UTF-8, or UTF-16 with its byte order mark (Excel's "Unicode text"); a UTF-8 byte order mark is dropped. */
function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  return bytes.toString('utf8').replace(/^\uFEFF/, '');
}

/**
 * `label --db FILE --csv FILE`: applies human labels from a CSV with columns path,label (the label a number
 * or a category name). All or nothing: a row that names an unknown photo or category stops the command
 * before any label is written, with every such row listed.
 */
export async function runLabel(values: Values): Promise<void> {
  const dbFile = pathOption(values, 'db');
  const csvFile = pathOption(values, 'csv');
  if (!dbFile || !csvFile) throw new UsageError('label needs --db FILE and --csv FILE');
  if (!fs.existsSync(dbFile)) throw new Error(`no catalog at ${dbFile}; run classify first`);
  let rows: Record<string, string>[];
  try {
    const text = decodeText(fs.readFileSync(csvFile));
    rows = parse(text, {
      delimiter: delimiterOf(text), skip_empty_lines: true, trim: false,
      columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()),
    }) as Record<string, string>[];
  } catch (err) {
    throw new Error(`${csvFile} is not a readable CSV: ${(err as Error).message}`);
  }
  if (rows.length > 0 && !('path' in rows[0]! && 'label' in rows[0]!)) throw new Error(`${csvFile} needs the columns path,label (it has ${Object.keys(rows[0]!).join(',')})`);
  const catalog = new Catalog(dbFile);
  try {
    const problems: string[] = [];
    const changes = rows.flatMap((row, i) => {
      const line = i + 2;
      const file = row.path!;
      let photoId = catalog.photoAtPath(path.resolve(path.dirname(csvFile), file));
      // A bare file name (what a shop system or a reviewer's list often has) names the one photo imported under it.
      const named = photoId === undefined && !/[\\/]/.test(file) ? catalog.photosNamed(file) : [];
      if (named.length === 1) photoId = named[0];
      const label = categoryFromText(row.label!);
      if (named.length > 1) problems.push(`line ${line}: ${named.length} photos in the catalog are named ${file}; give its folder too`);
      else if (photoId === undefined) problems.push(`line ${line}: ${file} is not in the catalog`);
      if (label === undefined) problems.push(`line ${line}: "${row.label}" is not a category (0–9 or one of ${CLASS_NAMES.join(', ')})`);
      return photoId !== undefined && label !== undefined ? [{ photoId, label }] : [];
    });
    if (problems.length > 0) {
      throw new Error(`no labels were applied; fix these ${problems.length} rows of ${csvFile}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? '; …' : ''}`);
    }
    const previous = await catalog.writeWhenFree(() => catalog.setLabels(changes, os.userInfo().username), waitingForCatalog(dbFile));
    const changed = previous.filter((p, i) => p.label !== changes[i]!.label).length;
    console.log(`applied ${changes.length} labels from ${csvFile} (${changed} changed, ${changes.length - changed} already so)`);
  } finally {
    catalog.close();
  }
}
