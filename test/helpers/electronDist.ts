import fs from 'node:fs';
import path from 'node:path';

/** What @electron/fuses looks for in Electron's binary: the fuse wire follows it. */
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const FUSE_WIRE_VERSION = 1;
/**
 * The fuses of wire version 1 in wire order (@electron/fuses' FuseV1Options; the first eight are
 * electron-builder's `electronFuses` keys). Electron 45's wire has nine.
 */
export const FUSES = [
  'runAsNode',
  'enableCookieEncryption',
  'enableNodeOptionsEnvironmentVariable',
  'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation',
  'onlyLoadAppFromAsar',
  'loadBrowserProcessSpecificV8Snapshot',
  'grantFileProtocolExtraPrivileges',
  'wasmTrapHandlers',
] as const;
export type Fuses = Record<(typeof FUSES)[number], boolean>;

/** The wire as Electron lays it out: sentinel, version, length, then '1' (on) or '0' (off) per fuse. */
function fuseWire(fuses: Fuses): Buffer {
  const states = FUSES.map((name) => (fuses[name] ? '1' : '0')).join('');
  return Buffer.concat([
    Buffer.from(FUSE_SENTINEL, 'ascii'),
    Buffer.from([FUSE_WIRE_VERSION, FUSES.length]),
    Buffer.from(states, 'ascii'),
  ]);
}

/** Reads the fuses back from a binary, independently of the library that flipped them. */
export function readFuses(binary: string): Fuses {
  const bytes = fs.readFileSync(binary);
  const at = bytes.indexOf(FUSE_SENTINEL, 0, 'ascii');
  if (at < 0 || bytes.lastIndexOf(FUSE_SENTINEL, undefined, 'ascii') !== at)
    throw new Error(`${binary} does not hold exactly one fuse wire`);
  const wire = at + FUSE_SENTINEL.length;
  if (bytes[wire] !== FUSE_WIRE_VERSION || bytes[wire + 1] !== FUSES.length)
    throw new Error(`${binary}: unexpected fuse wire version or length`);
  const fuses = {} as Fuses;
  FUSES.forEach((name, i) => {
    const state = String.fromCharCode(bytes[wire + 2 + i]!);
    if (state !== '0' && state !== '1') throw new Error(`${binary}: fuse ${name} is '${state}'`);
    fuses[name] = state === '1';
  });
  return fuses;
}

/**
 * Writes a stand-in for Electron's linux-x64 distribution into `dir`, for electron-builder's `electronDist`
 * (a folder without the release zip is copied as it is). It holds the files of the release zip, minus the
 * two electron-builder deletes from a downloaded one (resources/default_app.asar, version). The files are
 * placeholders; the `electron` executable carries a real fuse wire set to `fuses`, so electron-builder's
 * fuse flipping runs on it as on Electron's binary.
 */
export function writeElectronDist(dir: string, fuses: Fuses): string {
  const placeholder = (name: string) => `placeholder for Electron's ${name} (test/helpers/electronDist.ts)\n`;
  const files = [
    'chrome_100_percent.pak',
    'chrome_200_percent.pak',
    'icudtl.dat',
    'libEGL.so',
    'libGLESv2.so',
    'libffmpeg.so',
    'libvk_swiftshader.so',
    'libvulkan.so.1',
    'resources.pak',
    'snapshot_blob.bin',
    'v8_context_snapshot.bin',
    'vk_swiftshader_icd.json',
    'LICENSE',
    'LICENSES.chromium.html',
    'locales/en-US.pak',
    'locales/de.pak',
    'locales/fr.pak',
  ];
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), placeholder(file));
  }
  fs.mkdirSync(path.join(dir, 'resources'), { recursive: true });
  for (const helper of ['chrome-sandbox', 'chrome_crashpad_handler']) {
    fs.writeFileSync(path.join(dir, helper), `#!/bin/sh\necho '${placeholder(helper).trim()}' >&2\nexit 1\n`, {
      mode: 0o755,
    });
  }
  const launcher = `#!/bin/sh\necho '${placeholder('binary').trim()}' >&2\nexit 1\n# `;
  fs.writeFileSync(
    path.join(dir, 'electron'),
    Buffer.concat([Buffer.from(launcher), fuseWire(fuses), Buffer.from('\n')]),
    { mode: 0o755 },
  );
  return dir;
}
