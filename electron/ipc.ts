import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { ARGUMENTS, CHANNELS, type FashionSorterApi } from '../contract/api.ts';

/**
 * Wires every API method to its channel. A request is answered only when it comes from a frame the app
 * itself loaded (`isTrusted`), never from a page that was navigated elsewhere, and only when its
 * arguments match the contract's schema. `api` may be a promise of the services (the shell loads them after
 * its window): a valid request waits for them, an invalid one is refused at once.
 */
export function registerIpcHandlers(
  ipcMain: IpcMain,
  api: FashionSorterApi | Promise<FashionSorterApi>,
  isTrusted: (event: IpcMainInvokeEvent) => boolean,
): void {
  for (const [method, channel] of Object.entries(CHANNELS) as [keyof FashionSorterApi, string][]) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => {
      if (!isTrusted(event)) throw new Error(`refused ${channel} from ${event.senderFrame?.url ?? 'an unknown frame'}`);
      return callValidated(api, method, args);
    });
  }
}

/**
 * Calls an API method after checking its arguments against the contract; a mismatch never reaches a service
 * and rejects with `invalid arguments for <method>: <path>: <problem>`.
 */
export async function callValidated(
  api: FashionSorterApi | Promise<FashionSorterApi>,
  method: keyof FashionSorterApi,
  args: unknown[],
): Promise<unknown> {
  const parsed = ARGUMENTS[method].safeParse(args);
  if (!parsed.success)
    throw new Error(
      `invalid arguments for ${method}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ')}`,
    );
  // Only a real promise is awaited: `await` on the API object itself would call its `then`, if it had one.
  const target = api instanceof Promise ? await api : api;
  return (target[method] as (...a: unknown[]) => Promise<unknown>)(...(parsed.data as unknown[]));
}
