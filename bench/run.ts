/**
 * The benchmark runner: `npm run bench -- [--json] [--quick] [--only SECTION,…] [--model DIR]`, or the CLI's `bench`
 * command in a checkout. Each section measures one part side by side with its reference; the measurements live
 * in the files beside this one, and the photos they work on come from test/fixtures/.
 */
import { benchScale, soak } from './app.ts';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultModelDir, projectRoot } from '../electron/appPaths.ts';
import { benchCatalog, type CatalogBench } from './catalog.ts';
import { loadFashionMnist, type FashionMnist } from '../electron/dataset/fashionMnist.ts';
import { benchExport, benchSort } from './export.ts';
import { benchDomainShift } from './fineTuning.ts';
import { benchDataParallel, benchInference, benchTraining } from './ml.ts';
import { startPredictor } from '../electron/ml/inference.ts';
import { benchPipeline, measureFidelity } from './pipeline.ts';
import { benchRealPhotos, describeRealPhotos, findRealPhotos } from './realPhotos.ts';
import { pathOption, UsageError, type Values } from '../electron/commands/args.ts';

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/**
 * The sections of the benchmark, in the order they run: each measures side by side in one run and
 * returns its numbers and the lines that report them.
 */
const queryTimes = (q: CatalogBench) =>
  `counts ${q.categoryCountsMs.toFixed(1)}, first page of 200 ${q.firstPageMs.toFixed(1)}, page at 90 % ${q.deepPageMs.toFixed(1)}, one category ${q.categoryPageMs.toFixed(1)}, review queue ${q.reviewQueuePageMs.toFixed(1)}, name search ${q.searchPageMs.toFixed(1)}, import job counts ${q.jobCountsMs.toFixed(1)} ms`;

/** The UI's queries on a synthetic catalog of `photos` photos. */
function catalogQueries(photos: number) {
  const catalog = benchCatalog(photos);
  return {
    result: catalog,
    lines: [
      `catalog of ${catalog.photos} synthetic photos (${catalog.databaseMegabytes.toFixed(0)} MB), the UI's queries, median: ${queryTimes(catalog)}`,
    ],
  };
}

const SECTIONS = {
  async training(quick: boolean, data: FashionMnist) {
    const training = await benchTraining(quick ? { batchSize: 8, stepBatchSize: 16, wasmRuns: 2, cpuRuns: 1 } : {});
    const dataParallel = quick ? undefined : await benchDataParallel(data.train);
    return {
      result: { ...training, dataParallel },
      lines: [
        `training (batch ${training.batchSize}, shipped architecture, one thread):`,
        `  wasm + our kernels ${training.wasmImagesPerSecond.toFixed(1)} img/s, pure-JS cpu ${training.cpuImagesPerSecond.toFixed(2)} img/s`,
        `  speedup vs cpu        ${training.speedupVsCpu.toFixed(1)}×`,
        `  step ÷ forward pass   ${training.stepToForward.toFixed(2)}  (batch ${training.stepBatchSize}: ${training.stepMs.toFixed(0)} ms ÷ ${training.forwardMs.toFixed(0)} ms)`,
        ...(dataParallel
          ? [
              `  two worker threads ÷ one  ${dataParallel.speedup.toFixed(2)}×  (${dataParallel.twoWorkersImagesPerSecond.toFixed(0)} vs ${dataParallel.oneWorkerImagesPerSecond.toFixed(0)} img/s, one epoch of ${dataParallel.images} images)`,
            ]
          : []),
      ],
    };
  },
  async inference(quick: boolean, data: FashionMnist, model: string) {
    const inference = await benchInference(data.test, model, quick ? { images: 512, runs: 1 } : {});
    return {
      result: inference,
      lines: [
        `inference (${inference.backend}, ${inference.images} test images in calls of ${inference.batchSize}, as the import sends them):`,
        `  as the app classifies (${(100 * inference.mirroredShare).toFixed(0)} % also mirrored), ${inference.workers} worker threads  ${inference.imagesPerSecond.toFixed(0)} img/s`,
        `  one worker thread                                       ${inference.oneWorkerImagesPerSecond.toFixed(0)} img/s  (${(inference.imagesPerSecond / inference.oneWorkerImagesPerSecond).toFixed(2)}× with ${inference.workers})`,
        `  one worker thread, each image classified once           ${inference.onceEachImagesPerSecond.toFixed(0)} img/s`,
      ],
    };
  },
  async pipeline(quick: boolean, data: FashionMnist, model: string) {
    const predictor = await startPredictor(model);
    try {
      const pipeline = await benchPipeline(data.test, predictor, quick ? 200 : 2000);
      const f = await measureFidelity(data.test, predictor, quick ? 500 : data.test.count);
      return {
        result: { ...pipeline, fidelity: f },
        lines: [
          `photo pipeline (${pipeline.photos} JPEG packshots of 800×1000 on white, walk + decode + convert as the app does, isolation on + thumbnail + predict + write):`,
          `  end to end ${pipeline.photosPerSecond.toFixed(1)} photos/s, sharp alone (decode + resize) ${pipeline.floorPhotosPerSecond.toFixed(1)} photos/s`,
          `  ratio to the floor    ${pipeline.ratioToFloor.toFixed(2)}  (without predicting: ${pipeline.withoutPredictionRatioToFloor.toFixed(2)})`,
          `  worst main-thread event-loop delay while importing ${pipeline.maxEventLoopDelayMs.toFixed(1)} ms`,
          `  per photo, one at a time on one core: decode + resize (the floor) ${pipeline.cpuMsPerPhoto.floor.toFixed(1)} ms, conversion ${pipeline.cpuMsPerPhoto.convert.toFixed(1)} ms, model ${pipeline.cpuMsPerPhoto.predict.toFixed(1)} ms`,
          `  fidelity on ${f.images} test images as photos: ${(100 * f.pipelineAccuracy).toFixed(2)}% vs ${(100 * f.tensorAccuracy).toFixed(2)}% as tensors (gap ${f.gapPoints.toFixed(2)} points)`,
        ],
      };
    } finally {
      await predictor.close();
    }
  },
  /** Needs `../shared/real-photos` beside the project (a developer's checkout); skipped with a line saying so without it. */
  async realPhotos(_quick: boolean, data: FashionMnist, model: string) {
    const dir = await findRealPhotos(projectRoot);
    if (!dir)
      return {
        result: { skipped: true },
        lines: [`real shop photos: skipped (no ${path.resolve(projectRoot, '..', 'shared', 'real-photos')})`],
      };
    const predictor = await startPredictor(model);
    try {
      const r = await benchRealPhotos(
        dir,
        predictor,
        path.join(os.tmpdir(), 'fashion-sorter-real-photos.png'),
        data.train,
      );
      return { result: { ...r, results: undefined, details: r.results }, lines: describeRealPhotos(r) };
    } finally {
      await predictor.close();
    }
  },
  async catalog(quick: boolean) {
    return catalogQueries(quick ? 10_000 : 100_000);
  },
  async million(quick: boolean) {
    return catalogQueries(quick ? 20_000 : 1_000_000);
  },
  async export(quick: boolean, data: FashionMnist) {
    const csv = await benchExport(quick ? 10_000 : 100_000);
    const sort = await benchSort(data.test, quick ? 1000 : 10_000);
    return {
      result: { csv, sort },
      lines: [
        `catalog CSV of ${csv.rows} photos: ${csv.seconds.toFixed(1)} s (target ≤ 5 s), memory growth ${csv.rssGrowthMB.toFixed(0)} MB RSS, ${csv.heapGrowthMB.toFixed(0)} MB heap (target < 50 MB)`,
        `  read back by Python's csv module: ${csv.mismatches} of ${csv.fieldsChecked} fields differ from the catalog${csv.firstMismatch ? ` (first: ${csv.firstMismatch})` : ''}`,
        `  Fashion-MNIST CSV of the ${csv.fashionMnist.rows} reviewed photos: ${csv.fashionMnist.seconds.toFixed(1)} s`,
        `sorting ${sort.photos} JPEG photos (${(sort.bytes / 1e6).toFixed(0)} MB) into category folders, copies, median of ${sort.oursRunsSeconds.length} runs alternated with cp -r:`,
        `  ours ${sort.oursFilesPerSecond.toFixed(0)} files/s, cp ${sort.cpFilesPerSecond.toFixed(0)} files/s, ratio to cp ${sort.ratioToCp.toFixed(2)} (target ≥ 0.8)`,
        `  a move (copy, flush, verify the hash, delete the original) ${sort.moveFilesPerSecond.toFixed(0)} files/s`,
      ],
    };
  },
  async scale(quick: boolean, data: FashionMnist) {
    const s = await benchScale(data.test, quick ? 2000 : 100_000);
    return {
      result: s,
      lines: [
        `scale: ${s.photos} JPEG photos of 400×500 imported through the services in ${(s.importSeconds / 60).toFixed(1)} min (${s.photosPerSecond.toFixed(0)} photos/s); catalog ${s.databaseMegabytes.toFixed(0)} MB`,
        `  resident memory of the process (main thread and workers): peak ${s.peakRssMB.toFixed(0)} MB during the import, ${s.rssAfterMB.toFixed(0)} MB after`,
        `  the UI's queries, median: ${queryTimes(s.queries)}`,
      ],
    };
  },
  async soak(quick: boolean, data: FashionMnist) {
    const cycles = await soak(data.test, quick ? 3 : 10);
    const first = cycles[1] ?? cycles[0]!;
    const last = cycles[cycles.length - 1]!;
    return {
      result: { cycles },
      lines: [
        `soak: ${cycles.length} cycles of import 60 photos, review them, fine-tune and discard, export a CSV, sort into folders (through the app's services):`,
        `  after cycle 2 → ${cycles.length}: heap after GC ${first.heapMB.toFixed(0)} → ${last.heapMB.toFixed(0)} MB, resident ${first.rssMB.toFixed(0)} → ${last.rssMB.toFixed(0)} MB, open files ${first.fileDescriptors} → ${last.fileDescriptors}`,
        `  seconds per cycle: ${cycles.map((c) => c.seconds.toFixed(0)).join(' ')}`,
      ],
    };
  },
  async fineTuning(quick: boolean, data: FashionMnist, model: string) {
    const f = await benchDomainShift(model, data, quick ? { corrections: 100, heldOut: 200, speed: 100 } : undefined);
    return {
      result: f,
      lines: [
        `fine-tuning on ${f.corrections} corrected photos of a shifted domain (smaller, rotated, low-contrast garments on a tinted textured background):`,
        `  held-out shifted photos (${f.heldOut}) ${pct(f.shiftedBefore)} → ${pct(f.shiftedAfter)}, ${(100 * f.recoveredShare).toFixed(0)}% of the drop won back`,
        `  Fashion-MNIST test set ${pct(f.testBefore)} → ${pct(f.testAfter)} (${(100 * (f.testAfter - f.testBefore)).toFixed(2)} points)`,
        `  fine-tuning time ${f.fineTuneSeconds.toFixed(1)} s (${f.corrections} corrections), ${f.speedSeconds.toFixed(1)} s (${f.speedCorrections})`,
      ],
    };
  },
};
type Section = keyof typeof SECTIONS;
/** The long runs (a million-photo catalog, a 100,000-photo import, ten working cycles) run only when asked for by name. */
const ON_REQUEST: Section[] = ['million', 'scale', 'soak'];

const USAGE = `Usage: npm run bench -- [--json] [--quick] [--only SECTION,…] [--model DIR]
  sections: ${Object.keys(SECTIONS).join(', ')} (without --only, all but ${ON_REQUEST.join(', ')})
  --model DIR: the model the inference, pipeline, realPhotos and fineTuning sections classify with; default the shipped one`;

/**
 * `bench [--json] [--quick] [--only SECTION,…] [--model DIR]`: speeds measured side by side in one run; the ratios are
 * what to compare across machines. Without --only, every section but the long scale and soak runs. The sections
 * that classify (pipeline, realPhotos, fineTuning) use the model in --model, by default the shipped one.
 */
async function runBench(values: Values): Promise<void> {
  const quick = values.quick === true;
  const names = Object.keys(SECTIONS) as Section[];
  const only =
    typeof values.only === 'string'
      ? values.only.split(',').map((s) => s.trim())
      : names.filter((n) => !ON_REQUEST.includes(n));
  const unknown = only.filter((s) => !names.includes(s as Section));
  if (unknown.length > 0)
    throw new UsageError(`--only takes sections from ${names.join(', ')}; unknown: ${unknown.join(', ')}`);
  const data = await loadFashionMnist();
  const model = pathOption(values, 'model') ?? defaultModelDir();
  const result: Record<string, unknown> = {};
  const lines: string[] = [];
  for (const name of names.filter((n) => only.includes(n))) {
    const section = await SECTIONS[name](quick, data, model);
    result[name] = section.result;
    lines.push(...section.lines);
  }
  console.log(values.json ? JSON.stringify(result, null, 1) : lines.join('\n'));
}

/**
 * Runs the benchmark with command-line arguments (`argv` without node and the script) and returns the exit code,
 * as the CLI does: 0, 1 on a failure (one line on stderr), 2 on a usage error. `npm run bench` and the CLI's
 * `bench` command both come here.
 */
export async function benchMain(argv: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean' },
        quick: { type: 'boolean' },
        only: { type: 'string' },
        model: { type: 'string' },
      },
    });
    await runBench(values);
    return 0;
  } catch (err) {
    const usage = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    console.error(usage ? `${(err as Error).message}\n\n${USAGE}` : `error: ${(err as Error).message}`);
    if (!usage && process.env.FASHION_SORTER_DEBUG) console.error((err as Error).stack);
    return usage ? 2 : 1;
  }
}

if (import.meta.main) process.exitCode = await benchMain(process.argv.slice(2));
