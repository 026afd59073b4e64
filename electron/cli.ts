/**
 * The headless face of Fashion Sorter: `npm run cli -- <command>`.
 * Exit codes: 0 success, 1 failure (one-line reason on stderr), 2 usage error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { runClassify } from './commands/classify.ts';
import { runEvaluate } from './commands/evaluate.ts';
import { runExport } from './commands/export.ts';
import { runFinetune } from './commands/finetune.ts';
import { runLabel } from './commands/label.ts';
import { runModels } from './commands/models.ts';
import { runNovelty } from './commands/novelty.ts';
import { runSort } from './commands/sort.ts';
import { runTrain } from './commands/train.ts';
import { pathOption, UsageError, type Values } from './commands/args.ts';
import { defaultCatalogFile, projectRoot } from './appPaths.ts';
import { BUSY_MIDWAY, catalogBusyMessage, isCatalogBusy } from './catalog/catalog.ts';

/** The catalog a command works on: --db, else the default one. */
const catalogOf = (values: Values) => pathOption(values, 'db') ?? defaultCatalogFile();

const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  train     [--data DIR] [--epochs N] [--out DIR] [--resume] [--workers N] [--batch-size N] [--width N] [--limit N]
            [--depth A,B,C] [--ema DECAY] [--validation-fraction F] [--lr X] [--augment KEY=VALUE,…] [--from DIR]   (depth: residual blocks at 28, 14, 7 px;
            augment keys: shift, flip, erase, scale, tone, edge, residue, pair;
            --from: start from that model's weights, on its split; --limit then takes the first N of its training images;
            --validation-fraction: the share kept to validate, 0.2; 0 trains on all of them)
  evaluate  [--model DIR] [--data DIR] [--json] [--flip all|none|unsure]   (--flip: which test images are also classified
            mirrored; unsure, as the app classifies, by default)
  novelty   [--model DIR] [--data DIR]   (fits the model's novelty statistics: which photos are unlike its training images)
  classify  <folder…> [--db FILE] [--model DIR] [--out FILE.csv] [--json]
  label     --db FILE --csv FILE   (columns path,label; label a number 0–9 or a category name)
  finetune  --db FILE [--epochs N] [--activate] [--json] [--models DIR] [--data DIR]
  models    [--db FILE] [--activate VERSION] [--json]   (lists the catalog's model versions; --activate makes one,
            by number or name, the catalog's model, an earlier one too, and re-predicts the photos without a label)
  export    --db FILE --out FILE [--format catalog|fashion-mnist] [--reviewed-only | --needs-review]
            [--category C] [--bom]   (--bom: a UTF-8 byte order mark for Excel)
  sort      --db FILE --dest DIR [--move] [--dry-run] [--json] [--reviewed-only | --needs-review]
            [--category C] [--folder-name CATEGORY=NAME]…   (copies unless --move)
  bench     [--json] [--quick] [--only training,inference,pipeline,realPhotos,catalog,million,export,scale,soak,fineTuning]
            [--model DIR]   (the model the inference, pipeline, realPhotos and fineTuning sections classify with; default the shipped one)

Environment: FASHION_SORTER_BACKEND=auto|tensorflow-gpu|tensorflow|wasm|cpu picks the first backend to try;
FASHION_SORTER_CATALOG_WAIT_S=60 is how long a command waits for a catalog another program is writing to.`;

const COMMANDS: Record<
  string,
  {
    options: ParseArgsConfig['options'];
    run: (values: Record<string, string | boolean | undefined>, positionals: string[]) => Promise<void>;
  }
> = {
  train: {
    options: {
      data: { type: 'string' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      resume: { type: 'boolean' },
      workers: { type: 'string' },
      limit: { type: 'string' },
      'batch-size': { type: 'string' },
      width: { type: 'string' },
      depth: { type: 'string' },
      ema: { type: 'string' },
      'validation-fraction': { type: 'string' },
      lr: { type: 'string' },
      augment: { type: 'string' },
      from: { type: 'string' },
    },
    run: (v) => runTrain(v),
  },
  evaluate: {
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      json: { type: 'boolean' },
      flip: { type: 'string' },
    },
    run: (v) => runEvaluate(v),
  },
  novelty: {
    options: { model: { type: 'string' }, data: { type: 'string' } },
    run: (v) => runNovelty(v),
  },
  classify: {
    options: { db: { type: 'string' }, model: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
    run: (v, folders) => runClassify(v, folders),
  },
  label: {
    options: { db: { type: 'string' }, csv: { type: 'string' } },
    run: (v) => runLabel(v),
  },
  finetune: {
    options: {
      db: { type: 'string' },
      epochs: { type: 'string' },
      activate: { type: 'boolean' },
      json: { type: 'boolean' },
      models: { type: 'string' },
      data: { type: 'string' },
    },
    run: (v) => runFinetune(v),
  },
  models: {
    options: {
      db: { type: 'string' },
      activate: { type: 'string' },
      json: { type: 'boolean' },
    },
    run: (v) => runModels(v),
  },
  export: {
    options: {
      db: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string' },
      'reviewed-only': { type: 'boolean' },
      'needs-review': { type: 'boolean' },
      category: { type: 'string' },
      bom: { type: 'boolean' },
    },
    run: (v) => runExport(v),
  },
  sort: {
    options: {
      db: { type: 'string' },
      dest: { type: 'string' },
      move: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      'reviewed-only': { type: 'boolean' },
      'needs-review': { type: 'boolean' },
      category: { type: 'string' },
      'folder-name': { type: 'string', multiple: true },
    },
    run: (v) => runSort(v),
  },
};

/**
 * `bench …`: the benchmark runner of a checkout (bench/run.ts, which parses its own options), or exit code 1 where
 * there is none (an installed app ships no bench/). Its path is computed so that tsc does not follow it: nothing of
 * bench/ is compiled into dist/.
 */
async function runBench(argv: string[]): Promise<number> {
  const runner = path.join(projectRoot, 'bench', 'run.ts');
  if (!fs.existsSync(runner)) {
    console.error(
      `error: the benchmarks are not part of an installed app; run \`npm run bench\` in a clone of the source (no ${runner})`,
    );
    return 1;
  }
  const { benchMain } = (await import(pathToFileURL(runner).href)) as {
    benchMain: (argv: string[]) => Promise<number>;
  };
  return benchMain(argv);
}

/** The usage lines of one command (its line in USAGE and those continuing it), or all of USAGE for none. */
function usageOf(command: string | undefined): string {
  const lines = USAGE.split('\n');
  const start = lines.findIndex((line) => command !== undefined && line.startsWith(`  ${command.padEnd(9)} `));
  if (start < 0) return USAGE;
  let end = start + 1;
  while (end < lines.length && lines[end]!.startsWith(' '.repeat(12))) end++;
  const [first, ...rest] = lines.slice(start, end);
  return `Usage: npm run cli -- ${first!.trimStart().replace(/^(\S+)\s+/, '$1 ')}\n${rest.join('\n')}${rest.length > 0 ? '\n' : ''}(npm run cli -- help lists every command)`;
}

/** A usage error in words: what was wrong with which option (node:util's parseArgs words them for programmers). */
function usageProblem(err: Error & { code?: string }, args: string[]): string {
  const option = /'(--?[^' <=]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `there is no option ${option} for this command`;
  if (err.code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return err.message;
  if (/does not take an argument/.test(err.message)) return `${option} takes no value`;
  // `--epochs -1`: parseArgs takes a negative number for another option.
  const next = args[args.indexOf(option!) + 1];
  return next !== undefined && /^-\d/.test(next)
    ? `${option} needs a value; a negative one is written ${option}=${next}`
    : `${option} needs a value`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'bench') return runBench(rest);
  const spec = COMMANDS[command];
  if (!spec) {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let values: Values = {};
  try {
    const parsed = parseArgs({ args: rest, options: spec.options, allowPositionals: true });
    values = parsed.values as Values;
    await spec.run(values, parsed.positionals);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${usageProblem(err as Error, rest)}\n\n${usageOf(command)}`);
      return 2;
    }
    // A catalog another program took while a command was writing (past SQLite's own short wait, where a write did
    // not wait as Catalog.writeWhenFree does): name it, and say what to do.
    console.error(
      `error: ${isCatalogBusy(err) ? catalogBusyMessage(catalogOf(values), undefined, BUSY_MIDWAY) : (err as Error).message}`,
    );
    if (process.env.FASHION_SORTER_DEBUG) console.error((err as Error).stack);
    return 1;
  }
}

// A reader that stops reading (`| head -1`) closes the pipe: the command's work goes on to its end, its printing
// stops, and the exit code is the work's, not a crash's.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});
process.exitCode = await main(process.argv.slice(2));
