import path from 'node:path';

/** A mistake in how a command was called (exit code 2). */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/** Parses a positive integer option, or fails with a usage error naming it. */
export function intOption(values: Values, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function pathOption(values: Values, name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? path.resolve(process.cwd(), raw) : undefined;
}

/** 1h05m, 3m07s. */
export const duration = (s: number) => (s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`);
