import fs from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { CHANNELS, jobUpdateSchema, type FashionSorterApi, type MenuCommand } from '../../contract/api.ts';
import { createServices, type ServiceOptions, type Services } from '../../electron/app/services.ts';
import { callValidated } from '../../electron/ipc.ts';
import { contentSecurityPolicy } from '../../electron/shellPolicy.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** A browser test's `skip` option: false where Chromium is installed, else why the test cannot run and what to do. */
export const SKIP_WITHOUT_CHROMIUM =
  !fs.existsSync(CHROMIUM) && `Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The app's own policy; thumbnails and photos come from this server here, so 'self' covers them.
const CSP = contentSecurityPolicy([]);

export interface RendererSession {
  page: Page;
  /** Sends an application-menu command, as the Electron shell's menu does. */
  menu(command: MenuCommand): Promise<void>;
  /** Console errors and CSP violations seen so far. */
  problems: string[];
  close(): Promise<void>;
}

let builtDir: string | undefined;

/** Builds the renderer once per test process, from the current sources. */
async function buildRenderer(): Promise<string> {
  if (builtDir) return builtDir;
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-renderer-'));
  await build({
    configFile: path.resolve(import.meta.dirname, '../../vite.config.ts'),
    logLevel: 'error',
    build: { outDir, emptyOutDir: true },
  });
  builtDir = outDir;
  return outDir;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The app's services over `<dir>/catalog.sqlite` (thumbnails in `<dir>/thumbs`, reviewer "tester"), serving
 * thumbnails and photos where openRenderer's server does; `options` adds to or overrides these.
 */
export function browserServices(dir: string, options: ServiceOptions = {}): Services {
  return createServices({
    catalogFile: path.join(dir, 'catalog.sqlite'),
    thumbnailsDir: path.join(dir, 'thumbs'),
    thumbnailBase: '/thumb/',
    photoBase: '/photo/',
    reviewer: 'tester',
    ...options,
  });
}

/**
 * Opens the real renderer in Debian's Chromium, served from 127.0.0.1 with the app's CSP, and backs
 * window.api with the given services through a Playwright binding (standing in for the preload bridge).
 */
export async function openRenderer(
  services: Services,
  options: { dropRoot?: string; initScripts?: string[] } = {},
): Promise<RendererSession> {
  const dir = await buildRenderer();
  const server = http.createServer(async (req, res) => {
    // Thumbnails and photos, as the app's thumb:// and photo:// protocols serve them: by content hash, catalog photos only.
    const byHash = /^\/(thumb|photo)\/([^/]+)$/.exec(new URL(req.url!, 'http://x').pathname);
    if (byHash) {
      const file =
        byHash[1] === 'thumb' ? await services.thumbnailFile(byHash[2]!) : await services.photoFile(byHash[2]!);
      if (!file) res.writeHead(404).end();
      else fs.createReadStream(file).pipe(res.writeHead(200));
      return;
    }
    const file = path.join(
      dir,
      path.normalize(
        new URL(req.url!, 'http://x').pathname === '/' ? '/index.html' : new URL(req.url!, 'http://x').pathname,
      ),
    );
    if (!file.startsWith(dir) || !fs.existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-security-policy': CSP,
    });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  // The same validation as the IPC handlers, so a malformed call fails here as it would in the app.
  await page.exposeBinding('__fashionSorterCall', (_source, method: keyof FashionSorterApi, ...args: unknown[]) => {
    if (!(method in CHANNELS) || method === 'importPaths') throw new Error(`unknown API method ${method}`);
    return callValidated(services.api, method, args);
  });
  // Stands in for the preload's webUtils.getPathForFile: Chromium gives page script no file paths, so a
  // test drops files named relative to dropRoot.
  await page.exposeBinding('__fashionSorterDrop', (_source, names: string[]) => {
    if (!options.dropRoot) throw new Error('this session accepts no drops');
    return callValidated(services.api, 'importPaths', [names.map((n) => path.join(options.dropRoot!, n))]);
  });
  // Plain source, not a function: the test runner's bundler would wrap named functions in a helper the page lacks.
  const methods = JSON.stringify(Object.keys(CHANNELS).filter((m) => m !== 'importPaths'));
  await page.addInitScript({
    content: `(() => {
      const listeners = [];
      globalThis.__menuListeners = listeners;
      globalThis.api = Object.fromEntries(${methods}.map((m) => [m, (...a) => globalThis.__fashionSorterCall(m, ...a)]));
      globalThis.api.importDropped = (files) => globalThis.__fashionSorterDrop(files.map((f) => f.name));
      globalThis.api.onMenuCommand = (listener) => listeners.push(listener);
      const jobListeners = new Set();
      globalThis.__jobListeners = jobListeners;
      globalThis.api.onJobUpdate = (listener) => {
        jobListeners.add(listener);
        return () => void jobListeners.delete(listener);
      };
    })();`,
  });
  // The services' job updates reach the page as the main process's pushes do, checked as the preload checks them.
  // One sent while the page (re)loads has no page to reach; the page asks for the statuses when it starts.
  const stopJobUpdates = services.onJobUpdate((update) => {
    const checked = jobUpdateSchema.parse(update);
    page
      .evaluate(
        (u) =>
          (globalThis as unknown as { __jobListeners: Set<(u: unknown) => void> }).__jobListeners.forEach((listener) =>
            listener(u),
          ),
        checked,
      )
      .catch(() => undefined);
  });
  // Added through the DevTools protocol, as the api shim is, so the page's CSP does not apply to them.
  for (const content of options.initScripts ?? []) await page.addInitScript({ content });
  await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  return {
    page,
    problems,
    menu: (command) =>
      page.evaluate(
        (c) =>
          (globalThis as unknown as { __menuListeners: ((c: string) => void)[] }).__menuListeners.forEach((listener) =>
            listener(c),
          ),
        command,
      ),
    close: async () => {
      stopJobUpdates();
      await browser.close();
      server.close();
    },
  };
}

/**
 * The services on a new catalog in `dir`, reviewer `tester`, with their photos served as openRenderer serves
 * them and the photos in `folder` imported as the window's import does (the shipped model predicts each).
 */
export async function servicesWithImport(
  dir: string,
  folder: string,
  options: Partial<ServiceOptions> = {},
): Promise<Services> {
  const services = browserServices(dir, options);
  await services.api.importPaths([folder]);
  while ((await services.api.importStatus())?.running) await sleep(200);
  return services;
}

/**
 * The photo's name in a grid tile's accessible name ("Bag 93.4% sure: SKU-1.jpg; needs review: …": what the tile
 * shows, then the name, then why it needs review, if it does). Its body is also used as page script.
 */
export const tileName = (label: string): string => label.slice(label.indexOf(': ') + 2).split('; needs review: ')[0]!;

/** axe-core's source, for a session's initScripts where a test audits accessibility. */
export const axeScript = () => fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core's WCAG 2.1 A and AA rules on the page, label in name included; reports every violation, returns the serious and critical ones. */
export async function seriousAccessibilityViolations(
  page: Page,
  report: (message: string) => void,
  view = 'page',
): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(o: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    // Label in name (WCAG 2.5.3) is among axe's experimental rules, off unless asked for.
    const result = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      rules: { 'label-content-name-mismatch': { enabled: true } },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  if (violations.length) report(`${view}: ${JSON.stringify(violations)}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
