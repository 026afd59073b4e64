// The sandboxed preload: exposes the typed API as window.api and nothing else. It is bundled to
// CommonJS (a sandboxed preload can require only 'electron'), so the contract is inlined.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import {
  CHANNELS,
  JOB_CHANNEL,
  jobUpdateSchema,
  MENU_CHANNEL,
  type FashionSorterApi,
  type JobUpdate,
  type MenuCommand,
  type RendererApi,
} from '../contract/api.ts';

const invoke =
  (channel: string) =>
  (...args: unknown[]) =>
    ipcRenderer.invoke(channel, ...args);
const methods = Object.fromEntries(
  (Object.entries(CHANNELS) as [keyof FashionSorterApi, string][])
    .filter(([method]) => method !== 'importPaths')
    .map(([method, channel]) => [method, invoke(channel)]),
);

const api = {
  ...methods,
  // Only files the user really dropped have a path; a File made up by page script has none.
  importDropped(files: File[]) {
    const paths = files.map((file) => webUtils.getPathForFile(file)).filter((p) => p !== '');
    return paths.length > 0 ? ipcRenderer.invoke(CHANNELS.importPaths, paths) : Promise.resolve(null);
  },
  onMenuCommand(listener: (command: MenuCommand) => void) {
    ipcRenderer.on(MENU_CHANNEL, (_event, command: MenuCommand) => listener(command));
  },
  // Only the update crosses to the page, never Electron's event; one whose envelope does not match the contract is dropped.
  onJobUpdate(listener: (update: JobUpdate) => void) {
    const forward = (_event: IpcRendererEvent, update: unknown) => {
      if (jobUpdateSchema.safeParse(update).success) listener(update as JobUpdate);
    };
    ipcRenderer.on(JOB_CHANNEL, forward);
    return () => void ipcRenderer.removeListener(JOB_CHANNEL, forward);
  },
} as RendererApi;

contextBridge.exposeInMainWorld('api', api);
