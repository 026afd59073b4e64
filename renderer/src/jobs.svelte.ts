import type { ImportStatus, ImproveStatus, JobKind, JobUpdate, SortStatus } from '../../contract/api.ts';
import { api } from './api.ts';

/**
 * The latest status of each background job (null before its first this session), as the main process pushes
 * it over one channel: every component reads these, none asks the services. Each status is a snapshot that an
 * update replaces whole, so the fields are raw state.
 */
class JobStatusStore {
  import = $state.raw<ImportStatus | null>(null);
  improve = $state.raw<ImproveStatus | null>(null);
  sort = $state.raw<SortStatus | null>(null);
}

export const jobs = new JobStatusStore();

// eslint-disable-next-line svelte/prefer-svelte-reactivity -- listeners, not state
const watchers = new Set<(update: JobUpdate) => void>();
/** The kinds that have had an update since the page loaded: newer than any status asked for below. */
// eslint-disable-next-line svelte/prefer-svelte-reactivity -- read once per getter's answer, not rendered
const pushed = new Set<JobKind>();

api.onJobUpdate((update) => {
  pushed.add(update.kind);
  (jobs as Record<JobKind, JobUpdate['status'] | null>)[update.kind] = update.status;
  for (const watcher of watchers) watcher(update);
});

// A job that started before this page loaded (the window was reloaded): its status now, unless an update came first.
const statuses = { import: api.importStatus, improve: api.improveStatus, sort: api.sortStatus };
for (const kind of Object.keys(statuses) as JobKind[]) {
  void statuses[kind]().then((status) => {
    if (!pushed.has(kind)) (jobs as Record<JobKind, JobUpdate['status'] | null>)[kind] = status;
  });
}

/** Calls `watcher` with every job update from now on (not with the statuses the page found); returns the function that stops it. */
export function watchJobs(watcher: (update: JobUpdate) => void): () => void {
  watchers.add(watcher);
  return () => void watchers.delete(watcher);
}
