/**
 * contract/ is the ground floor both sides stand on: the main process and the window import it, and it
 * imports nothing of theirs (only its own files and packages), so no import runs back up.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../electron/appPaths.ts';

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
