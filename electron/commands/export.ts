import type { FashionSorterApi, PhotoSelection } from '../../contract/api.ts';
import { DEFAULT_REVIEW_RULE } from '../../contract/review.ts';
import { categoryFromText } from '../dataset/fashionMnist.ts';
import type { ExportFormat } from '../export/catalogExport.ts';
import { existingCatalogFile, pathOption, UsageError, withServices, type Values } from './args.ts';
import { CLASS_NAMES } from '../../contract/categories.ts';
import { noCategoryYet } from '../../contract/catalogWords.ts';
import { plural } from '../../contract/plural.ts';

/** The photos --reviewed-only / --needs-review / --category choose (all of them by default). */
export function selectionOption(values: Values): PhotoSelection {
  if (values['reviewed-only'] && values['needs-review'])
    throw new UsageError('choose one of --reviewed-only and --needs-review');
  const queue = values['reviewed-only'] ? 'reviewed' : values['needs-review'] ? 'needsReview' : 'all';
  const raw = values.category;
  const category = typeof raw === 'string' ? categoryFromText(raw) : undefined;
  if (typeof raw === 'string' && category === undefined)
    throw new UsageError(`--category must be 0–9 or one of ${CLASS_NAMES.join(', ')}; got "${raw}"`);
  return { queue, category, rule: DEFAULT_REVIEW_RULE };
}

/**
 * How many of `selection`'s photos still need review (their category is the model's guess), for saying so beside
 * an export or a sort of them: 0 for a selection of reviewed photos alone, or of the review queue itself (chosen
 * as such). The window's Export dialog says the same and leaves them out by default; here --reviewed-only does.
 */
export async function unsureIn(api: FashionSorterApi, selection: PhotoSelection): Promise<number> {
  return (await unsureAndUncategorizedIn(api, selection)).unsure;
}

/**
 * unsureIn, and how many of `selection`'s photos have no category yet (no model has predicted them: an import
 * still running, or a model that failed): empty in the catalog CSV's category columns, left out of the
 * Fashion-MNIST layout and of a sort. 0 for the review queue and the reviewed photos, which all have one.
 */
export async function unsureAndUncategorizedIn(
  api: FashionSorterApi,
  selection: PhotoSelection,
): Promise<{ unsure: number; uncategorized: number }> {
  if (selection.queue !== 'all') return { unsure: 0, uncategorized: 0 };
  const { category, search, rule } = selection;
  const counts = await api.selectionCounts({ category, search, rule });
  return { unsure: counts.needsReview.photos, uncategorized: counts.all.photos - counts.all.fashionMnistRows };
}

/** The line that says so, or nothing when no photo of the selection needs review. */
export const unsureLine = (n: number): string[] =>
  n === 0
    ? []
    : [
        `${n} of these photos still ${n === 1 ? "needs review: its category is the model's guess (--reviewed-only leaves it out)" : "need review: their category is the model's guess (--reviewed-only leaves them out)"}`,
      ];

/** `export --db FILE --out FILE [--format catalog|fashion-mnist] [--reviewed-only|--needs-review] [--category C] [--bom]` */
export async function runExport(values: Values): Promise<void> {
  const out = pathOption(values, 'out');
  if (!out) throw new UsageError('export needs --out FILE');
  const format = (values.format ?? 'catalog') as ExportFormat;
  if (format !== 'catalog' && format !== 'fashion-mnist')
    throw new UsageError(`--format must be catalog or fashion-mnist; got "${String(values.format)}"`);
  const selection = selectionOption(values);
  await withServices(existingCatalogFile(values), {}, async ({ api, operations }) => {
    const { unsure, uncategorized } = await unsureAndUncategorizedIn(api, selection);
    const { rows, photos, seconds } = await operations.exportCsv(out, { format, selection, bom: values.bom === true });
    // The catalog layout has a row per file: say so where files share a photo, so that fewer photos than rows is no surprise.
    const shared =
      photos === rows ? '' : `, ${photos} distinct photos: rows with the same hash are files with the same image`;
    console.log(`wrote ${plural(rows, 'row')} to ${out} (${format} layout${shared}) in ${seconds.toFixed(1)} s`);
    for (const line of unsureLine(unsure)) console.log(line);
    if (uncategorized > 0)
      console.log(
        `${noCategoryYet(uncategorized)}: ${format === 'catalog' ? `the category columns of ${uncategorized === 1 ? 'its' : 'their'} rows are empty` : 'left out'}`,
      );
  });
}
