import type { Values } from './args.ts';

export async function runBench(_values: Values): Promise<void> {
  throw new Error('bench: not implemented yet');
}
