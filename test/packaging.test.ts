import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { parse } from 'yaml';
import { defaultModelDir, modelsDir, projectRoot, SHIPPED_MODEL } from '../electron/appPaths.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { hasModel } from '../electron/ml/modelFiles.ts';
import { tempDir } from './helpers/photos.ts';

// Building installers needs Electron's binaries, which this machine cannot fetch: the configuration is
// checked against the app's layout instead, and the packaged layout is simulated where the code reads it.
const config = parse(fs.readFileSync(path.join(projectRoot, 'electron-builder.yml'), 'utf8'));
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));

test('installers for Linux, Windows and macOS, with the app icon; `npm run dist` builds them', async () => {
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.equal(config.win.target, 'nsis');
  assert.equal(config.mac.target, 'dmg');
  assert.match(pkg.scripts.dist, /npm run build && electron-builder/);
  const icon = await sharp(path.join(projectRoot, config.directories.buildResources, 'icon.png')).metadata();
  assert.ok(icon.width! >= 512 && icon.height! >= 512, 'macOS needs a 512-px icon');
  assert.notEqual(config.npmRebuild, false, 'native modules are rebuilt for Electron when packaging');
});

test('the archive holds the built app; its entry point is what the build writes', () => {
  assert.ok(config.files.includes('dist/**'));
  assert.equal(pkg.main, 'dist/electron/main.js');
  const build = JSON.parse(fs.readFileSync(path.join(projectRoot, 'tsconfig.build.json'), 'utf8'));
  assert.equal(path.join(build.compilerOptions.outDir, 'electron', 'main.js'), path.normalize(pkg.main));
  assert.match(pkg.scripts['build:electron'], /--outfile=dist\/electron\/preload\.cjs/);
  assert.match(fs.readFileSync(path.join(projectRoot, 'electron', 'main.ts'), 'utf8'), /preload: path\.join\(import\.meta\.dirname, 'preload\.cjs'\)/);
});

test('native modules and the wasm binaries are unpacked from the archive, and each pattern matches what is installed', () => {
  for (const needed of ['node_modules/sharp/**', 'node_modules/@img/**', 'node_modules/better-sqlite3/**', 'node_modules/@tensorflow/tfjs-node/**', 'node_modules/@tensorflow/tfjs-node-gpu/**']) {
    assert.ok(config.asarUnpack.includes(needed), needed);
  }
  for (const pattern of config.asarUnpack as string[]) {
    const dir = path.join(projectRoot, pattern.replace(/\/\*\*$/, '').replace(/\/\*\.\w+$/, ''));
    if (pattern.includes('tfjs-node')) continue; // optional: absent where libtensorflow cannot be fetched
    assert.ok(fs.existsSync(dir), `${pattern} matches nothing`);
    if (pattern.endsWith('*.wasm')) assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.wasm')), pattern);
  }
  assert.ok(fs.readdirSync(path.join(projectRoot, 'node_modules/better-sqlite3/build/Release')).includes('better_sqlite3.node'));
});

test('the shipped model travels as an extra resource, and the packaged app finds it there', () => {
  const models = config.extraResources.find((r: { from: string }) => r.from === 'models');
  assert.deepEqual([models.from, models.to], ['models', 'models']);
  assert.ok(hasModel(path.join(projectRoot, 'models', SHIPPED_MODEL)));
  // The packaged layout: <resources>/models/<model>, with process.resourcesPath pointing at <resources>.
  const resources = tempDir('packaged-resources');
  fs.cpSync(path.join(projectRoot, 'models', SHIPPED_MODEL), path.join(resources, 'models', SHIPPED_MODEL), { recursive: true });
  const processWithResources = process as { resourcesPath?: string };
  const saved = processWithResources.resourcesPath;
  processWithResources.resourcesPath = resources;
  try {
    assert.equal(modelsDir(), path.join(resources, 'models'));
    assert.equal(defaultModelDir(), path.join(resources, 'models', SHIPPED_MODEL));
    assert.ok(hasModel(defaultModelDir()));
    assert.equal(readModelCard(defaultModelDir())!.name, SHIPPED_MODEL);
  } finally {
    processWithResources.resourcesPath = saved;
  }
});

test("Electron's fuses are set for a locked-down binary", () => {
  assert.deepEqual(config.electronFuses, {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    loadBrowserProcessSpecificV8Snapshot: false,
    grantFileProtocolExtraPrivileges: false,
  });
});
