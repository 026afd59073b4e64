import { plural } from './plural.ts';

/**
 * Photos no model has predicted yet (an import still running, or a model that failed), in words for the window and
 * the command line: "2 photos have no category yet (no model has predicted them; an import may still be running)".
 */
export const noCategoryYet = (n: number): string =>
  `${plural(n, 'photo')} ${n === 1 ? 'has' : 'have'} no category yet (no model has predicted ${n === 1 ? 'it' : 'them'}; an import may still be running)`;
