import type { LabelChange } from '../../contract/api.ts';
import { CLASS_NAMES } from '../../contract/categories.ts';
import { api } from './api.ts';

/** One step of the undo history: a review decision (one photo) or a bulk relabel (many, undone together). */
export interface Decision {
  kind: 'review' | 'bulk';
  /** The labels the step set, and each photo's label before it: undo sets `before` again, redo `after`. */
  after: LabelChange[];
  before: LabelChange[];
  /** The first photo's file name and content hash, for the strip of recent decisions. */
  name: string;
  hash: string;
}

/** A step to take: the labels to set, and what it is about (its kind and first photo, for the strip and the toast). */
export interface Step {
  changes: LabelChange[];
  about: Pick<Decision, 'kind' | 'name' | 'hash'>;
}

const categoryName = (label: number | null | undefined) =>
  label === null || label === undefined ? 'unreviewed' : CLASS_NAMES[label]!;

/** "photo.jpg" for one photo, "7 photos" for a bulk step. */
export const decisionSubject = (d: Decision) => (d.after.length === 1 ? d.name : `${d.after.length} photos`);
/** The category a step set (a bulk step sets one category on all its photos). */
export const decisionCategory = (d: Decision) => categoryName(d.after[0]?.label);

/**
 * A catalog's labeling this app session: every decision and bulk relabel as an undoable step, run one at a
 * time in the order they were asked for (labels are an append-only log, so undo and redo are new writes of
 * the earlier labels). Kept per catalog at module level, so it outlives the views that show it.
 */
export class DecisionHistory {
  /** Steps that can be undone, oldest first. */
  done = $state.raw<Decision[]>([]);
  /** Steps that can be redone, the next one last. */
  undone = $state.raw<Decision[]>([]);
  /** When the first review decision was made (performance.now() ms), for the pace. */
  firstReviewAt = $state<number | null>(null);
  /** The last undo's or redo's words ("Undid: photo.jpg back to Shirt"), cleared a few seconds later. */
  toast = $state<string | null>(null);
  /** A photo Review is asked to show (a click on the strip); Review clears it once shown. */
  showInReview = $state.raw<{ photoId: number } | null>(null);

  #tail: Promise<unknown> = Promise.resolve();
  #toastTimer: ReturnType<typeof setTimeout> | undefined;

  /** Review decisions in effect (made and not undone): the session's counter. */
  get reviewed(): number {
    return this.done.filter((d) => d.kind === 'review').length;
  }

  /**
   * Runs `task` once every task queued before it has settled, so that keys pressed in the same instant act
   * one after another, in order. Resolves or rejects as `task` does; a failed task does not stop the queue.
   */
  inOrder<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Sets labels as one undoable step, queued behind earlier steps. `make` is called when the step's turn
   * comes (so a label may depend on details still loading) and gives the labels to set and what they are
   * about, or null for nothing to do. Resolves with the step (or null); rejects with the API's error, and
   * nothing is recorded then.
   */
  apply(make: () => Promise<Step | null> | Step | null): Promise<Decision | null> {
    return this.inOrder(async () => {
      const step = await make();
      if (!step) return null;
      const before = await api.setLabels(step.changes);
      const decision: Decision = { ...step.about, after: step.changes, before };
      this.done = [...this.done, decision];
      this.undone = [];
      if (step.about.kind === 'review') this.firstReviewAt ??= performance.now();
      return decision;
    });
  }

  /** Undoes the last step (queued behind earlier ones); resolves with it, or null when there is none. */
  undo(): Promise<Decision | null> {
    return this.#travel(true);
  }

  /** Redoes the last undone step (queued behind earlier ones); resolves with it, or null when there is none. */
  redo(): Promise<Decision | null> {
    return this.#travel(false);
  }

  /** Writes the labels before (undo) or after (redo) the step at the top of its stack, and moves it to the other. */
  #travel(back: boolean): Promise<Decision | null> {
    return this.inOrder(async () => {
      const step = (back ? this.done : this.undone).at(-1);
      if (!step) return null;
      await api.setLabels(back ? step.before : step.after);
      const [from, to] = back ? (['done', 'undone'] as const) : (['undone', 'done'] as const);
      this[from] = this[from].slice(0, -1);
      this[to] = [...this[to], step];
      if (!back) this.#say(`Redid: ${decisionSubject(step)} to ${decisionCategory(step)}`);
      else if (step.after.length > 1) this.#say(`Undid: ${decisionSubject(step)} back to their earlier categories`);
      else this.#say(`Undid: ${decisionSubject(step)} back to ${categoryName(step.before[0]?.label)}`);
      return step;
    });
  }

  #say(text: string) {
    this.toast = text;
    clearTimeout(this.#toastTimer);
    this.#toastTimer = setTimeout(() => (this.toast = null), 4000);
  }
}

// eslint-disable-next-line svelte/prefer-svelte-reactivity -- a registry of stores; each store is reactive itself
const histories = new Map<string, DecisionHistory>();

/** The history of the catalog at `catalogFile` (its path), made on first use and kept for the app session. */
export function historyFor(catalogFile: string): DecisionHistory {
  let history = histories.get(catalogFile);
  if (!history) {
    history = new DecisionHistory();
    histories.set(catalogFile, history);
  }
  return history;
}
