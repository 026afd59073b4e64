import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CHANNELS, type FashionSorterApi } from './api/contract.ts';

/**
 * Wires every API method to its channel. A request is answered only when it comes from a frame
 * the app itself loaded (`isTrusted`), never from a page that was navigated elsewhere.
 */
export function registerIpcHandlers(ipcMain: IpcMain, services: FashionSorterApi, isTrusted: (event: IpcMainInvokeEvent) => boolean): void {
  for (const [method, channel] of Object.entries(CHANNELS) as [keyof FashionSorterApi, string][]) {
    ipcMain.handle(channel, (event) => {
      if (!isTrusted(event)) throw new Error(`refused ${channel} from ${event.senderFrame?.url ?? 'an unknown frame'}`);
      return services[method]();
    });
  }
}
