/**
 * What the Electron shell allows, as plain functions so that tests can check them without Electron:
 * the renderer's origin and content security policy, which URLs a window may show or hand to the
 * system browser, and which file an app:// request may read.
 */
import path from 'node:path';

export const APP_SCHEME = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://renderer`;
/** Thumbnails and photos of the catalog, by content hash: thumb://photo/<sha256>, photo://file/<sha256>. */
export const THUMB_SCHEME = 'thumb';
export const PHOTO_SCHEME = 'photo';

/**
 * The renderer's content security policy: its own scripts and styles only (no inline script, no eval),
 * images from itself and the catalog's protocols, no network, no plugins, no framing, no forms.
 * `imageSources` replaces the catalog's protocols where a test serves them over http.
 */
export function contentSecurityPolicy(imageSources: string[] = [`${THUMB_SCHEME}:`, `${PHOTO_SCHEME}:`]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: ${imageSources.join(' ')}`.trimEnd(),
    "font-src 'self'",
    "connect-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** True for a page of the app itself (app://renderer/…), the only thing a window may show. */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === 'renderer';
  } catch {
    return false;
  }
}

/** Links the app hands to the system browser: plain https URLs, nothing that runs or opens a local file. */
export function isSafeExternalLink(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

/** The file of the built renderer an app:// request names, or undefined when it would leave that folder. */
export function rendererFile(rendererDir: string, url: string): string | undefined {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  const file = path.resolve(rendererDir, `.${pathname === '/' ? '/index.html' : pathname}`);
  return file.startsWith(rendererDir + path.sep) && !pathname.includes('\0') ? file : undefined;
}
