/** `n` and the word, plural unless n is 1: plural(1, 'photo') is '1 photo', plural(0, 'photo') '0 photos'. */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
