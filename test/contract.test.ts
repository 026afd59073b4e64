/**
 * contract/ is the ground floor both sides stand on: the main process and the window import it, and it
 * imports nothing of theirs (only its own files and packages), so no import runs back up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../electron/appPaths.ts';
import { sortResultParts } from '../contract/sortResult.ts';
import { duration } from '../electron/commands/args.ts';

/** Every module specifier a source file names in an import or export (static, dynamic, type-only). */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
}

/** The source files under a folder of the project: TypeScript and Svelte. */
const sources = (folder: string) =>
  fs
    .readdirSync(path.join(projectRoot, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.(ts|svelte)$/.test(f))
    .map((f) => path.join(projectRoot, folder, f));

/** True when `file` is inside the project's `folder`. */
const inside = (folder: string, file: string) => !path.relative(path.join(projectRoot, folder), file).startsWith('..');

test('contract/ imports only its own files and packages, nothing from electron/ or renderer/', () => {
  const files = sources('contract');
  assert.ok(files.length >= 3, `contract/ holds ${files.length} files`);
  for (const file of files) {
    for (const spec of specifiers(file)) {
      if (!spec.startsWith('.')) {
        assert.ok(
          !spec.startsWith('/') && !spec.startsWith('#'),
          `${path.relative(projectRoot, file)} imports ${spec}`,
        );
        continue;
      }
      assert.ok(
        inside('contract', path.resolve(path.dirname(file), spec)),
        `${path.relative(projectRoot, file)} imports ${spec}, outside contract/`,
      );
    }
  }
});

test('the renderer reaches the main process only through contract/, and keeps no copy of its constants', () => {
  const files = sources('renderer/src');
  assert.ok(files.length > 10, `renderer/src holds ${files.length} files`);
  for (const file of files) {
    const name = path.relative(projectRoot, file);
    for (const spec of specifiers(file)) {
      assert.ok(
        !spec.startsWith('.') || !inside('electron', path.resolve(path.dirname(file), spec)),
        `${name} imports ${spec} from electron/`,
      );
    }
    // The category names and the default review rule come from contract/; a literal here would be a copy.
    const text = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /['"]Ankle boot['"]/, `${name} spells out the category names`);
    assert.doesNotMatch(text, /minConfidence:\s*0\.\d/, `${name} spells out a review rule`);
  }
});

test("a sort's counts in words: the distinct photos go with the files placed, or with the files in all where some were already there", () => {
  assert.deepEqual(sortResultParts({ sorted: 3, distinctPhotos: 2, alreadyThere: 0, originalsRemoved: 0 }), {
    placed: '3 files',
    distinct: ' (2 distinct photos)',
    there: '',
  });
  assert.deepEqual(sortResultParts({ sorted: 100, distinctPhotos: 97, alreadyThere: 96, originalsRemoved: 12 }), {
    placed: '4 files',
    distinct: '',
    there: ' (100 files in all, 97 distinct photos; 12 originals elsewhere removed)',
  });
  assert.deepEqual(sortResultParts({ sorted: 1, distinctPhotos: 1, alreadyThere: 0, originalsRemoved: 0 }), {
    placed: '1 photo',
    distinct: '',
    there: '',
  });
});

test('durations are rounded to the second before they are split: 119.6 s is 2m00s', () => {
  assert.deepEqual([0.4, 59.6, 119.6, 125, 3599.6, 3725].map(duration), [
    '0m00s',
    '1m00s',
    '2m00s',
    '2m05s',
    '1h00m',
    '1h02m',
  ]);
});
