/**
 * The one API contract between the renderer and the main process. The preload bridge exposes it as
 * `window.api`, the IPC handlers implement it and validate every payload against ARGUMENTS, and the
 * tests call it; every channel name, argument schema and result type lives here. The domain constants the
 * main process and the window share are beside it (categories.ts, review.ts); contract/ imports nothing from
 * electron/ or renderer/ (test/contract.test.ts).
 */
import { z } from 'zod';

export interface ClassScore {
  name: string;
  f1: number;
}

export interface ModelSummary {
  name: string;
  /** Accuracy on the 10,000 Fashion-MNIST test images, from the model card. */
  testAccuracy: number;
  perClass: ClassScore[];
  parameters: number;
  trainedAt: string;
}

export interface AppInfo {
  version: string;
  model: ModelSummary | null;
  /** Why no model could be read, when `model` is null. */
  modelProblem: string | null;
  /** Where thumbnails are served: `${thumbnailBase}${hash}`. */
  thumbnailBase: string;
  /** Where the photos themselves are served: `${photoBase}${hash}`. */
  photoBase: string;
  /** The catalog's file path: the key of what the window keeps per catalog (the undo history). */
  catalogFile: string;
}

const categoryId = z.number().int().min(0).max(9);
const photoId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const reviewRuleSchema = z.strictObject({
  /** Below this confidence a prediction needs review. */
  minConfidence: z.number().min(0).max(1),
  /** Inside Shirt/T-shirt/Pullover/Coat, a top-two margin below this needs review too. */
  hardGroupMargin: z.number().min(0).max(1),
});
export type ReviewRule = z.infer<typeof reviewRuleSchema>;

export const pageQuerySchema = z.strictObject({
  queue: z.enum(['all', 'needsReview', 'reviewed']),
  category: categoryId.optional(),
  /** Part of the file name. */
  search: z.string().max(200).optional(),
  sort: z.enum(['confidence', 'name']),
  descending: z.boolean(),
  offset: z.number().int().min(0),
  limit: z.number().int().min(1).max(1000),
  rule: reviewRuleSchema,
  /**
   * The order's boundary (a photo id, as a page gave it): photos with a larger id, imported since the order
   * was taken, follow all the others in import order instead of being sorted in. Omitted: the catalog's newest.
   */
  appendAfter: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

/**
 * Which photos an export or a sort takes: a queue as in the grid, optionally one category and a name filter,
 * and optionally without the photos that still need review by `rule` (their category is the model's guess).
 */
export const photoSelectionSchema = pageQuerySchema
  .pick({ queue: true, category: true, search: true, rule: true })
  .extend({ excludeNeedsReview: z.boolean().optional() });
export type PhotoSelection = z.infer<typeof photoSelectionSchema>;

/** What one queue of a selection holds, and the rows each CSV layout gives it. */
export interface QueueCounts {
  /** Distinct photos (by content). */
  photos: number;
  /** The files that hold them: more than `photos` where files share their bytes (one packshot for two SKUs). */
  files: number;
  /** The catalog CSV's rows: one per file, and one for each photo none of whose files remains (under its last name). */
  catalogRows: number;
  /** The Fashion-MNIST CSV's rows: one per photo with a category. */
  fashionMnistRows: number;
}

/** Each queue's counts within a selection's category and name filter: what the Export dialog offers. */
export type SelectionCounts = Record<PhotoSelection['queue'], QueueCounts>;

/** A window action waiting for a catalog that another program is writing to: which, for how long so far, and at most. */
export interface CatalogWaitStatus {
  file: string;
  seconds: number;
  limitSeconds: number;
}

export const labelChangeSchema = z.strictObject({ photoId, label: categoryId.nullable() });
export type LabelChange = z.infer<typeof labelChangeSchema>;

export interface PhotoTile {
  id: number;
  hash: string;
  name: string;
  /** The reviewer's label if there is one, else the prediction. */
  category: number | null;
  predictedLabel: number | null;
  confidence: number | null;
  label: number | null;
  /**
   * How unlike the model's training images the photo's 28×28 input is: its distance in the network's features
   * over the model's threshold (1 and above: unusual, so it needs review); null without a prediction or statistics.
   */
  novelty: number | null;
}

export interface Page {
  /** How many photos match the query in all. */
  total: number;
  tiles: PhotoTile[];
  /** The boundary the order used (the query's `appendAfter`, else the newest photo's id): pass it on to keep this order. */
  appendAfter: number;
}

export interface LabelEvent {
  oldLabel: number | null;
  newLabel: number | null;
  reviewer: string;
  at: string;
}

export interface PhotoDetail extends PhotoTile {
  paths: string[];
  /**
   * The garment's outline as isolation cut it out: closed polygons [x0, y0, x1, y1, …] with coordinates 0–1
   * relative to the photo's width and height; null where isolation did not run (a plain white background).
   */
  outline: number[][] | null;
  format: string;
  width: number;
  height: number;
  /** The 28×28 image the model saw, row by row (Fashion-MNIST polarity). */
  pixels: number[];
  /** Ten class probabilities of the current prediction, or null before it is predicted. */
  probabilities: number[] | null;
  modelVersion: string | null;
  history: LabelEvent[];
}

export interface CatalogCounts {
  /** Distinct photos (by content). */
  total: number;
  /** Files the catalog knows: more than `total` where files share their bytes (one packshot for two SKUs). */
  files: number;
  /** Photos per current category within the queue asked for (all photos by default). */
  perCategory: number[];
  needsReview: number;
  reviewed: number;
  /** Files the imports could not read. */
  errors: number;
}

export interface ImportStatus {
  jobId: number;
  running: boolean;
  /** waiting: another program holds the catalog, and the import waits for it before it begins. */
  phase: 'waiting' | 'finding' | 'importing' | 'predicting' | 'done' | 'cancelled' | 'failed';
  /** Files found, imported and failed. */
  found: number;
  done: number;
  failed: number;
  /** Distinct photos among the imported files once the import has ended (fewer where files share their bytes); null before. */
  photos: number | null;
  /** Files of earlier imports under these folders that the ended import found no longer on disk, and forgot (ImportResult.gone). */
  gone: number;
  /** Files a reviewer had labelled that the ended import found holding other content (ImportResult.reviewedReplaced). */
  reviewedReplaced: number;
  photosPerSecond: number;
  etaSeconds: number | null;
  /** Why the import stopped, when phase is 'failed'. */
  problem: string | null;
}

export interface FileErrorRow {
  path: string;
  reason: string;
}

/** A file in the Errors list; resolved once a later import (a retry) has read it. */
export interface ImportErrorRow extends FileErrorRow {
  resolved: boolean;
}

export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Null for a model trained on all the training images (none kept to validate). */
  validationLoss: number | null;
  validationAccuracy: number | null;
}

export interface ModelReport {
  name: string;
  /** On the 10,000 Fashion-MNIST test images. */
  accuracy: number;
  /** 10×10, rows = true class. */
  confusion: number[][];
  perClass: ClassMetrics[];
  /** This version's own training, per epoch: the whole run, or for a fine-tuned version its fine-tuning alone. */
  history: EpochPoint[];
  trainSeconds: number;
  /**
   * Per category this model predicted: the catalog's reviewed photos among them, and how many of those the
   * reviewer gave that category. A fine-tuned version counts only photos it did not learn from.
   */
  agreement: { reviewed: number; agreed: number }[];
  /** What a fine-tuned version learned from (its parent's training is not its own); null for a trained model. */
  fineTune: {
    parentName: string;
    /** The reviewed photos it was given, and how many of them it trained on (the others validated or were held out). */
    photos: number;
    trainPhotos: number;
    /** Fashion-MNIST training images replayed beside them. */
    replay: number;
    bestEpoch: number;
    /** Reviewed photos held out when it was trained, and how many it got right; null where the card lacks them. */
    heldOut: { count: number; agreed: number } | null;
  } | null;
}

/** One model's scores in a comparison: accuracy, F1 per category, confusion (rows = true category). */
export interface ComparisonScores {
  accuracy: number;
  f1: number[];
  confusion: number[][];
}

/** A fine-tuned version next to the active model, before anything changes. */
export interface CandidateComparison {
  modelId: number;
  name: string;
  parentName: string;
  /** Reviewed photos it learned from (all parts). */
  labels: number;
  /** Categories with no reviewed photo: the new version learned nothing new about them (replay keeps the old). */
  categoriesWithoutLabels: number[];
  /** The user's reviewed photos neither model trained on: `count` of them. */
  heldOut: { count: number; current: ComparisonScores; candidate: ComparisonScores };
  /** The user's reviewed photos that chose the best epoch (not trained on). */
  validation: { count: number; current: ComparisonScores; candidate: ComparisonScores };
  /** Fashion-MNIST images replayed for validation: the best epoch's accuracy (a guard against forgetting). */
  replay: { count: number; accuracy: number | null };
  testSet: { count: number; current: ComparisonScores; candidate: ComparisonScores };
  /** Unreviewed photos whose category would change: from × to counts. */
  changes: { photos: number; changed: number; matrix: number[][] };
}

/** The model-improvement job: fine-tuning, then the comparison, then (when asked) activation. */
export interface ImproveStatus {
  running: boolean;
  /** waiting: another program holds the catalog, and the job waits for it before its next write. */
  phase:
    'waiting' | 'fine-tuning' | 'saving' | 'comparing' | 'ready' | 'activating' | 'activated' | 'cancelled' | 'failed';
  epoch: number;
  epochs: number;
  loss: number | null;
  /** The last epoch's accuracy on `validationCount` of the user's reviewed photos (none trained on). */
  validationAccuracy: number | null;
  validationCount: number | null;
  /** The last epoch's accuracy on `replayCount` Fashion-MNIST replay images, apart from the user's photos. */
  replayAccuracy: number | null;
  replayCount: number | null;
  etaSeconds: number | null;
  /** Photos re-predicted so far while activating. */
  repredicted: { done: number; total: number } | null;
  /**
   * The current phase's work done of its total (fine-tuning: training steps; comparing: images scored;
   * activating: photos re-predicted), for a progress bar; `etaSeconds` is that phase's time left.
   */
  progress: { done: number; total: number } | null;
  candidate: CandidateComparison | null;
  problem: string | null;
}

/** Why Improve is not offered: the newest fine-tuned version (its name) learned from every review there is. */
export const noNewReviews = (version: string, active = true) =>
  active
    ? `No new reviews since version ${version} was trained: review or correct photos, then improve it again.`
    : `No new reviews since version ${version} was trained on them; it is not active now: activate it again to use what it learned, or review or correct photos, then improve the model again.`;

export interface ModelVersion {
  id: number;
  name: string;
  createdAt: string;
  active: boolean;
  parentName: string | null;
  /** On the Fashion-MNIST test set, from its card. */
  testAccuracy: number | null;
  /** Reviewed photos it was fine-tuned on; null for a trained (not fine-tuned) model. */
  labels: number | null;
}

export const exportRequestSchema = z.strictObject({
  /** catalog: one row per photo for shop systems and spreadsheets; fashion-mnist: label + 784 pixels (Kaggle layout). */
  format: z.enum(['catalog', 'fashion-mnist']),
  selection: photoSelectionSchema,
  /** A UTF-8 byte order mark, so Excel reads names in any script correctly. */
  bom: z.boolean(),
});
export type ExportRequest = z.infer<typeof exportRequestSchema>;

export interface ExportResult {
  file: string;
  rows: number;
  /** Distinct photos among the rows: fewer than `rows` in the catalog layout where files share one image. */
  photos: number;
  seconds: number;
}

export const sortOptionsSchema = z.strictObject({
  /** copy keeps the originals; move copies, verifies and then deletes them, and the catalog follows. */
  mode: z.enum(['copy', 'move']),
  selection: photoSelectionSchema,
  /** The folder name of each category. */
  folders: z.array(z.string().min(1).max(100)).length(10),
});
export type SortOptions = z.infer<typeof sortOptionsSchema>;

/** What sorting would do (the dry run), before anything is written. */
export interface SortPlan {
  dest: string;
  mode: 'copy' | 'move';
  folders: string[];
  /**
   * Files to write, per category and in all, and their bytes. A photo saved at two paths (one packshot for
   * two SKUs) is two files; `distinctPhotos` counts the photos among them.
   */
  perCategory: number[];
  photos: number;
  distinctPhotos: number;
  bytes: number;
  /** Bytes the destination's drive must have free (a move within one drive needs none), and has. */
  bytesNeeded: number;
  bytesFree: number;
  /** Photos that get another name: a name already taken in their folder, or one not valid on every system. */
  renamed: number;
  /** Photos whose content is already at their place in the destination: nothing to write. */
  alreadyThere: number;
  /**
   * In a move, those of `alreadyThere` whose original is another file (an earlier copy sort put the copy there):
   * the move removes the original once it has verified the copy, as it does for every photo it moves.
   */
  originalsToRemove: number;
  /** Photos with no category yet (not predicted, not reviewed): left where they are. */
  uncategorized: number;
  /**
   * Copies an earlier copy into this destination made, now in another category's folder (the photo's category
   * changed since): removed once the photo's copy in its new folder is in place. Only a copy still identical
   * to the photo is counted (and removed); one edited since stays.
   */
  outdated: string[];
  /** Photos that cannot be sorted (missing or changed since import), with the reason. */
  unavailable: FileErrorRow[];
  /** The unfinished job this continues, and how many files it already sorted. */
  resumes: { jobId: number; done: number } | null;
  /** The first few planned copies or moves, for a preview. */
  sample: { source: string; target: string }[];
}

export interface SortResult {
  jobId: number;
  mode: 'copy' | 'move';
  dest: string;
  /** done: every planned photo was handled; stopped: cancelled or stopped by a problem (see `problem`); the same sort again continues it. */
  status: 'done' | 'stopped';
  resumed: boolean;
  /**
   * Files now in the destination (this run and any run it continued), how many distinct photos they hold
   * (fewer where one photo was saved at several paths), and how many files were already there.
   */
  sorted: number;
  distinctPhotos: number;
  alreadyThere: number;
  /** In a move, originals removed because their copy was already there (SortPlan.originalsToRemove). */
  originalsRemoved: number;
  /** Outdated copies removed (SortPlan.outdated): a copy's earlier place in another category's folder. */
  removedOutdated: number;
  failed: FileErrorRow[];
  /** Why the job stopped, when it did. */
  problem: string | null;
}

export interface SortStatus {
  running: boolean;
  /** waiting: another program holds the catalog, and the sort waits for it before it touches anything. */
  phase: 'waiting' | 'planning' | 'sorting' | 'done' | 'stopped' | 'failed';
  total: number;
  done: number;
  failed: number;
  photosPerSecond: number;
  etaSeconds: number | null;
  result: SortResult | null;
  /** Why it stopped or failed. */
  problem: string | null;
}

/** The background jobs by kind, with their statuses: one job of each kind at a time, and one of them at all. */
/** One import as the Imports list shows it. */
export interface ImportSummary {
  id: number;
  /** The folders (or files) the user chose, absolute. */
  folders: string[];
  /** When it started (ISO 8601). */
  startedAt: string;
  status: 'running' | 'done' | 'cancelled';
  /** Distinct photos (by content) it brought in. */
  photos: number;
  /** The removal that took it out of the catalog (restoreRemoval undoes it); null while it is in. */
  removalId: number | null;
}

/** A soft removal: its id (for restoreRemoval) and how many photos it took out. */
export interface Removal {
  id: number;
  photos: number;
}

export interface JobStatuses {
  import: ImportStatus;
  improve: ImproveStatus;
  sort: SortStatus;
}
export type JobKind = keyof JobStatuses;
export const JOB_KINDS = ['import', 'improve', 'sort'] as const satisfies readonly JobKind[];

/** A job's status as the main process pushes it to the window: when it starts, as it goes, and when it ends. */
export type JobUpdate = { [K in JobKind]: { kind: K; status: JobStatuses[K] } }[JobKind];
export const JOB_CHANNEL = 'jobs:update';
/** The push's envelope, checked by the preload before the window sees it. */
const count = z.number().int().min(0);
export const jobUpdateSchema = z.object({
  kind: z.enum(JOB_KINDS),
  status: z.looseObject({
    running: z.boolean(),
    phase: z.string(),
    // What a progress bar shows: checked here so that a bar never gets a negative or missing total.
    progress: z.strictObject({ done: count, total: count }).nullable().optional(),
    etaSeconds: z.number().min(0).nullable().optional(),
  }),
});

export interface FashionSorterApi {
  appInfo(): Promise<AppInfo>;
  /** Opens the system's folder picker and imports what the user chose; null when they cancelled. */
  chooseAndImport(): Promise<ImportStatus | null>;
  /** Imports folders or photos dropped on the window (reachable only through the preload's importDropped). */
  importPaths(paths: string[]): Promise<ImportStatus>;
  /** The import's latest status (null before the first this session); the window hears of changes through onJobUpdate. */
  importStatus(): Promise<ImportStatus | null>;
  cancelImport(): Promise<void>;
  /** A page of the Errors list, newest import first, each file once. */
  importErrors(offset: number, limit: number): Promise<{ total: number; rows: ImportErrorRow[] }>;
  /** Imports again one file the Errors list holds (refused for any other path); its progress comes as 'import' job updates. */
  retryImport(path: string): Promise<ImportStatus>;
  /** Takes out of the Errors list the files a later import has read; resolves to how many records it forgot. */
  clearResolvedErrors(): Promise<number>;
  /** Shows a file an import found (refused for any other path) in the system's file manager. */
  revealFile(path: string): Promise<void>;
  /** The catalog's counts by `rule`; `perCategory` counts within `queue` (default 'all'). */
  counts(rule: ReviewRule, queue?: PageQuery['queue']): Promise<CatalogCounts>;
  /** Photos, files and CSV rows per queue within a category and name filter (the queue itself is not needed): for the Export dialog. */
  selectionCounts(selection: Omit<PhotoSelection, 'queue'>): Promise<SelectionCounts>;
  /**
   * Whether a quick action (opening a catalog an older version wrote, saving labels, discarding a version) is
   * waiting for a catalog another program is writing to, and for how long; null when none is. Long jobs say
   * so in their own status.
   */
  catalogWait(): Promise<CatalogWaitStatus | null>;
  /**
   * A number that changes whenever another connection commits to the catalog (the command line, another window
   * or program; SQLite's PRAGMA data_version): the window checks it every second and reloads its views when it
   * changes, so labels, imports or a version made active elsewhere show without a restart. 0 until the catalog
   * is open: the check never opens it (that would migrate an older catalog, or wait for a busy one).
   */
  catalogChanges(): Promise<number>;
  page(query: PageQuery): Promise<Page>;
  /** The ids of every photo the query matches, in its order (offset and limit ignored): a review session's worklist. */
  photoIds(query: PageQuery): Promise<number[]>;
  photo(id: number): Promise<PhotoDetail>;
  /** Applies label changes in one transaction; returns the labels they replaced (for undo). */
  setLabels(changes: LabelChange[]): Promise<LabelChange[]>;
  /** The active model's card and how reviewers agree with it; null when the model has no card. */
  modelReport(): Promise<ModelReport | null>;
  /**
   * How many reviewed photos fine-tuning needs (the catalog's count is in `counts().reviewed`), and the newest
   * fine-tuned version with how many photos were reviewed since it was trained (null before the first).
   */
  improveRequirements(): Promise<{
    minimumLabels: number;
    lastVersion: { name: string; newReviews: number; active: boolean } | null;
  }>;
  /** Starts fine-tuning the active model on the reviewed photos; its progress comes as 'improve' job updates. */
  improveModel(): Promise<ImproveStatus>;
  improveStatus(): Promise<ImproveStatus | null>;
  cancelImprove(): Promise<void>;
  modelVersions(): Promise<ModelVersion[]>;
  /** Makes a version active and re-predicts the unreviewed photos (in the background, as an 'improve' job). */
  activateModel(id: number): Promise<ImproveStatus>;
  /** Removes a version that is not active (a candidate the user does not want) and its files. */
  discardModel(id: number): Promise<void>;
  /** Asks where to save (the system's save dialog) and writes the CSV there; null when the user cancelled. */
  exportCsv(request: ExportRequest): Promise<ExportResult | null>;
  /** The default folder names, and the destination chosen last (sorting always goes where the user chose in a dialog). */
  sortDefaults(): Promise<{ folders: string[]; dest: string | null }>;
  /** Asks for the destination folder (the system's folder picker); null when the user cancelled. */
  chooseSortDestination(): Promise<string | null>;
  /** The dry run into the chosen destination: counts, renames, space, problems; nothing is written. */
  previewSort(options: SortOptions): Promise<SortPlan>;
  /** Sorts into the chosen destination in the background; its progress comes as 'sort' job updates. */
  startSort(options: SortOptions): Promise<SortStatus>;
  sortStatus(): Promise<SortStatus | null>;
  cancelSort(): Promise<void>;
  /** Every import, newest first, with its photos and whether it was removed. */
  imports(): Promise<ImportSummary[]>;
  /**
   * Takes photos out of the catalog (softly: their labels stay in the log, the model versions keep what they
   * learned from them), in one transaction; they leave counts, queues, exports and sorts until restored.
   */
  removePhotos(ids: number[]): Promise<Removal>;
  /** Takes an import out: the photos it brought in that no other import still holds. Refused while an import runs. */
  removeImport(id: number): Promise<Removal>;
  /** Undoes a removal; resolves to how many photos came back. */
  restoreRemoval(id: number): Promise<number>;
}

/** Commands from the application menu to the window. */
export type MenuCommand = 'add-photos' | 'export' | 'show-catalog' | 'show-review' | 'show-model';
export const MENU_CHANNEL = 'menu:command';

/**
 * What the renderer sees as `window.api`. Dropped files arrive as File objects; the preload turns them
 * into paths with webUtils (only real files the user dropped have one), so the renderer never names a path.
 */
export interface RendererApi extends Omit<FashionSorterApi, 'importPaths'> {
  importDropped(files: File[]): Promise<ImportStatus | null>;
  onMenuCommand(listener: (command: MenuCommand) => void): void;
  /** Calls `listener` with every job update the main process pushes; returns a function that stops it. */
  onJobUpdate(listener: (update: JobUpdate) => void): () => void;
}

const absolutePath = z
  .string()
  .min(2)
  .max(4096)
  .regex(/^(\/|[A-Za-z]:[\\/]|\\\\)/, 'must be an absolute path');

/** Each method's arguments, validated in the main process before a service sees them. */
export const ARGUMENTS = {
  appInfo: z.tuple([]),
  chooseAndImport: z.tuple([]),
  importPaths: z.tuple([z.array(absolutePath).min(1).max(1000)]),
  importStatus: z.tuple([]),
  cancelImport: z.tuple([]),
  importErrors: z.tuple([z.number().int().min(0), z.number().int().min(1).max(1000)]),
  retryImport: z.tuple([absolutePath]),
  clearResolvedErrors: z.tuple([]),
  revealFile: z.tuple([absolutePath]),
  counts: z.tuple([reviewRuleSchema, pageQuerySchema.shape.queue.optional()]),
  selectionCounts: z.tuple([photoSelectionSchema.omit({ queue: true })]),
  catalogWait: z.tuple([]),
  catalogChanges: z.tuple([]),
  page: z.tuple([pageQuerySchema]),
  photoIds: z.tuple([pageQuerySchema]),
  photo: z.tuple([photoId]),
  setLabels: z.tuple([z.array(labelChangeSchema).min(1).max(100_000)]),
  modelReport: z.tuple([]),
  improveRequirements: z.tuple([]),
  improveModel: z.tuple([]),
  improveStatus: z.tuple([]),
  cancelImprove: z.tuple([]),
  modelVersions: z.tuple([]),
  activateModel: z.tuple([z.number().int().positive()]),
  discardModel: z.tuple([z.number().int().positive()]),
  exportCsv: z.tuple([exportRequestSchema]),
  sortDefaults: z.tuple([]),
  chooseSortDestination: z.tuple([]),
  previewSort: z.tuple([sortOptionsSchema]),
  startSort: z.tuple([sortOptionsSchema]),
  sortStatus: z.tuple([]),
  cancelSort: z.tuple([]),
  imports: z.tuple([]),
  removePhotos: z.tuple([z.array(photoId).min(1).max(100_000)]),
  removeImport: z.tuple([z.number().int().positive()]),
  restoreRemoval: z.tuple([z.number().int().positive()]),
} as const satisfies Record<keyof FashionSorterApi, z.ZodTuple>;

/** IPC channel per API method. */
export const CHANNELS = {
  appInfo: 'app:info',
  chooseAndImport: 'import:choose',
  importPaths: 'import:paths',
  importStatus: 'import:status',
  cancelImport: 'import:cancel',
  importErrors: 'import:errors',
  retryImport: 'import:retry',
  clearResolvedErrors: 'import:clear-resolved',
  revealFile: 'import:reveal',
  counts: 'catalog:counts',
  selectionCounts: 'catalog:selection-counts',
  catalogWait: 'catalog:wait',
  catalogChanges: 'catalog:changes',
  page: 'catalog:page',
  photoIds: 'catalog:photo-ids',
  photo: 'catalog:photo',
  setLabels: 'catalog:set-labels',
  modelReport: 'model:report',
  improveRequirements: 'model:improve-requirements',
  improveModel: 'model:improve',
  improveStatus: 'model:improve-status',
  cancelImprove: 'model:improve-cancel',
  modelVersions: 'model:versions',
  activateModel: 'model:activate',
  discardModel: 'model:discard',
  exportCsv: 'export:csv',
  sortDefaults: 'sort:defaults',
  chooseSortDestination: 'sort:choose-destination',
  previewSort: 'sort:preview',
  startSort: 'sort:start',
  sortStatus: 'sort:status',
  cancelSort: 'sort:cancel',
  imports: 'catalog:imports',
  removePhotos: 'catalog:remove-photos',
  removeImport: 'catalog:remove-import',
  restoreRemoval: 'catalog:restore-removal',
} as const satisfies Record<keyof FashionSorterApi, string>;
