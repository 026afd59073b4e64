import type { RendererApi } from '../../electron/api/contract.ts';

/** The preload bridge (Electron) or the test bridge (Chromium) puts the typed API here. */
export const api = (window as unknown as { api: RendererApi }).api;
