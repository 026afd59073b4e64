/**
 * The `node --import` entry of the Electron stand-in (plain JavaScript: it runs without tsx). Its resolve
 * hook maps `electron` to ./electron.mjs, refuses tsx and TypeScript files (the built app must run on its
 * .js files alone; `--import` runs in every worker thread started from a file too, so this holds for the
 * workers as well), and notes when each package is first resolved, for the start-up ordering checks.
 * `registerHooks` runs in the thread that imports, synchronously, so the note is complete at any moment.
 */
import { isBuiltin, registerHooks } from 'node:module';
import { performance } from 'node:perf_hooks';

/** Package name → milliseconds since the process started when this thread first resolved it. */
export const firstResolved = new Map();
/** Milliseconds since the process started when the entry point (the app's main.js) was resolved. */
export let entryResolvedAt;

const standIn = new URL('./electron.mjs', import.meta.url).href;

/** The package a bare specifier names (`@scope/name` or `name`), or undefined for paths, URLs and builtins. */
function packageName(specifier) {
  if (/^(\.|\/|[a-z]+:)/i.test(specifier) || isBuiltin(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'electron') return { url: standIn, format: 'module', shortCircuit: true };
    if (packageName(specifier) === 'tsx')
      throw new Error(`the built app resolved ${specifier} from ${context.parentURL}`);
    const result = nextResolve(specifier, context);
    if (context.parentURL === undefined) entryResolvedAt ??= performance.now();
    if (/\.[cm]?tsx?$/.test(new URL(result.url).pathname))
      throw new Error(`the built app loads TypeScript: ${result.url}`);
    const name = packageName(specifier);
    if (name && !firstResolved.has(name)) firstResolved.set(name, performance.now());
    return result;
  },
});
