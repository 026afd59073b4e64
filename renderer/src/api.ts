import type { RendererApi } from '../../contract/api.ts';

/** The preload bridge (Electron) or the test bridge (Chromium) puts the typed API here. */
export const api = (window as unknown as { api: RendererApi }).api;
