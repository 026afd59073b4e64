import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../electron/appPaths.ts';

const standIn = path.join(import.meta.dirname, 'electronStandIn', 'register.mjs');

/** What the Electron stand-in recorded (test/helpers/electronStandIn/electron.mjs). */
export interface StandInRecord {
  singleInstanceLockRequested: boolean;
  privilegedSchemes: { scheme: string; privileges: Record<string, boolean> }[];
  firstWindow: { at: number; sinceEntry: number; resolved: string[] } | null;
  dialogs: {
    kind: 'open' | 'save' | 'message';
    window: number | null;
    title?: string;
    message?: string;
    detail?: string;
  }[];
  externalLinks: string[];
  revealed: string[];
  quitEvents: string[];
  earlyCall: { channel: string; resolvedAtCall: string[]; value?: unknown; error?: string } | null;
  ready: boolean;
  appEvents: string[];
  protocols: string[];
  ipcChannels: string[];
  permissionHandler: boolean;
  menu: MenuEntry[] | null;
  windows: {
    id: number;
    options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>;
    url: string;
    destroyed: boolean;
    shown: boolean;
    minimized: boolean;
    focusCount: number;
    sent: { channel: string; args: unknown[] }[];
    /** How many times the window's page was reloaded. */
    reloads: number;
    events: string[];
    webContentsEvents: string[];
    hasWindowOpenHandler: boolean;
  }[];
  /** Package → ms since process start when the main thread first resolved it. */
  resolved: Record<string, number>;
}
export interface MenuEntry {
  label?: string;
  role?: string;
  accelerator?: string;
  submenu?: MenuEntry[];
}

export interface BuiltApp {
  child: ChildProcess;
  /** Sends an op to the stand-in; rejects with the stand-in's (or the shell's) error message. */
  request<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  record(): Promise<StandInRecord>;
  /** An IPC call as the renderer makes it, from a frame at `senderUrl` (the app's own page by default). */
  invoke<T = unknown>(channel: string, args: unknown[], senderUrl?: string): Promise<T>;
  /** A request to one of the shell's protocol handlers. */
  fetch(url: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer }>;
  /** Settles when the process ends, with the stand-in's last record when it exited through Electron's API. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; record: StandInRecord | undefined }>;
  /** The child's stderr so far. */
  stderr(): string;
  kill(): Promise<void>;
}

export interface LaunchOptions {
  userData: string;
  documents: string;
  platform?: NodeJS.Platform;
  singleInstance?: 'denied';
  /** A channel called from the app's page the moment its handler can first be reached (see the stand-in). */
  earlyCall?: string;
  env?: Record<string, string>;
}

/**
 * Runs dist/electron/main.js in plain Node with the Electron stand-in and no tsx: only the stand-in's
 * `--import` (which also refuses tsx and .ts files), type stripping off (so neither the main thread nor a
 * worker could run a .ts file), NODE_OPTIONS cleared, and a working folder outside the project.
 */
export function launchBuiltApp(options: LaunchOptions): BuiltApp {
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_OPTIONS: undefined,
    STANDIN_USER_DATA: options.userData,
    STANDIN_DOCUMENTS: options.documents,
    STANDIN_PLATFORM: options.platform,
    STANDIN_SINGLE_INSTANCE: options.singleInstance,
    STANDIN_EARLY_CALL: options.earlyCall,
    ...options.env,
  };
  const child = spawn(
    process.execPath,
    [
      '--no-experimental-strip-types',
      '--no-warnings=ExperimentalWarning',
      '--import',
      standIn,
      path.join(projectRoot, 'dist', 'electron', 'main.js'),
    ],
    {
      cwd: options.userData,
      env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let finalRecord: StandInRecord | undefined;
  let listening: () => void;
  const hello = new Promise<void>((resolve) => (listening = resolve));
  child.on(
    'message',
    (message: {
      id?: number;
      value?: unknown;
      error?: string;
      hello?: true;
      exit?: number;
      record?: StandInRecord;
    }) => {
      if (message.hello) listening();
      if (message.exit !== undefined) finalRecord = message.record;
      const waiter = message.id === undefined ? undefined : pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id!);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.value);
    },
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; record: StandInRecord | undefined }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        for (const waiter of pending.values())
          waiter.reject(
            new Error(`the app exited (code ${code}, signal ${signal}) before answering; stderr:\n${stderr}`),
          );
        pending.clear();
        resolve({ code, signal, record: finalRecord });
      });
    },
  );
  // Messages sent before the stand-in listens would be lost: each request waits for its hello (or the exit).
  const request = async <T>(op: string, args: Record<string, unknown> = {}) => {
    await Promise.race([hello, exited]);
    return new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`the app is not running; stderr:\n${stderr}`));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...args, id, op });
    });
  };
  return {
    child,
    request,
    record: () => request<StandInRecord>('record'),
    invoke: <T>(channel: string, args: unknown[], senderUrl = 'app://renderer/index.html') =>
      request<T>('invoke', { channel, args, senderUrl }),
    fetch: async (url) => {
      const response = await request<{ status: number; headers: Record<string, string>; body: Uint8Array }>('fetch', {
        url,
      });
      return { ...response, body: Buffer.from(response.body) };
    },
    exited,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Asks `probe` every 50 ms until it returns a value other than undefined, for at most `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
