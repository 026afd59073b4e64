/** Messages between the importer and the photo worker (photoWorker.ts). */
export type PhotoRequest = { type: 'convert'; path: string; thumbnailsDir: string };

/** `size` and `mtimeMs` are those of the file as it was read: a file changed after that is imported again next time. */

export type PhotoReply =
  | {
      type: 'photo';
      hash: string;
      size: number;
      mtimeMs: number;
      format: string;
      width: number;
      height: number;
      pixels: Uint8Array;
      outline?: number[][];
    }
  | { type: 'failed'; reason: string };
