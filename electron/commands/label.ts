import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { LabelChange } from '../../contract/api.ts';
import { categoryFromText } from '../dataset/fashionMnist.ts';
import { explainReadError } from '../photos/photoPipeline.ts';
import { existingCatalog, pathOption, UsageError, withServices, type Values } from './args.ts';
import { CLASS_NAMES } from '../../contract/categories.ts';
import { plural } from '../../contract/plural.ts';

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
 * What a spreadsheet cell may carry unseen at either end: spaces (no-break ones too), tabs, zero-width
 * characters and a stray byte order mark.
 */
const SPACE = String.raw`[\s\u200b-\u200d\u2060\ufeff]`;
const [EDGE_SPACE, LEADING_SPACE, TRAILING_SPACE] = [
  new RegExp(`^${SPACE}+|${SPACE}+$`, 'g'),
  new RegExp(`^${SPACE}`),
  new RegExp(`${SPACE}$`),
];
const trimmed = (cell: string) => cell.replace(EDGE_SPACE, '');

/** A cell quoted for a message, with any space at its ends named, since a reader cannot see it. */
function shown(cell: string): string {
  const ends = [LEADING_SPACE.test(cell) && 'start', TRAILING_SPACE.test(cell) && 'end'].filter(Boolean);
  return `"${cell}"${ends.length ? ` (with a space at its ${ends.join(' and ')})` : ''}`;
}

/** What is wrong with one row of a labels file. */
interface Problem {
  line: number;
  text: string;
}

interface LabelRow {
  /** The line of the file the row ends on. */
  line: number;
  path: string;
  /** The content hash, where the file has a hash column (a catalog export's): what names a photo whose path is empty. */
  hash: string;
  label: string;
}

/**
 * The rows of a labels file: UTF-8 or UTF-16, its delimiter from the header, the columns path and label (and
 * optionally hash) in any order and case, each once. Rows of blank cells only (the ",,," a spreadsheet leaves
 * below its data) are skipped; a row with something beyond the header's columns is a problem of that row. Throws when the file is not
 * CSV, lacks the columns or holds no label (a header alone is a file saved too early, not "nothing to change").
 */
function readLabelRows(csvFile: string): { rows: LabelRow[]; problems: Problem[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    const text = decodeText(fs.readFileSync(csvFile));
    records = parse(text, {
      delimiter: delimiterOf(text),
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as typeof records;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code?.startsWith('E') && !code.startsWith('ERR_')
        ? `cannot read ${csvFile}: ${code === 'ENOENT' ? 'there is no such file; check its path' : explainReadError(err as NodeJS.ErrnoException)}`
        : `${csvFile} is not a readable CSV: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const filled = records.filter(({ record }) => record.some((cell) => trimmed(cell) !== ''));
  if (filled.length === 0)
    throw new Error(`${csvFile} is empty: write a header path,label and a row per photo, like photos/SKU-1.jpg,Shirt`);
  const written = filled[0]!.record.map(trimmed);
  const header = written.map((name) => name.toLowerCase());
  const [pathColumn, labelColumn, hashColumn] = [
    header.indexOf('path'),
    header.indexOf('label'),
    header.indexOf('hash'),
  ];
  if (pathColumn < 0 || labelColumn < 0)
    throw new Error(`${csvFile} needs the columns path,label (it has ${written.filter(Boolean).join(',')})`);
  const twice = ['path', 'label', 'hash'].find((name) => header.indexOf(name) !== header.lastIndexOf(name));
  if (twice) throw new Error(`${csvFile} has two ${twice} columns; keep one`);
  const problems: Problem[] = [];
  const rows = filled.slice(1).map(({ record, info }) => {
    const extra = record.slice(header.length).filter((cell) => trimmed(cell) !== '');
    if (extra.length > 0)
      problems.push({
        line: info.lines,
        text: `more cells than the header has columns (${extra.map(shown).join(', ')}); quote a path that holds the delimiter`,
      });
    return {
      line: info.lines,
      path: record[pathColumn] ?? '',
      hash: hashColumn < 0 ? '' : trimmed(record[hashColumn] ?? ''),
      label: record[labelColumn] ?? '',
    };
  });
  if (rows.length === 0)
    throw new Error(`${csvFile} has its header and no labels: add a row per photo, like photos/SKU-1.jpg,Shirt`);
  return { rows, problems };
}

/**
 * `label --db FILE --csv FILE`: applies human labels from a CSV with columns path,label (the label a number
 * or a category name); a row with an empty path names its photo by the hash column where there is one (a
 * catalog export's row for a photo with no file left). Paths and names are compared in one Unicode normal form,
 * and spaces at a cell's ends are not part of it (unless a file is named so). All or nothing: a row that names an unknown photo
 * or category, or gives a photo another category than an earlier row, stops the command before any label is
 * written, with every such row listed.
 */
export async function runLabel(values: Values): Promise<void> {
  const dbFile = pathOption(values, 'db');
  const csvFile = pathOption(values, 'csv');
  if (!dbFile || !csvFile) throw new UsageError('label needs --db FILE and --csv FILE');
  existingCatalog(dbFile);
  const { rows, problems } = readLabelRows(csvFile);
  await withServices(dbFile, {}, async ({ api, operations }) => {
    const changes: LabelChange[] = [];
    /** The first row that labels each photo: a later row (the same file, or another with the same image) that says another category contradicts it. */
    const firstRow = new Map<number, { line: number; label: number }>();
    for (const { line, path: cell, hash, label: labelCell } of rows) {
      // The cell as written first (a file may really be named with a space at its end), then without its edge spaces.
      let found: Awaited<ReturnType<typeof operations.findPhoto>>;
      if (trimmed(cell) === '' && hash !== '') found = { photoId: await operations.photoWithHash(hash), named: 0 };
      else {
        found = await operations.findPhoto(cell, path.dirname(csvFile));
        if (found.photoId === undefined && found.named === 0 && trimmed(cell) !== cell)
          found = await operations.findPhoto(trimmed(cell), path.dirname(csvFile));
      }
      const label = categoryFromText(trimmed(labelCell));
      const written = trimmed(cell) === cell ? cell : shown(cell);
      if (found.named > 1)
        problems.push({
          line,
          text: `${found.named} photos in the catalog are named ${trimmed(cell)}; give its folder too`,
        });
      else if (found.importFailure !== undefined)
        problems.push({
          line,
          text: `${written} could not be imported (${found.importFailure}); mend it and classify its folder again, or leave the row out`,
        });
      else if (found.photoId === undefined)
        problems.push({
          line,
          text:
            trimmed(cell) === ''
              ? hash === ''
                ? 'the path is empty'
                : `no photo in the catalog has the hash ${hash}`
              : `${written} is not in the catalog`,
        });
      if (label === undefined)
        problems.push({
          line,
          text: `${shown(labelCell)} is not a category (0–9 or one of ${CLASS_NAMES.join(', ')})`,
        });
      if (found.photoId === undefined || label === undefined) continue;
      const first = firstRow.get(found.photoId);
      if (first && first.label !== label)
        problems.push({
          line,
          text: `${CLASS_NAMES[label]} contradicts line ${first.line}, which gives the same photo ${CLASS_NAMES[first.label]} (a file, or another with the same image); keep one`,
        });
      else if (!first) {
        firstRow.set(found.photoId, { line, label });
        changes.push({ photoId: found.photoId, label });
      }
    }
    if (problems.length > 0) {
      // A row may have two problems (an unknown photo and an unknown category): rows are what the user fixes, each once.
      const byLine = new Map<number, string[]>();
      for (const p of problems.sort((a, b) => a.line - b.line))
        byLine.set(p.line, [...(byLine.get(p.line) ?? []), p.text]);
      const listed = [...byLine].slice(0, 10).map(([line, texts]) => `line ${line}: ${texts.join(', and ')}`);
      throw new Error(
        `no labels were applied; fix ${byLine.size === 1 ? 'this row' : `these ${byLine.size} rows`} of ${csvFile}: ${listed.join('; ')}${byLine.size > 10 ? '; …' : ''}`,
      );
    }
    // Saved as the window saves a review: in one transaction, once the catalog accepts writes, under the user's name.
    const previous = await api.setLabels(changes);
    const changed = previous.filter((p, i) => p.label !== changes[i]!.label).length;
    console.log(
      `applied ${plural(changes.length, 'label')} from ${csvFile} (${changed} changed, ${changes.length - changed} already so)`,
    );
  });
}
