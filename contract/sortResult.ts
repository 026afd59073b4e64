import type { SortResult } from './api.ts';
import { plural } from './plural.ts';

/**
 * A finished sort's counts in words, for the window's sentence and the command line's: `placed`, the files this
 * run put in place ("4 photos", or "4 files" where files share their photos); `distinct`, the distinct photos
 * among them where that differs and nothing was already there (" (3 distinct photos)"); `there`, what follows
 * the number already there: where some were and files share photos, the files and photos in all (a distinct
 * count of this run's files alone would not add up), and the originals a move removed.
 */
export function sortResultParts(
  r: Pick<SortResult, 'sorted' | 'distinctPhotos' | 'alreadyThere' | 'originalsRemoved'>,
): { placed: string; distinct: string; there: string } {
  const same = r.sorted === r.distinctPhotos;
  const notes = [
    ...(same || r.alreadyThere === 0
      ? []
      : [`${r.sorted} files in all, ${plural(r.distinctPhotos, 'distinct photo')}`]),
    ...(r.originalsRemoved > 0 ? [`${plural(r.originalsRemoved, 'original')} elsewhere removed`] : []),
  ];
  return {
    placed: plural(r.sorted - r.alreadyThere, same ? 'photo' : 'file'),
    distinct: same || r.alreadyThere > 0 ? '' : ` (${plural(r.distinctPhotos, 'distinct photo')})`,
    there: notes.length > 0 ? ` (${notes.join('; ')})` : '',
  };
}

/**
 * What a move plan does besides the files it moves, for the headline of the window's preview and the command
 * line's dry run: ", and remove 11 original files whose copies are already there" (an earlier copy sort put
 * them there; files, since two of them may hold one photo), or '' where it removes none.
 */
export const originalsToRemovePhrase = (originalsToRemove: number): string =>
  originalsToRemove === 0
    ? ''
    : `, and remove ${originalsToRemove === 1 ? 'the original file whose copy is' : `${originalsToRemove} original files whose copies are`} already there`;
