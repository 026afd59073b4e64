/** The catalog's database handle stays inside electron/catalog/: the rest of the product uses its parts' methods. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..');

/** Every .ts file under `dir` (relative to the project root), recursively. */
const sources = (dir: string): string[] =>
  fs
    .readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => path.join(dir, file));

test('no SQL and no database handle outside electron/catalog/ (in electron/, bench/, contract/)', () => {
  const files = ['electron', 'bench', 'contract']
    .flatMap(sources)
    .filter((file) => !file.startsWith(`electron${path.sep}catalog${path.sep}`));
  assert.ok(files.length > 50, `found only ${files.length} source files`);
  const offending = files.flatMap((file) =>
    fs
      .readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        /\.db\.|\.prepare\(|\[['"]db['"]\]/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [],
      ),
  );
  assert.deepEqual(offending, []);
});
