import path from 'node:path';
import { CLASS_NAMES, NUM_CLASSES } from '../../contract/categories.ts';
import { FORBIDDEN_CHARACTERS, MAX_NAME_BYTES, RESERVED_NAME } from '../../contract/folderNames.ts';

/**
 * A file or folder name that is valid on Windows, macOS and Linux alike, so sorted photos can be copied to
 * any drive or share: forbidden characters become "_", trailing dots and spaces go, device names get a
 * "_" in front, and long names are shortened (keeping the extension).
 */
export function portableName(name: string): string {
  let safe = name
    .normalize('NFC')
    .replace(FORBIDDEN_CHARACTERS, '_')
    .replace(/[. ]+$/, '');
  const { name: stem, ext } = path.parse(safe);
  if (RESERVED_NAME.test(stem.split('.')[0]!)) safe = `_${safe}`;
  if (Buffer.byteLength(safe) > MAX_NAME_BYTES) {
    let shortened = path.parse(safe).name;
    while (Buffer.byteLength(shortened + ext) > MAX_NAME_BYTES) shortened = [...shortened].slice(0, -1).join('');
    safe = shortened + ext;
  }
  return safe === '' ? 'photo' : safe;
}

/** One folder per category: Fashion-MNIST's names made portable ("T-shirt/top" → "T-shirt_top"). */
export const DEFAULT_FOLDER_NAMES: readonly string[] = CLASS_NAMES.map(portableName);

/** Checks the user's folder names: ten, portable, distinct even where case does not count. */
export function checkFolderNames(names: readonly string[]): void {
  if (names.length !== NUM_CLASSES)
    throw new Error(`there must be ${NUM_CLASSES} folder names, one per category; got ${names.length}`);
  const seen = new Map<string, number>();
  names.forEach((name, k) => {
    if (name.trim() === '') throw new Error(`the folder name for ${CLASS_NAMES[k]} is empty; give it a name`);
    if (portableName(name) !== name) {
      throw new Error(
        `the folder name "${name}" for ${CLASS_NAMES[k]} cannot be used on every system (no < > : " / \\ | ? *, no trailing dot or space, not a device name like CON); try "${portableName(name.trim())}"`,
      );
    }
    const other = seen.get(name.toLowerCase());
    if (other !== undefined)
      throw new Error(
        `${CLASS_NAMES[other]} and ${CLASS_NAMES[k]} would share the folder "${name}"; give them different names`,
      );
    seen.set(name.toLowerCase(), k);
  });
}

/** "name (2).jpg", "name (3).jpg", …: the n-th alternative to a name that is taken. */
export function numberedName(name: string, n: number): string {
  const { name: stem, ext } = path.parse(name);
  return `${stem} (${n})${ext}`;
}
