/** What a sort's folder names must be, checked in the window (beside each field) and in the main process alike. */
import { CLASS_NAMES } from './categories.ts';

/** Names Windows reserves for devices, with or without an extension. */
export const RESERVED_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$/i;
// Characters Windows forbids in names (and / everywhere), plus control characters.
// eslint-disable-next-line no-control-regex -- control characters are among what it finds
export const FORBIDDEN_CHARACTERS = /[<>:"/\\|?*\u0000-\u001f]/g;
/** Room under the usual 255-byte limit for " (12345)" and a partial-copy prefix. */
export const MAX_NAME_BYTES = 200;

/**
 * For each of the ten categories' folder names, what is wrong with it in plain words (null: nothing): empty,
 * a character or ending some system refuses, a device name, too long, or the same as another category's
 * (case does not count on Windows and macOS).
 */
export function folderNameProblems(names: readonly string[]): (string | null)[] {
  const first = new Map<string, number>();
  names.forEach((name, k) => {
    if (!first.has(name.toLowerCase())) first.set(name.toLowerCase(), k);
  });
  return names.map((name, k) => {
    if (name.trim() === '') return 'Give this folder a name.';
    const forbidden = [...new Set(name.match(FORBIDDEN_CHARACTERS) ?? [])].filter((c) => c >= ' ');
    if (forbidden.length) return `Some systems refuse ${forbidden.join(' ')} in a folder name.`;
    // eslint-disable-next-line no-control-regex -- a control character is what it looks for
    if (/[\u0000-\u001f]/.test(name)) return 'Remove the control character from this name.';
    if (/[. ]$/.test(name)) return 'A folder name cannot end with a dot or a space on Windows.';
    if (RESERVED_NAME.test(name.split('.')[0]!)) return `Windows keeps "${name.split('.')[0]}" for a device.`;
    if (new TextEncoder().encode(name).length > MAX_NAME_BYTES) return 'This name is too long.';
    const other = first.get(name.toLowerCase())!;
    return other === k ? null : `${CLASS_NAMES[other]} already has this folder; give each category its own.`;
  });
}
