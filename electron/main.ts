/**
 * The Electron shell: one secure window, the app:// protocol for the renderer, and the IPC wiring.
 * Everything it serves comes from the services in electron/, which never import Electron. The services
 * load SQLite, sharp and tfjs (most of a second), so they are imported only after the window exists: the
 * window shows at once, and requests that arrive before the services are ready wait for them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  net,
  protocol,
  screen,
  session,
  shell,
  type MenuItemConstructorOptions,
} from 'electron';
import { JOB_CHANNEL, MENU_CHANNEL, type MenuCommand } from '../contract/api.ts';
import type { ServiceOptions } from './app/services.ts';
import { catalogSwitch, readRecentCatalogs, rememberCatalog, type CatalogSwitch } from './app/catalogSwitch.ts';
import { DEFAULT_SIZE, loadWindowState, saveWindowState } from './windowState.ts';
import { projectRoot } from './appPaths.ts';
import { registerIpcHandlers } from './ipc.ts';
import {
  APP_ORIGIN,
  APP_SCHEME,
  contentSecurityPolicy,
  isAppUrl,
  isSafeExternalLink,
  PHOTO_SCHEME,
  rendererFile,
  THUMB_SCHEME,
} from './shellPolicy.ts';

const rendererDir = path.join(projectRoot, 'dist', 'renderer');
const CSP = contentSecurityPolicy();
const isMac = process.platform === 'darwin';
/** How long quitting waits for running jobs to stop and the catalog to close, ms; then it quits anyway. */
const QUIT_WAIT_MS = 5000;

/** The window on screen, if any: on macOS the app keeps running with none, and `activate` opens a new one. */
let mainWindow: BrowserWindow | undefined;
/** The open catalog's services, from the moment their loading starts (right after the first window is created). */
let catalogs: CatalogSwitch | undefined;

/** Serves files of the built renderer only; anything resolving outside it is refused. */
function serveRenderer(request: Request): Promise<Response> | Response {
  const file = rendererFile(rendererDir, request.url);
  if (!file || !fs.existsSync(file)) return new Response('not found', { status: 404 });
  return net.fetch(pathToFileURL(file).href).then(
    (res) =>
      new Response(res.body, {
        status: res.status,
        headers: {
          'content-type': res.headers.get('content-type') ?? 'application/octet-stream',
          'content-security-policy': CSP,
        },
      }),
  );
}

/** Serves a catalog file named by content hash only (`resolve` says which file, if any): no path ever comes from the renderer. */
function serveByHash(resolve: (hash: string) => Promise<string | undefined>) {
  return async (request: Request): Promise<Response> => {
    const file = await resolve(new URL(request.url).pathname.slice(1));
    return file ? net.fetch(pathToFileURL(file).href) : new Response('not found', { status: 404 });
  };
}

/** Opens the app's window where it was last (if that is still on a screen) and makes it the current one. */
function openWindow(): BrowserWindow {
  const stateFile = path.join(app.getPath('userData'), 'window-state.json');
  const saved = loadWindowState(
    stateFile,
    screen.getAllDisplays().map((d) => d.workArea),
  );
  const win = new BrowserWindow({
    ...(saved ? { x: saved.x, y: saved.y, width: saved.width, height: saved.height } : DEFAULT_SIZE),
    minWidth: 800,
    minHeight: 560,
    title: 'Fashion Sorter',
    show: false,
    webPreferences: {
      preload: path.join(import.meta.dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  mainWindow = win;
  if (saved?.maximized) win.maximize();
  win.on('close', () => saveWindowState(stateFile, { ...win.getNormalBounds(), maximized: win.isMaximized() }));
  // A closed window is destroyed: menus, dialogs and a second launch must not reach for it any more.
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined;
  });
  win.once('ready-to-show', () => win.show());
  // The window only ever shows the app; links to the web open in the user's browser, and only https ones.
  win.webContents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (isSafeExternalLink(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

/** Brings the current window forward, opening one if there is none (macOS, after it was closed). */
function showWindow(): void {
  const win = mainWindow ?? openWindow();
  if (win.isMinimized()) win.restore();
  win.focus();
}

/** Dialogs belong to the current window, or stand alone when there is none. */
const showOpenDialog = (options: Electron.OpenDialogOptions) =>
  mainWindow ? dialog.showOpenDialog(mainWindow, options) : dialog.showOpenDialog(options);
const showSaveDialog = (options: Electron.SaveDialogOptions) =>
  mainWindow ? dialog.showSaveDialog(mainWindow, options) : dialog.showSaveDialog(options);

const showMessage = (options: Electron.MessageBoxOptions) =>
  mainWindow ? dialog.showMessageBox(mainWindow, options) : dialog.showMessageBox(options);

/** Where the recent catalogs are kept, most recent first. */
const recentFile = () => path.join(app.getPath('userData'), 'recent-catalogs.json');

/**
 * Imports the services (SQLite, sharp, tfjs) and starts them on the most recent catalog (the one in
 * Electron's userData folder at first, or when the last one is gone), with the thumbnails and the fine-tuned
 * model versions in userData, shared by every catalog.
 */
function loadCatalogs(userData: string): CatalogSwitch {
  const loading = import('./app/services.ts');
  loading.catch((err: Error) => console.error(`the services could not be started: ${err.stack}`));
  const last = readRecentCatalogs(recentFile())[0];
  const first = last && fs.existsSync(last) ? last : path.join(userData, 'catalog.sqlite');
  rememberCatalog(recentFile(), first);
  return catalogSwitch(
    async (catalogFile) => (await loading).createServices(serviceOptions(userData, catalogFile)),
    first,
  );
}

/** What one catalog's services get from the shell: where it keeps its files, and the system's dialogs. */
function serviceOptions(userData: string, catalogFile: string): ServiceOptions {
  return {
    catalogFile,
    thumbnailsDir: path.join(userData, 'thumbnails'),
    modelsDir: path.join(userData, 'models'),
    thumbnailBase: `${THUMB_SCHEME}://photo/`,
    photoBase: `${PHOTO_SCHEME}://file/`,
    chooseFolders: async () => {
      const result = await showOpenDialog({ title: 'Add photos', properties: ['openDirectory', 'multiSelections'] });
      return result.canceled ? [] : result.filePaths;
    },
    // Only for a path the services found among the catalog's imports (revealFile checks it first).
    showItemInFolder: (file) => shell.showItemInFolder(file),
    chooseSaveFile: async (suggestedName) => {
      const result = await showSaveDialog({
        title: 'Export CSV',
        defaultPath: path.join(app.getPath('documents'), suggestedName),
        filters: [{ name: 'CSV', extensions: ['csv'] }],
      });
      return result.canceled ? undefined : result.filePath;
    },
    chooseDestination: async () => {
      const result = await showOpenDialog({
        title: 'Sort photos into folders in…',
        buttonLabel: 'Choose',
        properties: ['openDirectory', 'createDirectory'],
      });
      return result.canceled ? undefined : result.filePaths[0];
    },
  };
}

/**
 * Switches the window to another catalog: the current one closes (refused while a job runs), the other opens
 * and goes first in Open Recent, and the window reloads its state. A refusal or failure is said in a message box.
 */
async function switchCatalog(file: string): Promise<void> {
  try {
    await catalogs!.switchTo(file);
  } catch (err) {
    await showMessage({ type: 'warning', message: `${file} was not opened`, detail: (err as Error).message });
    return;
  }
  setMenu(rememberCatalog(recentFile(), file));
  mainWindow?.webContents.reload();
}

/** File > New Catalog…: a new, empty catalog in a file the user names. */
async function newCatalog(): Promise<void> {
  const result = await showSaveDialog({
    title: 'New Catalog',
    defaultPath: path.join(app.getPath('documents'), 'Fashion Sorter catalog.sqlite'),
    filters: [{ name: 'Fashion Sorter catalog', extensions: ['sqlite'] }],
  });
  if (result.canceled || !result.filePath) return;
  // The save dialog may have confirmed replacing a file; a catalog is never overwritten.
  if (fs.existsSync(result.filePath)) {
    await showMessage({
      type: 'warning',
      message: `${result.filePath} already exists`,
      detail: 'A new catalog needs a file of its own. To use that one, choose File > Open Catalog….',
    });
    return;
  }
  await switchCatalog(result.filePath);
}

/** File > Open Catalog…: a catalog file the user chooses. */
async function openCatalog(): Promise<void> {
  const result = await showOpenDialog({
    title: 'Open Catalog',
    properties: ['openFile'],
    filters: [{ name: 'Fashion Sorter catalog', extensions: ['sqlite'] }],
  });
  if (!result.canceled && result.filePaths[0]) await switchCatalog(result.filePaths[0]);
}

/** Sets the application menu, its Open Recent listing `recent`. */
function setMenu(recent: string[]): void {
  Menu.setApplicationMenu(buildMenu((command) => mainWindow?.webContents.send(MENU_CHANNEL, command), recent));
}

/** The application menu: the usual roles plus the app's own commands, which the window carries out. */
function buildMenu(send: (command: MenuCommand) => void, recent: string[]): Menu {
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'New Catalog…', click: () => void newCatalog() },
        { label: 'Open Catalog…', accelerator: 'CmdOrCtrl+Shift+O', click: () => void openCatalog() },
        {
          label: 'Open Recent',
          submenu: recent.map((file) => ({ label: file, click: () => void switchCatalog(file) })),
        },
        { type: 'separator' },
        { label: 'Add Photos…', accelerator: 'CmdOrCtrl+O', click: () => send('add-photos') },
        { label: 'Export…', accelerator: 'CmdOrCtrl+E', click: () => send('export') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: 'View',
      submenu: [
        { label: 'Catalog', accelerator: 'CmdOrCtrl+1', click: () => send('show-catalog') },
        { label: 'Review', accelerator: 'CmdOrCtrl+2', click: () => send('show-review') },
        { label: 'Model', accelerator: 'CmdOrCtrl+3', click: () => send('show-model') },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
      ],
    },
    { role: 'windowMenu' },
  ];
  return Menu.buildFromTemplate(template);
}

/**
 * Quitting first cancels running jobs and closes the catalog (folding SQLite's write-ahead log into it), for
 * at most QUIT_WAIT_MS, and then quits: the first `before-quit` is held back until then.
 */
function closeServicesBeforeQuit(): void {
  let state: 'running' | 'closing' | 'closed' = 'running';
  app.on('before-quit', (event) => {
    if (state === 'closed') return;
    event.preventDefault();
    if (state === 'closing') return;
    state = 'closing';
    Promise.race([catalogs?.close(), delay(QUIT_WAIT_MS, undefined, { ref: false })])
      .catch((err: Error) => console.error(`closing the catalog failed: ${err.message}`))
      .finally(() => {
        state = 'closed';
        app.quit();
      });
  });
}

/** Everything the one running instance sets up: protocols, IPC, menu, window, then the services. */
function start(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
    { scheme: THUMB_SCHEME, privileges: { standard: true, secure: true } },
    { scheme: PHOTO_SCHEME, privileges: { standard: true, secure: true } },
  ]);
  // A second launch brings this instance's window forward instead of opening the catalog twice.
  app.on('second-instance', showWindow);
  app.on('window-all-closed', () => {
    if (!isMac) app.quit();
  });
  closeServicesBeforeQuit();
  app
    .whenReady()
    .then(() => {
      // app:// before the window: it starts loading its page as soon as it is created.
      protocol.handle(APP_SCHEME, serveRenderer);
      session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
      app.on('activate', () => {
        if (BrowserWindow.getAllWindows().length === 0) openWindow();
      });
      // The window first, then the services: it shows while SQLite, sharp and tfjs load. Requests wait for them
      // (none can arrive before this task ends); if they cannot be loaded, every request answers with why.
      openWindow();
      const ready = loadCatalogs(app.getPath('userData'));
      catalogs = ready;
      setMenu(readRecentCatalogs(recentFile()));
      // Job progress goes to whichever window is open (the app's page only: it cannot navigate elsewhere).
      ready.onJobUpdate((update) => mainWindow?.webContents.send(JOB_CHANNEL, update));
      protocol.handle(
        THUMB_SCHEME,
        serveByHash((hash) => ready.thumbnailFile(hash)),
      );
      protocol.handle(
        PHOTO_SCHEME,
        serveByHash((hash) => ready.photoFile(hash)),
      );
      registerIpcHandlers(ipcMain, ready.api, (event) => isAppUrl(event.senderFrame?.url ?? ''));
    })
    .catch((err: Error) => {
      // Without its protocols or window the app can do nothing: say why and end rather than linger unseen.
      console.error(`Fashion Sorter could not start: ${err.stack}`);
      app.exit(1);
    });
}

// One instance: the documented form, so that an instance that is quitting sets nothing up.
if (!app.requestSingleInstanceLock()) app.quit();
else start();
