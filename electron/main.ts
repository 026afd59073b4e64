/**
 * The Electron shell: one secure window, the app:// protocol for the renderer, and the IPC wiring.
 * Everything it serves comes from the services in electron/, which never import Electron.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Menu, net, protocol, screen, session, shell, type MenuItemConstructorOptions } from 'electron';
import { MENU_CHANNEL, type MenuCommand } from './api/contract.ts';
import { DEFAULT_SIZE, loadWindowState, saveWindowState } from './windowState.ts';
import { projectRoot } from './appPaths.ts';
import { createServices } from './api/services.ts';
import { registerIpcHandlers } from './ipc.ts';
import { APP_ORIGIN, APP_SCHEME, contentSecurityPolicy, isAppUrl, isSafeExternalLink, PHOTO_SCHEME, rendererFile, THUMB_SCHEME } from './shellPolicy.ts';

const rendererDir = path.join(projectRoot, 'dist', 'renderer');
const CSP = contentSecurityPolicy();

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  { scheme: THUMB_SCHEME, privileges: { standard: true, secure: true } },
  { scheme: PHOTO_SCHEME, privileges: { standard: true, secure: true } },
]);

/** Serves files of the built renderer only; anything resolving outside it is refused. */
function serveRenderer(request: Request): Promise<Response> | Response {
  const file = rendererFile(rendererDir, request.url);
  if (!file || !fs.existsSync(file)) return new Response('not found', { status: 404 });
  return net.fetch(pathToFileURL(file).href).then((res) => new Response(res.body, { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', 'content-security-policy': CSP } }));
}

function createWindow(stateFile: string): BrowserWindow {
  const saved = loadWindowState(stateFile, screen.getAllDisplays().map((d) => d.workArea));
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
  if (saved?.maximized) win.maximize();
  win.on('close', () => saveWindowState(stateFile, { ...win.getNormalBounds(), maximized: win.isMaximized() }));
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

/** The application menu: the usual roles plus the app's own commands, which the window carries out. */
function buildMenu(send: (command: MenuCommand) => void): Menu {
  const isMac = process.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
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

// One instance: a second launch brings the running window forward instead of opening the catalog twice.
if (!app.requestSingleInstanceLock()) app.quit();

app.whenReady().then(() => {
  const userData = app.getPath('userData');
  let mainWindow: BrowserWindow | undefined;
  const services = createServices({
    catalogFile: path.join(userData, 'catalog.sqlite'),
    thumbnailsDir: path.join(userData, 'thumbnails'),
    thumbnailBase: `${THUMB_SCHEME}://photo/`,
    photoBase: `${PHOTO_SCHEME}://file/`,
    chooseFolders: async () => {
      const options = { title: 'Add photos', properties: ['openDirectory', 'multiSelections'] } as Electron.OpenDialogOptions;
      const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return result.canceled ? [] : result.filePaths;
    },
    chooseSaveFile: async (suggestedName) => {
      const options: Electron.SaveDialogOptions = { title: 'Export CSV', defaultPath: path.join(app.getPath('documents'), suggestedName), filters: [{ name: 'CSV', extensions: ['csv'] }] };
      const result = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
      return result.canceled ? undefined : result.filePath;
    },
    chooseDestination: async () => {
      const options = { title: 'Sort photos into folders in…', buttonLabel: 'Choose', properties: ['openDirectory', 'createDirectory'] } as Electron.OpenDialogOptions;
      const result = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return result.canceled ? undefined : result.filePaths[0];
    },
  });
  protocol.handle(APP_SCHEME, serveRenderer);
  // Only thumbnails and photos in the catalog, named by content hash: no path ever comes from the renderer.
  const serveByHash = (resolve: (hash: string) => string | undefined | Promise<string | undefined>) => async (request: Request) => {
    const file = await resolve(new URL(request.url).pathname.slice(1));
    return file ? net.fetch(pathToFileURL(file).href) : new Response('not found', { status: 404 });
  };
  protocol.handle(THUMB_SCHEME, serveByHash((hash) => services.thumbnailFile(hash)));
  protocol.handle(PHOTO_SCHEME, serveByHash((hash) => services.photoFile(hash)));
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  registerIpcHandlers(ipcMain, services.api, (event) => isAppUrl(event.senderFrame?.url ?? ''));
  const stateFile = path.join(userData, 'window-state.json');
  mainWindow = createWindow(stateFile);
  Menu.setApplicationMenu(buildMenu((command) => mainWindow?.webContents.send(MENU_CHANNEL, command)));
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('before-quit', () => void services.close());
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = createWindow(stateFile);
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
