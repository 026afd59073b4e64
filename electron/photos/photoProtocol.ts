/** Messages between the importer and the photo worker (photoWorker.ts). */
/** `mtimeMs` is the importer's own look at the file: a file changed after it is imported again next time. */
export type PhotoRequest = { type: 'convert'; path: string; mtimeMs: number; thumbnailsDir: string };

export type PhotoReply =
  | { type: 'photo'; hash: string; size: number; mtimeMs: number; format: string; width: number; height: number; pixels: Uint8Array; outline?: number[][] }
  | { type: 'failed'; reason: string };
