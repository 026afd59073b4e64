import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { extractAll } from '@electron/asar';
import sharp from 'sharp';
import ts from 'typescript';
import { parse } from 'yaml';
import { defaultModelDir, modelsDir, projectRoot, SHIPPED_MODEL } from '../electron/appPaths.ts';
import { readModelCard } from '../electron/ml/modelCard.ts';
import { hasModel } from '../electron/ml/modelFiles.ts';
import { ensureDistBuilt } from './helpers/distBuild.ts';
import { FUSES, type Fuses, readFuses, writeElectronDist } from './helpers/electronDist.ts';
import { tempDir } from './helpers/photos.ts';

// electron-builder packs the built app for Linux into a folder (its `dir` target, what the AppImage and the
// deb are made from) around a stand-in for Electron's distribution, which this machine cannot fetch; the
// tests read the result. The installers themselves need tools electron-builder downloads (and, for the
// dmg, a Mac): their configuration is checked instead.
const config = parse(fs.readFileSync(path.join(projectRoot, 'electron-builder.yml'), 'utf8'));
const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));
const run = promisify(execFile);

// Each fuse of the stand-in starts opposite to what electron-builder.yml asks, so every one must be written.
const standInFuses = Object.fromEntries(
  FUSES.map((name) => [name, name in config.electronFuses ? !config.electronFuses[name] : true]),
) as Fuses;
const electronDist = tempDir('electron-dist');
const out = tempDir('packaged');
/** app.asar unpacked as Electron's fs shows it: unpacked entries read from app.asar.unpacked. */
const archive = tempDir('app-asar');
const app = path.join(out, 'linux-unpacked');
const resources = path.join(app, 'resources');
const unpacked = path.join(resources, 'app.asar.unpacked');

/** Paths of the files under `dir`, relative to it, with '/' separators. */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !fs.statSync(path.join(dir, f)).isDirectory())
    .map((f) => f.split(path.sep).join('/'));
}

/**
 * The modules `entry` loads, transitively: static imports and re-exports, dynamic imports of a string, and
 * worker entries (workerThreads.ts starts `<name>.js` beside the module that passes its own
 * `import.meta.url` and the name). Relative modules come back as paths under `root`, bare ones as packages.
 */
function moduleClosure(
  root: string,
  entry: string,
): { modules: Set<string>; packages: Set<string>; missing: string[] } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const missing: string[] = [];
  const todo = [entry];
  while (todo.length > 0) {
    const module = todo.pop()!;
    if (modules.has(module)) continue;
    const file = path.join(root, module);
    if (!fs.existsSync(file)) {
      missing.push(module);
      continue;
    }
    modules.add(module);
    const source = fs.readFileSync(file, 'utf8');
    // TypeScript's own scanner finds static and dynamic imports and skips strings and comments that merely
    // read like one ("…the photos the model learned from").
    const specifiers = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
    for (const worker of source.matchAll(/import\.meta\.url,\s*['"](\w+)['"]/g)) specifiers.push(`./${worker[1]}.js`);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) todo.push(path.posix.join(path.posix.dirname(module), specifier));
      else if (!isBuiltin(specifier))
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
    }
  }
  return { modules, packages, missing };
}

test('installers for Linux, Windows and macOS, with the app icon; `npm run dist` builds them', async () => {
  assert.deepEqual(config.linux.target, ['AppImage', 'deb']);
  assert.equal(config.win.target, 'nsis');
  assert.equal(config.mac.target, 'dmg');
  assert.match(pkg.scripts.dist, /npm run build && electron-builder/);
  const icon = await sharp(path.join(projectRoot, config.directories.buildResources, 'icon.png')).metadata();
  assert.ok(icon.width! >= 512 && icon.height! >= 512, 'macOS needs a 512-px icon');
  // N-API prebuilt binaries serve Node and Electron alike; a rebuild would compile better-sqlite3 from source
  // against Electron's headers (a download), and its loader would prefer that build.
  assert.equal(config.npmRebuild, false);
});

test('the deb has its maintainer and homepage; the macOS app is signed ad hoc, with entitlements that let it load its frameworks', () => {
  // electron-builder's deb target refuses to build without them.
  assert.match(pkg.author.email, /^[^@\s]+@[^@\s]+\.[a-z]+$/);
  assert.match(pkg.homepage, /^https:\/\//);
  // electron-builder signs after flipping the fuses (platformPackager.doPack); "-" is its ad-hoc identity.
  assert.equal(config.mac.identity, '-');
  assert.equal(config.mac.hardenedRuntime, true);
  // With no entitlements of ours, electron-builder's template applies. An ad-hoc signature has no team, so
  // the hardened runtime's library validation would refuse Electron's frameworks without disable-library-validation.
  const ours = config.mac.entitlements ?? path.join(config.directories.buildResources, 'entitlements.mac.plist');
  const entitlementsFile = fs.existsSync(path.join(projectRoot, ours))
    ? path.join(projectRoot, ours)
    : path.join(projectRoot, 'node_modules', 'app-builder-lib', 'templates', 'entitlements.mac.plist');
  const entitlements = fs.readFileSync(entitlementsFile, 'utf8');
  for (const key of ['com.apple.security.cs.disable-library-validation', 'com.apple.security.cs.allow-jit']) {
    assert.match(entitlements, new RegExp(`<key>${key.replaceAll('.', '\\.')}</key>\\s*<true/>`), key);
  }
});

test('the build compiles electron/ and contract/ alone: no module of bench/ or test/ reaches dist/, even through an import', () => {
  const fail = (d: ts.Diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  };
  const build = ts.getParsedCommandLineOfConfigFile(
    path.join(projectRoot, 'tsconfig.build.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail },
  )!;
  // What tsc emits: the included files and every module of ours they import, transitively (not declarations).
  const compiled = ts
    .createProgram(build.fileNames, build.options)
    .getSourceFiles()
    .filter((f) => !f.isDeclarationFile && !f.fileName.includes('/node_modules/'))
    .map((f) => path.relative(projectRoot, f.fileName).split(path.sep).join('/'));
  assert.ok(compiled.includes('electron/main.ts') && compiled.includes('electron/cli.ts'));
  assert.deepEqual(
    compiled.filter((f) => !f.startsWith('electron/') && !f.startsWith('contract/')),
    [],
  );
});

// What the package holds comes from node_modules as npm installed it for this machine (sharp's binaries are
// per platform), so the Linux x64 app is packed and read on Linux x64 only.
const skip =
  (process.platform !== 'linux' || process.arch !== 'x64') &&
  'the Linux x64 app is packed from node_modules installed on Linux x64';

describe('the unpacked Linux app', { skip }, () => {
  before(
    async () => {
      await ensureDistBuilt();
      writeElectronDist(electronDist, standInFuses);
      const electronVersion = JSON.parse(
        fs.readFileSync(path.join(projectRoot, 'node_modules', 'electron', 'package.json'), 'utf8'),
      ).version;
      await run(
        process.execPath,
        [
          path.join(projectRoot, 'node_modules', 'electron-builder', 'cli.js'),
          '--config',
          'electron-builder.yml',
          '--linux',
          'dir',
          '--x64',
          '--publish',
          'never',
          `-c.electronDist=${electronDist}`,
          `-c.electronVersion=${electronVersion}`,
          `-c.directories.output=${out}`,
        ],
        { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 },
      );
      extractAll(path.join(resources, 'app.asar'), archive);
    },
    { timeout: 600_000 },
  );

  test("electron-builder packs the app offline around a stand-in Electron: the executable, Electron's files and licenses", () => {
    assert.ok(fs.statSync(path.join(app, 'fashion-sorter')).mode & 0o100, 'the executable is named after the app');
    assert.ok(!fs.existsSync(path.join(app, 'electron')));
    for (const file of [
      'chrome-sandbox',
      'chrome_crashpad_handler',
      'locales/en-US.pak',
      'resources.pak',
      'LICENSES.chromium.html',
      'resources/app.asar',
    ]) {
      assert.ok(fs.existsSync(path.join(app, file)), file);
    }
    assert.equal(
      fs.readFileSync(path.join(app, 'LICENSE.electron.txt'), 'utf8'),
      fs.readFileSync(path.join(electronDist, 'LICENSE'), 'utf8'),
    );
  });

  test("every fuse in electron-builder.yml is flipped in the packaged binary; Electron's others are left alone", () => {
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
    assert.deepEqual(readFuses(path.join(app, 'fashion-sorter')), { ...standInFuses, ...config.electronFuses });
  });

  test('the archive holds the built app and package.json; its entry point is what the build writes', () => {
    assert.equal(pkg.main, 'dist/electron/main.js');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(archive, 'package.json'), 'utf8')).main, pkg.main);
    const build = JSON.parse(fs.readFileSync(path.join(projectRoot, 'tsconfig.build.json'), 'utf8'));
    assert.equal(path.join(build.compilerOptions.outDir, 'electron', 'main.js'), path.normalize(pkg.main));
    assert.match(pkg.scripts['build:electron'], /--outfile=dist\/electron\/preload\.cjs/);
    assert.match(
      fs.readFileSync(path.join(projectRoot, 'electron', 'main.ts'), 'utf8'),
      /preload: path\.join\(import\.meta\.dirname, 'preload\.cjs'\)/,
    );
    for (const file of [pkg.main, 'dist/electron/preload.cjs', 'dist/renderer/index.html']) {
      assert.deepEqual(fs.readFileSync(path.join(archive, file)), fs.readFileSync(path.join(projectRoot, file)), file);
    }
    const renderer = (root: string) =>
      filesUnder(path.join(root, 'dist', 'renderer'))
        .filter((f) => !f.endsWith('.map'))
        .sort();
    assert.deepEqual(renderer(archive), renderer(projectRoot), 'the whole renderer build ships');
  });

  test('every module main.js loads is in the archive, and no other part of dist/electron ships (the command line); bench/ and test/ are not built', () => {
    const { modules, packages, missing } = moduleClosure(archive, pkg.main);
    assert.deepEqual(missing, [], 'modules main.js loads that electron-builder.yml leaves out');
    for (const name of packages) {
      if (name === 'electron') continue; // Electron's own module, provided by the runtime
      assert.ok(
        fs.existsSync(path.join(archive, 'node_modules', name, 'package.json')),
        `${name} (imported by the app) is not in the archive`,
      );
    }
    for (const worker of ['photoWorker', 'inferenceWorker', 'trainWorker', 'exportWorker']) {
      assert.ok(
        [...modules].some((m) => m.endsWith(`/${worker}.js`)),
        `${worker} is followed`,
      );
    }
    const shipped = filesUnder(path.join(archive, 'dist', 'electron')).map((f) => `dist/electron/${f}`);
    // A module of types only (the worker protocols) compiles to `export {};`: nothing loads it, and it costs nothing.
    const typesOnly = (f: string) =>
      fs
        .readFileSync(path.join(archive, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
        .trim() === 'export {};';
    assert.deepEqual(
      shipped.filter((f) => !modules.has(f) && !typesOnly(f)).sort(),
      ['dist/electron/preload.cjs'],
      'dist/electron files ship that main.js never loads: exclude them in electron-builder.yml (files), or delete dist/ if they are left from a removed source',
    );
    const built = filesUnder(path.join(projectRoot, 'dist', 'electron')).map((f) => `dist/electron/${f}`);
    for (const devOnly of ['dist/electron/cli.js', 'dist/electron/commands/classify.js']) {
      assert.ok(built.includes(devOnly), `${devOnly} is built`);
      assert.ok(!shipped.includes(devOnly), `${devOnly} ships`);
    }
    // The benchmarks and the test fixtures live outside electron/ and contract/ and are not built at all.
    assert.deepEqual(
      fs
        .readdirSync(path.join(projectRoot, 'dist'))
        .filter((d) => !d.startsWith('.'))
        .sort(),
      ['contract', 'electron', 'renderer'],
    );
  });

  test('the native modules and the wasm binaries are unpacked beside the archive, as installed (no rebuild)', () => {
    const installed = path.join(projectRoot, 'node_modules');
    for (const pattern of config.asarUnpack as string[]) {
      if (pattern.includes('tfjs-node')) continue; // optional: absent where libtensorflow cannot be fetched
      const dir = path.join(projectRoot, pattern.replace(/\/\*\*$/, '').replace(/\/\*\.\w+$/, ''));
      assert.ok(fs.existsSync(dir), `${pattern} matches nothing`);
    }
    const prebuild = 'node_modules/better-sqlite3/prebuilds/linux-x64.node';
    assert.deepEqual(fs.readFileSync(path.join(unpacked, prebuild)), fs.readFileSync(path.join(projectRoot, prebuild)));
    assert.ok(!fs.existsSync(path.join(unpacked, 'node_modules/better-sqlite3/build')));
    const sharpFiles = filesUnder(path.join(unpacked, 'node_modules/@img'));
    assert.ok(sharpFiles.includes('sharp-linux-x64/lib/sharp-linux-x64.node'), 'sharp');
    assert.ok(
      sharpFiles.some((f) => /^sharp-libvips-linux-x64\/lib\/libvips-cpp\.so/.test(f)),
      'libvips',
    );
    const wasm = fs
      .readdirSync(path.join(installed, '@tensorflow/tfjs-backend-wasm/dist'))
      .filter((f) => f.endsWith('.wasm'));
    assert.ok(wasm.length >= 3, 'plain, SIMD and threaded SIMD');
    for (const file of wasm) {
      const rel = `node_modules/@tensorflow/tfjs-backend-wasm/dist/${file}`;
      assert.deepEqual(fs.readFileSync(path.join(unpacked, rel)), fs.readFileSync(path.join(projectRoot, rel)), rel);
    }
  });

  test("the archive's node_modules work on their own: SQLite, sharp and tfjs's wasm backend load from the packaged files", async () => {
    // A module beside main.js resolves packages as the app does; outside the checkout nothing else can be found.
    const probe = path.join(archive, 'dist', 'electron', 'packagingProbe.js');
    fs.writeFileSync(
      probe,
      `
      import Database from 'better-sqlite3';
      import sharp from 'sharp';
      import * as tf from '@tensorflow/tfjs-core';
      import '@tensorflow/tfjs-backend-wasm';
      const sqlite = new Database(':memory:').prepare('select sqlite_version() as v').get().v;
      const png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#fff' } }).png().toBuffer();
      const { width } = await sharp(png).metadata();
      await tf.setBackend('wasm');
      const sum = tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0];
      const from = ['better-sqlite3', 'sharp', '@tensorflow/tfjs-backend-wasm'].map((p) => new URL(import.meta.resolve(p)).pathname);
      console.log(JSON.stringify({ sqlite, width, backend: tf.getBackend(), sum, from }));
    `,
    );
    const env = { ...process.env };
    delete env.NODE_PATH;
    delete env.NODE_OPTIONS;
    const { stdout } = await run(process.execPath, [probe], { cwd: archive, env });
    const result = JSON.parse(stdout);
    assert.match(result.sqlite, /^3\./);
    assert.equal(result.width, 3);
    assert.equal(result.backend, 'wasm');
    assert.equal(result.sum, 3);
    for (const file of result.from) assert.ok(file.startsWith(archive), `${file} is not the packaged copy`);
  });

  test('nothing dev-only ships: dev dependencies, tests, sources, type declarations, source maps', () => {
    const shipped = [...new Set([...filesUnder(archive), ...filesUnder(unpacked)])];
    const devPackages = new Set(Object.keys(pkg.devDependencies));
    const packageOf = (f: string) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1];
    const offending = {
      devDependencies: shipped.filter((f) => devPackages.has(packageOf(f) ?? '')),
      buildOnlyPackages: shipped.filter((f) =>
        /^(@types\/|@webgpu\/types$|node-addon-api$|@esbuild\/)/.test(packageOf(f) ?? ''),
      ),
      tests: shipped.filter((f) =>
        /(^|\/)(tests?|__tests__)\/|\.(test|spec)\.[cm]?[jt]s$|_test\.js$|^test-artifacts\//.test(f),
      ),
      benchmarks: shipped.filter((f) => /^(dist\/)?bench\//.test(f)),
      typescript: shipped.filter((f) => /\.[cm]?ts$/.test(f)),
      sourceMaps: shipped.filter((f) => f.endsWith('.map')),
      nativeSources: shipped.filter((f) =>
        /\.(c|cc|cpp|gyp|gypi)$|\/(better-sqlite3|sharp)\/(src|deps|build)\//.test(f),
      ),
    };
    for (const [what, files] of Object.entries(offending)) assert.deepEqual(files.slice(0, 10), [], what);
    assert.deepEqual(fs.readdirSync(resources).sort(), ['app.asar', 'app.asar.unpacked', 'models']);
  });

  test('the shipped model travels as an extra resource, and the packaged app finds it there', () => {
    const models = config.extraResources.find((r: { from: string }) => r.from === 'models');
    assert.deepEqual([models.from, models.to], ['models', 'models']);
    const shipped = path.join(resources, 'models', SHIPPED_MODEL);
    // The shipped model alone: no checkpoint, no model still in training.
    assert.deepEqual(fs.readdirSync(path.join(resources, 'models')), [SHIPPED_MODEL]);
    assert.deepEqual(
      fs.readdirSync(shipped).sort(),
      fs
        .readdirSync(path.join(projectRoot, 'models', SHIPPED_MODEL))
        .filter((f) => f !== 'checkpoint')
        .sort(),
    );
    for (const file of ['model.json', 'weights.bin', 'metrics.json']) {
      assert.deepEqual(
        fs.readFileSync(path.join(shipped, file)),
        fs.readFileSync(path.join(projectRoot, 'models', SHIPPED_MODEL, file)),
        file,
      );
    }
    // In the packaged app process.resourcesPath is the folder holding app.asar.
    const processWithResources = process as { resourcesPath?: string };
    const saved = processWithResources.resourcesPath;
    processWithResources.resourcesPath = resources;
    try {
      assert.equal(modelsDir(), path.join(resources, 'models'));
      assert.equal(defaultModelDir(), shipped);
      assert.ok(hasModel(defaultModelDir()));
      assert.equal(readModelCard(defaultModelDir())!.name, SHIPPED_MODEL);
    } finally {
      processWithResources.resourcesPath = saved;
    }
  });
});
