/** Words about the catalog's photos and files that the window and the command line both say. */
import { plural } from './plural.ts';

/**
 * Photos no model has predicted yet (an import still running or stopped midway, or a model that failed), in words for
 * the window and the command line: "2 photos have no category yet (no model has predicted them; an import may still
 * be running, or stopped before it finished: importing its folders again finishes it)".
 */
export const noCategoryYet = (n: number): string =>
  `${plural(n, 'photo')} ${n === 1 ? 'has' : 'have'} no category yet (no model has predicted ${n === 1 ? 'it' : 'them'}; an import may still be running, or stopped before it finished: importing its folders again finishes it)`;

/**
 * Files an import found no longer on disk, in words for the window and the command line: "3 files that are no
 * longer on disk (deleted or renamed) were forgotten; their photos keep their labels".
 */
export const filesGone = (n: number): string =>
  `${plural(n, 'file')} that ${n === 1 ? 'is' : 'are'} no longer on disk (deleted or renamed) ${n === 1 ? 'was' : 'were'} forgotten; ${n === 1 ? 'its photo keeps its' : 'their photos keep their'} labels`;

/**
 * Reviewed files that an import found holding other content, in words for the window and the command line: "2
 * files you reviewed hold other content now (edited or replaced): the model predicted it anew; the earlier images
 * keep their labels".
 */
export const reviewedFilesReplaced = (n: number): string =>
  `${plural(n, 'file')} you reviewed ${n === 1 ? 'holds' : 'hold'} other content now (edited or replaced): the model predicted it anew; the earlier ${n === 1 ? 'image keeps its label' : 'images keep their labels'}`;
