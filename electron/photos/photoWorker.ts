/**
 * Reads, hashes and converts photos off the main thread, and writes their thumbnails into the
 * content-addressed cache. Requests overlap: sharp does the pixel work on libuv's thread pool.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { serveRequests } from '../workerThreads.ts';
import { ByteBudget } from './byteBudget.ts';
import { convertPhotoFile } from './bmp.ts';
import { contentKind, SNIFF_BYTES } from './fileKinds.ts';
import { explainReadError, MAX_PHOTO_BYTES, PhotoError, thumbnailPath, writeThumbnail } from './photoPipeline.ts';
import type { PhotoReply, PhotoRequest } from './photoProtocol.ts';

// Many photos in flight share the cores; libvips' own per-image threads would only contend.
sharp.concurrency(1);

/**
 * The file bytes the worker holds at once: the importer keeps 16 photos in flight (importJob.ts), which a folder of
 * large TIFF scans would otherwise turn into gigabytes (MAX_PHOTO_BYTES each).
 */
const filesInFlight = new ByteBudget(256 * 2 ** 20);

/**
 * A photo file's bytes and modification time. Only a regular file of a photo's size is read: a named pipe
 * would block the import until something writes to it, and a link to a device such as /dev/zero would never
 * end. Opening without blocking and checking what was opened (not the path, which could change in between)
 * refuses both. Its first bytes decide whether it is an image at all, whatever its name; the rest of one that
 * is not (a video, a PDF, text) is never read. The rest goes into the same buffer with one more read (a
 * file that shrank meanwhile gives what it has), not readFile's stat and reads again.
 */
async function readPhotoFile(file: string): Promise<{ bytes: Buffer; mtimeMs: number; reserved: number }> {
  const handle = await fs.open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stat = await handle.stat();
    if (!stat.isFile())
      throw new PhotoError(
        `not a photo file but ${stat.isFIFO() ? 'a named pipe' : stat.isSocket() ? 'a socket' : 'a device'}; it was not read`,
      );
    if (stat.size > MAX_PHOTO_BYTES) {
      throw new PhotoError(
        `the file is ${(stat.size / 2 ** 20).toFixed(0)} MB, more than any photo (the limit is ${MAX_PHOTO_BYTES / 2 ** 20} MB); it was not read. If it is a photo, save it smaller or as JPEG`,
      );
    }
    // Held until the photo is converted (convert releases it), or given back here if reading fails.
    await filesInFlight.reserve(stat.size);
    try {
      const bytes = Buffer.allocUnsafe(stat.size);
      let read = (await handle.read(bytes, 0, Math.min(SNIFF_BYTES, stat.size), 0)).bytesRead;
      const kind = contentKind(bytes.subarray(0, read), path.basename(file));
      if (read > 0 && kind.type === 'other') throw new PhotoError(kind.what);
      while (read < stat.size) {
        const { bytesRead } = await handle.read(bytes, read, stat.size - read, read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return { bytes: bytes.subarray(0, read), mtimeMs: stat.mtimeMs, reserved: stat.size };
    } catch (err) {
      filesInFlight.release(stat.size);
      throw err;
    }
  } finally {
    await handle.close();
  }
}

async function convert(request: PhotoRequest): Promise<PhotoReply> {
  let file: { bytes: Buffer; mtimeMs: number; reserved: number };
  try {
    file = await readPhotoFile(request.path);
  } catch (err) {
    return {
      type: 'failed',
      reason: err instanceof PhotoError ? err.message : explainReadError(err as NodeJS.ErrnoException),
    };
  }
  try {
    const { bytes, mtimeMs } = file;
    const photo = await convertPhotoFile(bytes);
    // Written even when a photo seen before has one: checking it first costs more file operations than
    // writing the 10 kB again, and a damaged one is replaced on the way.
    writeThumbnail(thumbnailPath(request.thumbnailsDir, photo.hash), photo.thumbnail);
    return {
      type: 'photo',
      hash: photo.hash,
      size: bytes.length,
      mtimeMs,
      format: photo.format,
      width: photo.width,
      height: photo.height,
      pixels: photo.pixels,
      outline: photo.outline,
    };
  } catch (err) {
    if (err instanceof PhotoError) return { type: 'failed', reason: err.message };
    return {
      type: 'failed',
      reason: `its thumbnail could not be saved in ${request.thumbnailsDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that the disk has space`,
    };
  } finally {
    filesInFlight.release(file.reserved);
  }
}

serveRequests<PhotoRequest, PhotoReply>((request) => convert(request), { serial: false });
