import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { ARGUMENTS, CHANNELS, type FashionSorterApi } from './api/contract.ts';

/**
 * Wires every API method to its channel. A request is answered only when it comes from a frame the app
 * itself loaded (`isTrusted`), never from a page that was navigated elsewhere, and only when its
 * arguments match the contract's schema.
 */
export function registerIpcHandlers(ipcMain: IpcMain, api: FashionSorterApi, isTrusted: (event: IpcMainInvokeEvent) => boolean): void {
  for (const [method, channel] of Object.entries(CHANNELS) as [keyof FashionSorterApi, string][]) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => {
      if (!isTrusted(event)) throw new Error(`refused ${channel} from ${event.senderFrame?.url ?? 'an unknown frame'}`);
      return callValidated(api, method, args);
    });
  }
}

/** Calls an API method after checking its arguments against the contract; a mismatch never reaches a service. */
export function callValidated(api: FashionSorterApi, method: keyof FashionSorterApi, args: unknown[]): Promise<unknown> {
  const parsed = ARGUMENTS[method].safeParse(args);
  if (!parsed.success) return Promise.reject(new Error(`invalid arguments for ${method}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`));
  return (api[method] as (...a: unknown[]) => Promise<unknown>)(...(parsed.data as unknown[]));
}
