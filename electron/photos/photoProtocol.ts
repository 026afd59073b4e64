/** Messages between the importer and the photo worker (photoWorker.ts). */
export type PhotoRequest = { type: 'convert'; path: string; thumbnailsDir: string };

export type PhotoReply =
  | { type: 'photo'; hash: string; size: number; mtimeMs: number; format: string; width: number; height: number; pixels: Uint8Array }
  | { type: 'failed'; reason: string };
