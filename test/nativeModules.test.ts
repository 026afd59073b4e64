import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { projectRoot } from '../electron/appPaths.ts';
import { tempDir } from './helpers/photos.ts';

// Electron 45 loads native addons for its own Node ABI, not the one `npm ci` ran under. An N-API addon
// (it exports napi_register_module_v1) loads in both; an ABI-bound one (node_register_module_v<ABI>)
// loads in one only, and `npm start` would open a window whose every call fails.

/** The native addons this process has loaded whose path lies under `packageDir`. */
function loadedAddons(packageDir: string): string[] {
  const report = process.report.getReport() as unknown as { sharedObjects: string[] };
  return report.sharedObjects.filter(
    (file) => file.endsWith('.node') && path.resolve(file).startsWith(packageDir + path.sep),
  );
}

function assertNapi(addon: string) {
  const bytes = fs.readFileSync(addon);
  assert.ok(
    bytes.includes('napi_register_module_v1\0'),
    `${addon} does not export napi_register_module_v1: it is not an N-API addon and will not load in Electron`,
  );
  assert.ok(!bytes.includes('node_register_module_v'), `${addon} is bound to one Node ABI (node_register_module_v…)`);
}

test('better-sqlite3 runs from one N-API addon that serves Node, the CLI and Electron alike', () => {
  const db = new Database(path.join(tempDir('napi'), 'probe.sqlite'));
  try {
    assert.equal(db.pragma('journal_mode = WAL', { simple: true }), 'wal');
  } finally {
    db.close();
  }
  const addons = loadedAddons(path.join(projectRoot, 'node_modules', 'better-sqlite3'));
  assert.equal(addons.length, 1, `one better-sqlite3 addon loaded: ${addons.join(', ')}`);
  assertNapi(addons[0]!);
  // npm runs better-sqlite3's node-gyp step, which compiles nothing where a prebuild exists; a compiled
  // addon there would be loaded before the prebuild, by Node and Electron alike.
  const build = path.join(projectRoot, 'node_modules', 'better-sqlite3', 'build');
  const compiled = fs.existsSync(build)
    ? fs.readdirSync(build, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.node'))
    : [];
  assert.deepEqual(compiled, [], 'a node-gyp build of better-sqlite3 would be loaded instead of the N-API prebuild');
});

test('sharp runs from N-API addons', async () => {
  await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  const addons = loadedAddons(path.join(projectRoot, 'node_modules', '@img'));
  assert.ok(addons.length >= 1, 'sharp loaded its addon from node_modules/@img');
  for (const addon of addons) assertNapi(addon);
});
