/**
 * The one background-job model (import, improve, sort): a job starts, reports progress, is cancelled, finishes
 * or fails; one runs at a time of each kind, and none while another runs (they all change the catalog or its
 * files). Its status is a plain object the window reads as a snapshot and hears of through subscribe(), as
 * Podman Desktop's task manager pushes task updates.
 */

/** What every job's status holds; each kind adds its own fields (phase, counts, result, problem). */
export interface JobState {
  running: boolean;
}

/** What a job's work sees of its run. */
export interface JobRun<S extends JobState> {
  /** Aborted when the job is cancelled (or the services close). */
  readonly signal: AbortSignal;
  /** The status as it is now. */
  readonly status: Readonly<S>;
  /** Merges `patch` into the status; subscribers hear of it within the manager's push interval. */
  progress(patch: Partial<S>): void;
}

/**
 * A job's body: resolves to the fields its finished status changes (or nothing), rejects when it fails or is
 * cancelled.
 */
export type JobWork<S extends JobState> = (run: JobRun<S>) => Promise<Partial<S> | void>;

/** The status fields after the work rejected: `cancelled` when the job had been cancelled. */
export type JobFailure<S extends JobState> = (err: Error, cancelled: boolean) => Partial<S>;

/** One update per change of a job's status: `{ kind, status }`, the status a snapshot. */
export type JobUpdateOf<M extends { [K in keyof M]: JobState }> = {
  [K in keyof M & string]: { kind: K; status: M[K] };
}[keyof M & string];

interface Running<S extends JobState> {
  status: S;
  cancel: AbortController;
  finished: Promise<void>;
  /** A progress push waiting for the interval to pass. */
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * How often progress reaches subscribers at most, ms: the window's progress bars move four times a second;
 * a job's start and end reach them at once.
 */
export const PUSH_INTERVAL_MS = 250;

/**
 * A progress reporter for one phase of a job: called with units `done` of `total`, it gives them back with the
 * seconds left at the pace since its first call (null until some work is done: no pace yet). A new phase
 * takes a new one.
 */
export function pacer(now = () => performance.now()): (
  done: number,
  total: number,
) => {
  progress: { done: number; total: number };
  etaSeconds: number | null;
} {
  let start: { at: number; done: number } | undefined;
  return (done, total) => {
    start ??= { at: now(), done };
    const rate = (done - start.done) / ((now() - start.at) / 1000);
    return {
      progress: { done, total },
      etaSeconds: done >= total ? 0 : rate > 0 && Number.isFinite(rate) ? (total - done) / rate : null,
    };
  };
}

/**
 * The jobs of the kinds in M (kind → status type). `busy` says, for each kind, why another job cannot start
 * while one of that kind runs ('an import is running; …').
 */
export class JobManager<M extends { [K in keyof M]: JobState }> {
  readonly #busy: Record<keyof M & string, string>;
  readonly #intervalMs: number;
  readonly #jobs: { [K in keyof M]?: Running<M[K]> } = {};
  readonly #listeners = new Set<(update: JobUpdateOf<M>) => void>();

  constructor(busy: Record<keyof M & string, string>, options: { intervalMs?: number } = {}) {
    this.#busy = busy;
    this.#intervalMs = options.intervalMs ?? PUSH_INTERVAL_MS;
  }

  /** Throws the running job's `busy` message if any job runs. */
  assertIdle(): void {
    for (const kind of Object.keys(this.#busy) as (keyof M & string)[]) {
      if (this.#jobs[kind]?.status.running) throw new Error(this.#busy[kind]);
    }
  }

  /**
   * Starts a job of `kind` with status `initial` (running: true added) and runs `work` in the background; throws
   * (the busy message) while any job runs. Returns the first status's snapshot; subscribers hear of it at once.
   * The job's last status (running: false) is `work`'s result or `failure`'s merged in.
   */
  start<K extends keyof M & string>(
    kind: K,
    initial: Omit<M[K], 'running'>,
    work: JobWork<M[K]>,
    failure: JobFailure<M[K]>,
  ): M[K] {
    this.assertIdle();
    const cancel = new AbortController();
    const job: Running<M[K]> = { status: { ...initial, running: true } as M[K], cancel, finished: Promise.resolve() };
    this.#jobs[kind] = job;
    const run: JobRun<M[K]> = {
      signal: cancel.signal,
      status: job.status,
      progress: (patch) => {
        if (!job.status.running) return; // a late report from a job that has ended changes nothing
        Object.assign(job.status, patch);
        job.timer ??= setTimeout(() => this.#push(kind, job), this.#intervalMs);
      },
    };
    this.#push(kind, job);
    // Started here and now, as a plain call would be; a synchronous throw fails the job like a rejection.
    job.finished = new Promise<Partial<M[K]> | void>((resolve) => resolve(work(run)))
      .then(
        (last) => void Object.assign(job.status, last),
        (err: Error) => void Object.assign(job.status, failure(err, cancel.signal.aborted)),
      )
      .finally(() => {
        job.status.running = false;
        this.#push(kind, job);
      });
    return { ...job.status };
  }

  /** The latest status of the last job of `kind` (a copy), or null when none has started. */
  snapshot<K extends keyof M & string>(kind: K): M[K] | null {
    const job = this.#jobs[kind];
    return job ? { ...job.status } : null;
  }

  /** Cancels the job of `kind` if it runs; resolves once it has ended. */
  async cancel(kind: keyof M & string): Promise<void> {
    const job = this.#jobs[kind];
    job?.cancel.abort();
    await job?.finished;
  }

  /** Cancels every running job; resolves once all have ended. */
  async cancelAll(): Promise<void> {
    await Promise.all((Object.keys(this.#busy) as (keyof M & string)[]).map((kind) => this.cancel(kind)));
  }

  /** Calls `listener` with every update of every job from now on; returns the function that stops it. */
  subscribe(listener: (update: JobUpdateOf<M>) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Tells every subscriber the job's status now; one that throws is reported and the others still hear. */
  #push<K extends keyof M & string>(kind: K, job: Running<M[K]>): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    for (const listener of this.#listeners) {
      try {
        listener({ kind, status: { ...job.status } } as JobUpdateOf<M>);
      } catch (err) {
        console.error(`the ${kind} job's update could not be delivered: ${(err as Error).message}`);
      }
    }
  }
}
