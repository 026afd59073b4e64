import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { ARGUMENTS, CHANNELS, type FashionSorterApi } from '../contract/api.ts';
import { createServices } from '../electron/app/services.ts';
import { Catalog } from '../electron/catalog/catalog.ts';
import { DEFAULT_FOLDER_NAMES } from '../electron/export/fileNames.ts';
import { registerIpcHandlers } from '../electron/ipc.ts';
import { contentSecurityPolicy, isAppUrl, isSafeExternalLink, rendererFile } from '../electron/shellPolicy.ts';
import { openRenderer, SKIP_WITHOUT_CHROMIUM } from './helpers/browser.ts';
import { tempDir } from './helpers/photos.ts';
import { DEFAULT_REVIEW_RULE } from '../contract/review.ts';

const skipBrowser = SKIP_WITHOUT_CHROMIUM;

test('app:// serves files of the built renderer only: no way out of its folder', () => {
  const dir = path.resolve('/opt/fashion-sorter/renderer');
  assert.equal(rendererFile(dir, 'app://renderer/'), path.join(dir, 'index.html'));
  assert.equal(rendererFile(dir, 'app://renderer/assets/index-abc.js'), path.join(dir, 'assets', 'index-abc.js'));
  for (const url of [
    'app://renderer/../../etc/passwd',
    'app://renderer/%2e%2e/%2e%2e/etc/passwd',
    'app://renderer/..%2f..%2fetc%2fpasswd',
    'app://renderer/assets/..%5c..%5c..%5cwindows',
    'app://renderer/%00',
    'app://renderer/%E0%A4%A',
    'not a url',
  ]) {
    const file = rendererFile(dir, url);
    assert.ok(file === undefined || file.startsWith(dir + path.sep), `${url} → ${file}`);
  }
});

test('a window shows only the app; only plain https links go to the system browser', () => {
  assert.ok(isAppUrl('app://renderer/index.html'));
  for (const url of [
    'app://renderer.evil.example/',
    'https://renderer/',
    'file:///etc/passwd',
    'app:renderer',
    'javascript:alert(1)',
    '',
  ])
    assert.ok(!isAppUrl(url), url);
  assert.ok(isSafeExternalLink('https://github.com/zalandoresearch/fashion-mnist'));
  for (const url of [
    'http://example.com',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'smb://server/share',
    'https://user:pw@example.com',
    'ms-msdt:/id',
    'not a url',
  ]) {
    assert.ok(!isSafeExternalLink(url), url);
  }
});

/** The IPC handlers as the shell registers them, on a stand-in for Electron's ipcMain. */
function ipcHandlers(api: FashionSorterApi) {
  const handlers = new Map<string, (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown>>();
  registerIpcHandlers(
    { handle: (channel: string, handler: never) => handlers.set(channel, handler) } as unknown as IpcMain,
    api,
    (event) => isAppUrl(event.senderFrame?.url ?? ''),
  );
  const from = (url: string) => ({ senderFrame: { url } }) as unknown as IpcMainInvokeEvent;
  return { handlers, from };
}

test('every IPC channel refuses other senders and malformed payloads before any service runs', async () => {
  const reached: string[] = [];
  // A service that records being reached: none of the calls below may get this far.
  const api = new Proxy({}, { get: (_t, method: string) => async () => reached.push(method) }) as FashionSorterApi;
  const { handlers, from } = ipcHandlers(api);
  assert.deepEqual([...handlers.keys()].sort(), Object.values(CHANNELS).sort());
  for (const [method, channel] of Object.entries(CHANNELS) as [keyof FashionSorterApi, string][]) {
    const handle = handlers.get(channel)!;
    await assert.rejects(
      async () => handle(from('https://evil.example/')),
      /refused .* from https:\/\/evil\.example\//,
      channel,
    );
    await assert.rejects(async () => handle(from('file:///tmp/x.html')), /refused/, channel);
    // One argument too many, and arguments of the wrong kind.
    const arity = (ARGUMENTS[method] as unknown as { def: { items: unknown[] } }).def.items.length;
    await assert.rejects(
      handle(from('app://renderer/index.html'), ...new Array(arity + 1).fill(1)),
      /invalid arguments/,
      channel,
    );
    if (arity > 0)
      await assert.rejects(
        handle(
          from('app://renderer/index.html'),
          ...new Array(arity).fill({ __proto__: { polluted: true }, path: '/etc/passwd' }),
        ),
        /invalid arguments/,
        channel,
      );
  }
  assert.deepEqual(reached, []);
  await handlers.get(CHANNELS.counts)!(from('app://renderer/index.html'), DEFAULT_REVIEW_RULE);
  assert.deepEqual(reached, ['counts'], 'a well-formed call from the app goes through');
});

test('folder names from the renderer cannot leave the chosen destination', async () => {
  const dir = tempDir('security-sort');
  const dest = path.join(dir, 'dest');
  const services = createServices({
    catalogFile: path.join(dir, 'c.sqlite'),
    thumbnailsDir: path.join(dir, 't'),
    chooseDestination: async () => dest,
  });
  try {
    await services.api.chooseSortDestination();
    for (const evil of ['../outside', '..', '.', '/etc', 'a\\..\\..\\b', 'con']) {
      const folders = [...DEFAULT_FOLDER_NAMES];
      folders[3] = evil;
      await assert.rejects(
        services.api.previewSort({ mode: 'move', selection: { queue: 'all', rule: DEFAULT_REVIEW_RULE }, folders }),
        /cannot be used on every system/,
        evil,
      );
    }
  } finally {
    await services.close();
  }
  assert.ok(!fs.existsSync(dest));
});

test(
  'the catalog and its folder are private to the user',
  { skip: process.platform === 'win32' && 'POSIX permissions' },
  () => {
    const dir = tempDir('security-perms');
    const file = path.join(dir, 'new', 'data', 'catalog.sqlite');
    new Catalog(file).close();
    assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'new')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  },
);

test(
  'the content security policy blocks inline script, injected event handlers, network requests and foreign images in the real renderer',
  { skip: skipBrowser, timeout: 120_000 },
  async () => {
    const dir = tempDir('security-csp');
    const services = createServices({
      catalogFile: path.join(dir, 'c.sqlite'),
      thumbnailsDir: path.join(dir, 't'),
      thumbnailBase: '/thumb/',
      photoBase: '/photo/',
    });
    const ui = await openRenderer(services);
    try {
      await ui.page.getByRole('heading', { name: 'Fashion Sorter' }).waitFor();
      // Page script, as an attacker's injected code would run it (a string: the test's own types know no DOM).
      const outcome = (await ui.page.evaluate(`(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const script = document.createElement('script');
      script.textContent = 'globalThis.inlineRan = true';
      document.body.append(script);
      // HTML injected with an event handler attribute (code the DevTools protocol runs may eval, so that is not the test).
      const trap = document.createElement('div');
      trap.innerHTML = '<img src="data:," onerror="globalThis.handlerRan = true">';
      document.body.append(trap);
      let fetched = false;
      try { await fetch('http://127.0.0.1:9/'); fetched = true; } catch {}
      const loaded = await new Promise((resolve) => {
        const image = new Image();
        image.onload = () => resolve(true);
        image.onerror = () => resolve(false);
        image.src = 'https://tracker.example/pixel.png';
      });
      await new Promise((r) => setTimeout(r, 100));
      return { inline: globalThis.inlineRan === true, handler: globalThis.handlerRan === true, fetched, loaded, violations };
    })()`)) as { inline: boolean; handler: boolean; fetched: boolean; loaded: boolean; violations: string[] };
      assert.deepEqual(
        { ...outcome, violations: undefined },
        { inline: false, handler: false, fetched: false, loaded: false, violations: undefined },
      );
      for (const directive of ['script-src-elem', 'script-src-attr', 'connect-src', 'img-src'])
        assert.ok(outcome.violations.includes(directive), `${directive} violation in ${outcome.violations}`);
      assert.match(
        contentSecurityPolicy(),
        /script-src 'self';.*img-src 'self' data: thumb: photo:;.*connect-src 'none'/,
      );
    } finally {
      await ui.close();
      await services.close();
    }
  },
);
