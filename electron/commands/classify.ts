import cliProgress from 'cli-progress';
import { CLASS_NAMES, HARD_GROUP } from '../../contract/categories.ts';
import { DEFAULT_REVIEW_RULE } from '../../contract/review.ts';
import { defaultCatalogFile } from '../appPaths.ts';
import { checkCsvTarget, writeCsvFile } from '../export/csvFile.ts';
import type { ImportProgress } from '../photos/importJob.ts';
import { duration, pathOption, UsageError, userPath, waitingForCatalog, withServices, type Values } from './args.ts';
import { plural } from '../../contract/plural.ts';
import { filesGone, reviewedFilesReplaced } from '../../contract/catalogWords.ts';
import { noPhotoFileIn } from '../photos/walk.ts';
import { hasModel } from '../ml/modelFiles.ts';

function progressReporter(): { update: (p: ImportProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        hideCursor: true,
        format: '{phase} |{bar}| {value}/{total} photos, {failed} failed, {rate}/s, ETA {eta_text}',
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        const payload = {
          phase: p.phase.padEnd(10),
          failed: p.failed,
          rate: p.photosPerSecond.toFixed(0),
          eta_text: p.etaSeconds === null ? '…' : duration(p.etaSeconds),
        };
        if (!started) bar.start(p.found, 0, payload);
        started = true;
        bar.setTotal(p.found);
        bar.update(p.done + p.failed, payload);
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(p) {
      if (performance.now() - last < 10_000) return;
      last = performance.now();
      console.error(
        `${p.phase}: ${p.done + p.failed}/${p.found} photos, ${p.failed} failed, ${p.photosPerSecond.toFixed(0)}/s`,
      );
    },
    stop: () => {},
  };
}

/** `classify <folder…>`: import the photos into the catalog and predict their categories. */
export async function runClassify(values: Values, folders: string[]): Promise<void> {
  if (folders.length === 0) throw new UsageError('classify needs at least one folder (or photo file)');
  const dbFile = pathOption(values, 'db') ?? defaultCatalogFile();
  const outFile = pathOption(values, 'out');
  // Before the import, not after it: a CSV that cannot be written should not cost an import to find out.
  if (outFile) checkCsvTarget(outFile);
  // Nor should a mistyped or empty folder make a catalog (the import reports one beside folders of photos).
  const paths = folders.map(userPath);
  const nothing = await noPhotoFileIn(paths);
  if (nothing) throw new Error(`nothing was imported: ${nothing.path}: ${nothing.reason}`);
  const model = pathOption(values, 'model');
  if (model && !hasModel(model))
    throw new Error(`no model at ${model} (model.json and weights.bin are needed); check --model, or leave it out`);
  const cancel = new AbortController();
  const onSigint = () => {
    console.error('\ncancelling: finishing the photos in flight…');
    cancel.abort();
  };
  process.once('SIGINT', onSigint);
  const progress = progressReporter();
  /** A cancel (Ctrl-C) while a write waited for the catalog ends the wait: said as the cancel it is. */
  const cancellable = <T>(work: Promise<T>) =>
    work.catch((err: unknown) => {
      if (!cancel.signal.aborted) throw err;
      throw new Error(
        'cancelled while waiting for the catalog; classify the same folders again to go on (photos already imported are skipped quickly)',
      );
    });
  // The model: --model, else the catalog's active model, else the shipped one.
  const services = {
    classifyWith: model,
    signal: cancel.signal,
    onModelMissing: (active: { name: string; dir: string }) => {
      console.error(
        `warning: the catalog's active model ${active.name} has no files at ${active.dir} (moved or deleted); classifying with the shipped model`,
      );
    },
  };
  try {
    await withServices(dbFile, services, async ({ operations }) => {
      const result = await cancellable(
        operations.classify(paths, {
          signal: cancel.signal,
          catalogWait: { ...waitingForCatalog(dbFile), signal: cancel.signal },
          onProgress: progress.update,
        }),
      );
      progress.stop();
      const summary = await operations.jobSummary(result.jobId);
      const unfinishedImports = await operations.unfinishedImports(result.jobId);
      if (outFile) {
        await writeCsvFile(
          outFile,
          ['path', 'category_id', 'category_name', 'source', 'confidence'],
          (await operations.jobCategories(result.jobId)).map((r) => [
            r.path,
            r.category,
            CLASS_NAMES[r.category],
            r.source,
            r.confidence === null ? '' : r.confidence.toFixed(4),
          ]),
        );
      }
      const report = {
        status: result.status,
        jobId: result.jobId,
        resumed: result.resumed,
        db: dbFile,
        model: result.model,
        found: result.counts.found,
        photos: summary.photos,
        unchanged: result.unchanged,
        gone: result.gone,
        reviewedReplaced: result.reviewedReplaced,
        failed: result.counts.failed,
        predicted: result.predicted,
        perCategory: summary.perCategory.map((count, label) => ({ label, name: CLASS_NAMES[label]!, count })),
        needsReview: summary.needsReview,
        reviewRule: DEFAULT_REVIEW_RULE,
        errors: result.errors,
        seconds: result.seconds,
        out: outFile ?? null,
        unfinishedImports,
      };
      if (values.json) console.log(JSON.stringify(report, null, 1));
      else printSummary(report);
      // Their files are neither all imported nor predicted: exports and sorts would leave them out unexplained.
      for (const other of unfinishedImports)
        console.error(
          `warning: an earlier import of ${other.folders.join(', ')} did not finish (${other.done} of the ${plural(other.found, 'file')} it had found were imported); classify ${other.folders.length === 1 ? 'that folder' : 'those folders'} again to finish it, unless it is still running in another window`,
        );
      if (result.status === 'cancelled')
        throw new Error(
          `cancelled after ${result.counts.done} of ${result.counts.found} files; classify the same folders again to go on (photos already imported are skipped quickly)`,
        );
      if (summary.photos === 0 && result.counts.failed > 0)
        throw new Error(`nothing was imported: ${result.errors[0]!.path}: ${result.errors[0]!.reason}`);
    });
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }
}

function printSummary(r: {
  status: 'done' | 'cancelled';
  photos: number;
  unchanged: number;
  gone: number;
  reviewedReplaced: string[];
  found: number;
  failed: number;
  seconds: number;
  needsReview: number;
  model: { name: string; backend: string };
  perCategory: { name: string; count: number }[];
  errors: { path: string; reason: string }[];
  resumed: boolean;
  out: string | null;
  db: string;
}) {
  // The rate of the files read: those unchanged since an earlier import are only looked up.
  const read = r.found - r.unchanged;
  const rate = read > 0 && r.seconds > 0 ? `, ${(read / r.seconds).toFixed(0)} files/s` : '';
  const unchanged =
    r.unchanged === 0
      ? ''
      : ` (${r.unchanged === r.found ? 'all' : r.unchanged} unchanged since an earlier import: not read again)`;
  const cancelled = r.status === 'cancelled';
  console.log(
    `${cancelled ? 'cancelled, having imported' : r.resumed ? 'resumed and finished' : 'imported'}: ${plural(r.photos, 'photo')} from ${plural(r.found, 'file')}${cancelled ? ' found so far' : ''}${unchanged}, ${r.failed} failed, in ${duration(r.seconds)}${rate}`,
  );
  if (r.gone > 0) console.log(filesGone(r.gone));
  if (r.reviewedReplaced.length > 0) {
    console.log(`${reviewedFilesReplaced(r.reviewedReplaced.length)}:`);
    for (const file of r.reviewedReplaced.slice(0, 10)) console.log(`  ${file}`);
    if (r.reviewedReplaced.length > 10)
      console.log(`  … and ${r.reviewedReplaced.length - 10} more (--json lists all)`);
  }
  console.log(`model ${r.model.name} on ${r.model.backend}; catalog ${r.db}`);
  // With nothing imported, the table would be ten zeros: the errors below say what happened. A cancelled import
  // has not predicted all it imported: its table would be short.
  if (r.photos > 0 && !cancelled) {
    const width = Math.max(...r.perCategory.map((c) => c.name.length));
    for (const c of r.perCategory) console.log(`  ${c.name.padEnd(width)} ${String(c.count).padStart(7)}`);
    const hard = HARD_GROUP.map((k) => r.perCategory[k]!.name).join('/');
    console.log(
      `needs review: ${r.needsReview} (confidence below ${DEFAULT_REVIEW_RULE.minConfidence}, or ${hard} with a top-two margin below ${DEFAULT_REVIEW_RULE.hardGroupMargin})`,
    );
  }
  if (r.errors.length > 0) {
    console.log(`errors (${r.errors.length}):`);
    for (const e of r.errors.slice(0, 50)) console.log(`  ${e.path}: ${e.reason}`);
    if (r.errors.length > 50) console.log(`  … and ${r.errors.length - 50} more (--json lists all)`);
  }
  if (r.out) console.log(`wrote ${r.out}`);
}
