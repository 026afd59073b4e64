// The sandboxed preload: exposes the typed API as window.api and nothing else. It is bundled to
// CommonJS (a sandboxed preload can require only 'electron'), so the contract is inlined.
import { contextBridge, ipcRenderer } from 'electron';
import { CHANNELS, type FashionSorterApi } from './api/contract.ts';

const api = Object.fromEntries(
  Object.entries(CHANNELS).map(([method, channel]) => [method, (...args: unknown[]) => ipcRenderer.invoke(channel, ...args)]),
) as unknown as FashionSorterApi;

contextBridge.exposeInMainWorld('api', api);
