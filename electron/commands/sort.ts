import cliProgress from 'cli-progress';
import { categoryFromText } from '../dataset/fashionMnist.ts';
import { DEFAULT_FOLDER_NAMES } from '../export/fileNames.ts';
import { formatBytes, type SortPlan, type SortRequest } from '../export/sortIntoFolders.ts';
import { selectionOption, unsureIn, unsureLine } from './export.ts';
import {
  duration,
  existingCatalogFile,
  filesAndPhotos,
  pathOption,
  UsageError,
  waitingForCatalog,
  withServices,
  type Values,
} from './args.ts';
import { originalsToRemovePhrase, sortResultParts } from '../../contract/sortResult.ts';

/** --folder-name 6=Shirts (repeatable; the category a number or a name) over the default folder names. */
function folderNames(values: Values): string[] {
  const folders = [...DEFAULT_FOLDER_NAMES];
  const given = values['folder-name'] as unknown as string[] | undefined;
  for (const spec of given ?? []) {
    const [category, ...rest] = spec.split('=');
    const k = categoryFromText(category ?? '');
    if (k === undefined || rest.length === 0)
      throw new UsageError(`--folder-name takes CATEGORY=NAME (like 6=Shirts or "Ankle boot=Boots"); got "${spec}"`);
    folders[k] = rest.join('=');
  }
  return folders;
}

function printPlan(plan: SortPlan, unsure: number): void {
  const verb = plan.mode === 'move' ? 'move' : 'copy';
  console.log(
    `dry run: would ${verb} ${filesAndPhotos(plan.photos, plan.distinctPhotos)} (${formatBytes(plan.bytes)}) into ${plan.dest}${originalsToRemovePhrase(plan.originalsToRemove)}${plan.resumes ? `, continuing job ${plan.resumes.jobId} (${plan.resumes.done} already sorted)` : ''}`,
  );
  const width = Math.max(...plan.folders.map((f) => f.length));
  plan.folders.forEach((folder, k) =>
    console.log(`  ${folder.padEnd(width)} ${String(plan.perCategory[k]).padStart(7)}`),
  );
  console.log(
    `renamed to avoid a clash or a name some systems refuse: ${plan.renamed}; already there: ${plan.alreadyThere}; without a category yet: ${plan.uncategorized}`,
  );
  console.log(
    `space needed on the drive ${formatBytes(plan.bytesNeeded)} (files take whole blocks), free ${formatBytes(plan.bytesFree)}${plan.bytesNeeded > plan.bytesFree ? ' (NOT ENOUGH)' : ''}`,
  );
  if (plan.outdated.length > 0)
    console.log(
      `earlier copies to remove once the new ones are in place (their photo's category changed): ${plan.outdated.length}`,
    );
  for (const file of plan.outdated.slice(0, 5)) console.log(`  remove ${file}`);
  if (plan.sample.length > 0) console.log(`the first ${Math.min(5, plan.sample.length)} of the plan:`);
  for (const s of plan.sample.slice(0, 5)) console.log(`  ${s.source} → ${s.target}`);
  for (const u of plan.unavailable) console.log(`  cannot sort ${u.path}: ${u.reason}`);
  for (const line of unsureLine(unsure)) console.log(line);
}

/** `sort --db FILE --dest DIR [--move] [--dry-run]`: one folder per category, copies by default. */
export async function runSort(values: Values): Promise<void> {
  const dest = pathOption(values, 'dest');
  if (!dest) throw new UsageError('sort needs --dest DIR');
  const request: SortRequest = {
    dest,
    mode: values.move ? 'move' : 'copy',
    selection: selectionOption(values),
    folders: folderNames(values),
  };
  const dbFile = existingCatalogFile(values);
  const cancel = new AbortController();
  const onSigint = () => cancel.abort();
  process.once('SIGINT', onSigint);
  const bar =
    process.stderr.isTTY && !values.json
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            hideCursor: true,
            format: 'sorting |{bar}| {value}/{total} photos, {failed} failed, ETA {eta_text}',
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  try {
    await withServices(dbFile, { signal: cancel.signal }, async ({ api, operations }) => {
      const needsReview = await unsureIn(api, request.selection);
      if (values['dry-run']) {
        const plan = await operations.planSort(request);
        if (values.json) console.log(JSON.stringify({ ...plan, needsReview }, null, 1));
        else printPlan(plan, needsReview);
        return;
      }
      const started = performance.now();
      const result = await operations.sort(request, {
        signal: cancel.signal,
        catalogWait: waitingForCatalog(dbFile),
        onProgress: (p) => {
          if (!bar) return;
          if (p.done === 1) bar.start(p.total, 0);
          bar.update(p.done, { failed: p.failed, eta_text: p.etaSeconds === null ? '…' : duration(p.etaSeconds) });
        },
      });
      bar?.stop();
      const seconds = (performance.now() - started) / 1000;
      if (values.json) console.log(JSON.stringify({ ...result, seconds, needsReview }, null, 1));
      else {
        const verb = result.mode === 'move' ? 'moved' : 'copied';
        const { placed, distinct, there } = sortResultParts(result);
        console.log(
          `${result.resumed ? 'continued and ' : ''}${result.status === 'done' ? 'finished' : 'stopped'}: ${placed} ${verb} into ${result.dest}${distinct}, ${result.alreadyThere} already there${there}${result.removedOutdated > 0 ? `, ${result.removedOutdated} earlier ${result.removedOutdated === 1 ? 'copy' : 'copies'} removed from another category's folder` : ''}, ${result.failed.length} could not be sorted; ${duration(seconds)}`,
        );
        for (const f of result.failed.slice(0, 50)) console.log(`  ${f.path}: ${f.reason}`);
        if (result.failed.length > 50) console.log(`  … and ${result.failed.length - 50} more (--json lists all)`);
        for (const line of unsureLine(needsReview)) console.log(line);
      }
      if (result.problem) throw new Error(result.problem);
    });
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}
