/**
 * A stand-in for the `electron` module, so that the built main process (dist/electron/main.js) runs in
 * plain Node where Electron's binary cannot be had. It records what the shell sets up (windows, protocol
 * and IPC handlers, menus, dialogs, app events, the permission handler) and behaves like Electron where the
 * shell depends on it: privileged schemes only before `ready` and protocol handlers only after, one IPC
 * handler per channel, a closed window throwing "Object has been destroyed", quitting through
 * before-quit → windows closed → will-quit → quit (each of the first two preventable), and quitting by
 * default when the last window closes and nobody listens for `window-all-closed`.
 *
 * The test drives it over the child-process channel (spawned with an 'ipc' stdio and 'advanced'
 * serialization): it sends `{ id, op, ...arguments }` and gets `{ id, value }` or `{ id, error }` (a
 * message). Ops: record, fetch {url}, invoke {channel, args, senderUrl}, menu {labels}, closeWindow {window},
 * minimize {window}, emit {event, args}, quit, answerDialog {kind: 'open'|'save', answer}, permission
 * {permission}. It sends `{ hello: true }` once it listens, and `{ exit: code, record }` just before the
 * process exits.
 *
 * Settings, from the environment: STANDIN_USER_DATA and STANDIN_DOCUMENTS (app.getPath), STANDIN_SINGLE_INSTANCE
 * = 'denied' (another instance holds the lock), STANDIN_PLATFORM (what process.platform says until the app is
 * ready, while the shell's modules load and read it; native modules loaded later need the real one to find
 * their binaries), STANDIN_EARLY_CALL = a channel to call from the app's page right after its handler is
 * registered (in the next microtask: sooner than any page could, so before the services are loaded); the
 * call and its answer land in the record's `earlyCall`.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { entryResolvedAt, firstResolved } from './register.mjs';

const realPlatform = process.platform;
if (process.env.STANDIN_PLATFORM)
  Object.defineProperty(process, 'platform', { value: process.env.STANDIN_PLATFORM, configurable: true });

const record = {
  singleInstanceLockRequested: false,
  privilegedSchemes: [],
  /** The first window's construction: ms since process start and since main.js was resolved, and the packages resolved by then. */
  firstWindow: null,
  dialogs: [],
  externalLinks: [],
  /** The files shell.showItemInFolder was asked to show. */
  revealed: [],
  /** STANDIN_EARLY_CALL's call: the packages resolved when it was made, and its answer or error. */
  earlyCall: null,
  /** The quit sequence as it happened, e.g. ['before-quit prevented', 'before-quit', 'will-quit', 'quit']. */
  quitEvents: [],
};

/** An event object whose default action a listener may prevent, as Electron passes to before-quit, close… */
function emitPreventable(emitter, name, ...args) {
  const event = {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
  emitter.emit(name, event, ...args);
  return event.defaultPrevented;
}

// ---- windows ----

const windows = [];

class WebContents extends EventEmitter {
  constructor(win) {
    super();
    this.win = win;
    this.url = '';
    this.sent = [];
    this.reloads = 0;
    this.windowOpenHandler = undefined;
  }
  reload() {
    this.win.assertAlive();
    this.reloads++;
  }
  send(channel, ...args) {
    this.win.assertAlive();
    this.sent.push({ channel, args });
  }
  setWindowOpenHandler(handler) {
    this.windowOpenHandler = handler;
  }
  getURL() {
    return this.url;
  }
}

export class BrowserWindow extends EventEmitter {
  static getAllWindows() {
    return windows.filter((w) => !w.destroyed);
  }

  constructor(options = {}) {
    super();
    record.firstWindow ??= {
      at: performance.now(),
      sinceEntry: performance.now() - entryResolvedAt,
      resolved: [...firstResolved.keys()],
    };
    this.id = windows.length + 1;
    this.options = options;
    this.destroyed = false;
    this.shown = false;
    this.minimized = false;
    this.maximized = false;
    this.focusCount = 0;
    this.webContents = new WebContents(this);
    windows.push(this);
  }
  assertAlive() {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }
  loadURL(url) {
    this.assertAlive();
    this.webContents.url = url;
    setImmediate(() => this.destroyed || this.emit('ready-to-show'));
    return Promise.resolve();
  }
  isDestroyed() {
    return this.destroyed;
  }
  show() {
    this.assertAlive();
    this.shown = true;
  }
  focus() {
    this.assertAlive();
    this.focusCount++;
  }
  minimize() {
    this.assertAlive();
    this.minimized = true;
  }
  isMinimized() {
    this.assertAlive();
    return this.minimized;
  }
  restore() {
    this.assertAlive();
    this.minimized = false;
  }
  maximize() {
    this.assertAlive();
    this.maximized = true;
  }
  isMaximized() {
    this.assertAlive();
    return this.maximized;
  }
  getNormalBounds() {
    this.assertAlive();
    return {
      x: this.options.x ?? 0,
      y: this.options.y ?? 0,
      width: this.options.width ?? 800,
      height: this.options.height ?? 600,
    };
  }
  close() {
    if (this.destroyed || emitPreventable(this, 'close')) return;
    this.destroyed = true;
    this.emit('closed');
    if (BrowserWindow.getAllWindows().length > 0 || app.quitting) return;
    if (app.listenerCount('window-all-closed') > 0) app.emit('window-all-closed');
    else app.quit();
  }
}

const describeWindow = (w) => ({
  id: w.id,
  options: w.options,
  url: w.webContents.url,
  destroyed: w.destroyed,
  shown: w.shown,
  minimized: w.minimized,
  focusCount: w.focusCount,
  sent: w.webContents.sent,
  reloads: w.webContents.reloads,
  events: w.eventNames(),
  webContentsEvents: w.webContents.eventNames(),
  hasWindowOpenHandler: Boolean(w.webContents.windowOpenHandler),
});

// ---- the app ----

class App extends EventEmitter {
  ready = false;
  quitting = false;
  #ready = new Promise((resolve) =>
    setImmediate(() => {
      Object.defineProperty(process, 'platform', { value: realPlatform, configurable: true });
      this.ready = true;
      this.emit('ready');
      resolve();
    }),
  );

  whenReady() {
    return this.#ready;
  }
  isReady() {
    return this.ready;
  }
  getPath(name) {
    const paths = { userData: process.env.STANDIN_USER_DATA, documents: process.env.STANDIN_DOCUMENTS };
    if (!paths[name]) throw new Error(`the stand-in has no path for '${name}'`);
    return paths[name];
  }
  requestSingleInstanceLock() {
    record.singleInstanceLockRequested = true;
    return process.env.STANDIN_SINGLE_INSTANCE !== 'denied';
  }
  quit() {
    const prevented = emitPreventable(this, 'before-quit');
    record.quitEvents.push(prevented ? 'before-quit prevented' : 'before-quit');
    if (prevented) return;
    this.quitting = true;
    setImmediate(() => {
      for (const win of BrowserWindow.getAllWindows()) win.close();
      if (BrowserWindow.getAllWindows().length > 0) return void (this.quitting = false);
      const willQuitPrevented = emitPreventable(this, 'will-quit');
      record.quitEvents.push(willQuitPrevented ? 'will-quit prevented' : 'will-quit');
      if (willQuitPrevented) return void (this.quitting = false);
      record.quitEvents.push('quit');
      this.emit('quit', {}, 0);
      exit(0);
    });
  }
  exit(code = 0) {
    record.quitEvents.push(`exit(${code})`);
    exit(code);
  }
}

export const app = new App();

let exiting = false;
/** Sends the final record to the test, then ends the process (as Electron's exit would). */
function exit(code) {
  if (exiting) return;
  exiting = true;
  if (process.send && process.connected) process.send({ exit: code, record: snapshot() }, () => process.exit(code));
  else process.exit(code);
}

// ---- protocols, IPC, session, menus, dialogs, shell, screen, net ----

const protocolHandlers = new Map();
export const protocol = {
  registerSchemesAsPrivileged(schemes) {
    if (app.ready) throw new Error('protocol.registerSchemesAsPrivileged must be called before the app is ready');
    record.privilegedSchemes.push(...schemes);
  },
  handle(scheme, handler) {
    if (!app.ready) throw new Error('protocol.handle must be called after the app is ready');
    if (protocolHandlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
    protocolHandlers.set(scheme, handler);
  },
};

const ipcHandlers = new Map();
export const ipcMain = {
  handle(channel, handler) {
    if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    ipcHandlers.set(channel, handler);
    if (channel === process.env.STANDIN_EARLY_CALL) {
      queueMicrotask(async () => {
        record.earlyCall = { channel, resolvedAtCall: [...firstResolved.keys()] };
        try {
          record.earlyCall.value = await handler({ senderFrame: { url: 'app://renderer/index.html' } });
        } catch (err) {
          record.earlyCall.error = err.message;
        }
      });
    }
  },
};

let permissionHandler;
export const session = {
  defaultSession: {
    setPermissionRequestHandler(handler) {
      permissionHandler = handler;
    },
  },
};

let applicationMenu = null;
export const Menu = {
  buildFromTemplate: (template) => ({ template }),
  setApplicationMenu(menu) {
    applicationMenu = menu;
  },
};
const describeMenu = (items) =>
  items.map((item) => ({
    label: item.label,
    role: item.role,
    accelerator: item.accelerator,
    submenu: Array.isArray(item.submenu) ? describeMenu(item.submenu) : undefined,
  }));

/** Answers the test queued for each kind of dialog; a dialog without one is cancelled. */
const dialogAnswers = { open: [], save: [] };
function showDialog(kind, args) {
  const [win, options] = args[0] instanceof BrowserWindow ? args : [undefined, args[0]];
  win?.assertAlive();
  const said = kind === 'message' ? { message: options.message, detail: options.detail } : {};
  record.dialogs.push({ kind, window: win?.id ?? null, title: options.title, ...said });
  if (kind === 'message') return Promise.resolve({ response: 0, checkboxChecked: false });
  return Promise.resolve(
    dialogAnswers[kind].shift() ?? (kind === 'open' ? { canceled: true, filePaths: [] } : { canceled: true }),
  );
}
export const dialog = {
  showOpenDialog: (...args) => showDialog('open', args),
  showSaveDialog: (...args) => showDialog('save', args),
  /** Recorded with its message and detail, and answered with its first button. */
  showMessageBox: (...args) => showDialog('message', args),
};

export const shell = {
  openExternal: async (url) => void record.externalLinks.push(url),
  showItemInFolder: (file) => void record.revealed.push(file),
};

export const screen = {
  getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }],
};

const CONTENT_TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.json': 'application/json',
};
/** Electron's net.fetch, for file: URLs only (what the shell fetches); a missing file fails as Chromium's loader does. */
export const net = {
  async fetch(input) {
    const url = new URL(typeof input === 'string' ? input : input.url);
    if (url.protocol !== 'file:') throw new Error(`the stand-in's net.fetch reads file: URLs only, not ${url.href}`);
    const file = fileURLToPath(url);
    const bytes = await fs.promises.readFile(file).catch(() => {
      throw new Error('net::ERR_FILE_NOT_FOUND');
    });
    return new Response(bytes, {
      status: 200,
      headers: { 'content-type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream' },
    });
  },
};

// ---- the control channel ----

function snapshot() {
  return {
    ...record,
    ready: app.ready,
    appEvents: app.eventNames(),
    protocols: [...protocolHandlers.keys()],
    ipcChannels: [...ipcHandlers.keys()],
    permissionHandler: Boolean(permissionHandler),
    menu: applicationMenu && describeMenu(applicationMenu.template),
    windows: windows.map(describeWindow),
    resolved: Object.fromEntries(firstResolved),
  };
}

/** The menu item at a path of labels, e.g. ['File', 'Export…']. */
function menuItem(labels) {
  let items = applicationMenu?.template ?? [];
  let item;
  for (const label of labels) {
    item = items.find((i) => i.label === label);
    if (!item) throw new Error(`no menu item ${labels.join(' › ')}`);
    items = Array.isArray(item.submenu) ? item.submenu : [];
  }
  return item;
}

const windowById = (id) =>
  windows.find((w) => w.id === id) ??
  (() => {
    throw new Error(`no window ${id}`);
  })();

const ops = {
  record: () => snapshot(),
  async fetch({ url }) {
    const handler = protocolHandlers.get(new URL(url).protocol.slice(0, -1));
    if (!handler) throw new Error(`no protocol handler for ${url}`);
    const response = await handler(new Request(url));
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: new Uint8Array(await response.arrayBuffer()),
    };
  },
  invoke({ channel, args, senderUrl }) {
    const handler = ipcHandlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    return handler({ sender: BrowserWindow.getAllWindows()[0]?.webContents, senderFrame: { url: senderUrl } }, ...args);
  },
  menu({ labels }) {
    const item = menuItem(labels);
    item.click(item, BrowserWindow.getAllWindows()[0], {});
  },
  closeWindow: ({ window }) => windowById(window).close(),
  minimize: ({ window }) => windowById(window).minimize(),
  emit: ({ event, args = [] }) => void app.emit(event, { preventDefault() {} }, ...args),
  quit: () => app.quit(),
  answerDialog: ({ kind, answer }) => void dialogAnswers[kind].push(answer),
  permission: ({ permission }) =>
    new Promise((resolve) => permissionHandler(BrowserWindow.getAllWindows()[0]?.webContents, permission, resolve, {})),
};

process.on('message', async (message) => {
  if (typeof message?.op !== 'string' || !process.connected) return;
  let reply;
  try {
    if (!ops[message.op]) throw new Error(`unknown op ${message.op}`);
    reply = { id: message.id, value: await ops[message.op](message) };
  } catch (err) {
    reply = { id: message.id, error: err instanceof Error ? err.message : String(err) };
  }
  if (process.connected && !exiting) process.send(reply);
});
process.send?.({ hello: true });
