import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { JobManager, pacer, type JobRun } from '../electron/jobs/jobManager.ts';

interface CountStatus {
  running: boolean;
  phase: 'counting' | 'done' | 'cancelled' | 'failed';
  done: number;
  problem: string | null;
}
interface Kinds {
  count: CountStatus;
  other: CountStatus;
}

const BUSY = { count: 'counting is running', other: 'the other job is running' };
const INTERVAL_MS = 40;
const initial = { phase: 'counting', done: 0, problem: null } as const;
const failure = (err: Error, cancelled: boolean): Partial<CountStatus> =>
  cancelled ? { phase: 'cancelled' } : { phase: 'failed', problem: err.message };

/** A manager whose updates are recorded; `hold` gives each started job's run and a way to end it. */
function setUp() {
  const jobs = new JobManager<Kinds>(BUSY, { intervalMs: INTERVAL_MS });
  const updates: { kind: string; status: CountStatus; at: number }[] = [];
  const stop = jobs.subscribe((update) => updates.push({ ...update, at: performance.now() }));
  /** Work that waits until `end` is called (or its signal aborts), reporting nothing by itself. */
  const hold = () => {
    let run!: JobRun<CountStatus>;
    let end!: (result: Partial<CountStatus> | Error) => void;
    const work = (r: JobRun<CountStatus>) =>
      new Promise<Partial<CountStatus>>((resolve, reject) => {
        run = r;
        end = (result) => (result instanceof Error ? reject(result) : resolve(result));
        r.signal.addEventListener('abort', () => reject(new Error('aborted')));
      });
    return { work, run: () => run, end: (result: Partial<CountStatus> | Error) => end(result) };
  };
  /** Resolves with the job's last status once it has ended (without cancelling it). */
  const ended = (kind: keyof Kinds) =>
    new Promise<CountStatus>((resolve) => {
      const unsubscribe = jobs.subscribe((update) => {
        if (update.kind !== kind || update.status.running) return;
        unsubscribe();
        resolve(update.status);
      });
    });
  return { jobs, updates, stop, hold, ended };
}

test('a job starts, reports progress at most once per interval, and finishes with its result, each pushed to subscribers', async () => {
  const { jobs, updates, hold, ended } = setUp();
  assert.equal(jobs.snapshot('count'), null, 'no job yet');
  const job = hold();
  const started = jobs.start('count', initial, job.work, failure);
  assert.deepEqual(started, { ...initial, running: true });
  assert.deepEqual(
    updates.map((u) => [u.kind, u.status.phase, u.status.running]),
    [['count', 'counting', true]],
    'the start is pushed at once',
  );

  // Three reports in a row: one push, with the last of them, after the interval.
  const reportedAt = performance.now();
  for (const done of [1, 2, 3]) job.run().progress({ done });
  assert.equal(updates.length, 1, 'progress is not pushed synchronously');
  assert.equal(jobs.snapshot('count')!.done, 3, 'a snapshot shows progress at once');
  await delay(INTERVAL_MS * 3);
  assert.deepEqual(
    updates.slice(1).map((u) => u.status.done),
    [3],
  );
  assert.ok(
    updates[1]!.at - reportedAt >= INTERVAL_MS - 2,
    `pushed ${updates[1]!.at - reportedAt} ms after the report`,
  );

  // A snapshot is a copy: changing it changes nothing.
  jobs.snapshot('count')!.done = 99;
  assert.equal(jobs.snapshot('count')!.done, 3);

  job.run().progress({ done: 4 });
  const last = ended('count');
  job.end({ phase: 'done', done: 5 });
  assert.deepEqual(await last, { running: false, phase: 'done', done: 5, problem: null });
  await jobs.cancel('count'); // nothing to cancel once it has ended
  assert.deepEqual(jobs.snapshot('count'), { running: false, phase: 'done', done: 5, problem: null });
  assert.deepEqual(
    updates.at(-1)!.status,
    { running: false, phase: 'done', done: 5, problem: null },
    'the end is pushed at once',
  );
  const count = updates.length;
  await delay(INTERVAL_MS * 2);
  assert.equal(updates.length, count, 'no progress push after the end (the pending one was folded into it)');
  job.run().progress({ done: 6 });
  assert.equal(jobs.snapshot('count')!.done, 5, 'a late report from an ended job changes nothing');
});

test("while a job runs, a second start of any kind is refused with the running job's message; once it ends, another starts", async () => {
  const { jobs, hold, ended } = setUp();
  const first = hold();
  jobs.start('count', initial, first.work, failure);
  const second = hold();
  assert.throws(() => jobs.start('count', initial, second.work, failure), { message: BUSY.count });
  assert.throws(() => jobs.start('other', initial, second.work, failure), { message: BUSY.count });
  assert.throws(() => jobs.assertIdle(), { message: BUSY.count });
  assert.equal(jobs.snapshot('other'), null, 'the refused job never started');
  const firstEnded = ended('count');
  first.end({ phase: 'done' });
  await firstEnded;
  jobs.assertIdle();
  jobs.start('other', initial, second.work, failure);
  assert.throws(() => jobs.start('count', initial, hold().work, failure), { message: BUSY.other });
  const secondEnded = ended('other');
  second.end({ phase: 'done' });
  await secondEnded;
  await jobs.cancelAll();
  assert.deepEqual([jobs.snapshot('count')!.phase, jobs.snapshot('other')!.phase], ['done', 'done']);
});

test("cancelling aborts the work's signal and resolves once the job has ended cancelled", async () => {
  const { jobs, updates, hold } = setUp();
  const job = hold();
  jobs.start('count', initial, job.work, failure);
  job.run().progress({ done: 2 });
  await jobs.cancel('count');
  assert.ok(job.run().signal.aborted);
  assert.deepEqual(jobs.snapshot('count'), { running: false, phase: 'cancelled', done: 2, problem: null });
  assert.deepEqual(updates.at(-1)!.status, jobs.snapshot('count'));
});

test('a job that fails (a rejection, or a throw before its first await) ends failed with why; a subscriber that throws does not stop the others', async (t) => {
  const { jobs, updates, hold, stop, ended } = setUp();
  const job = hold();
  jobs.start('count', initial, job.work, failure);
  const failed = ended('count');
  job.end(new Error('the disk is full'));
  await failed;
  assert.deepEqual(jobs.snapshot('count'), { running: false, phase: 'failed', done: 0, problem: 'the disk is full' });
  assert.equal(updates.at(-1)!.status.phase, 'failed');

  const errors = t.mock.method(console, 'error', () => undefined);
  const unsubscribe = jobs.subscribe(() => {
    throw new Error('the window is gone');
  });
  const thrown = ended('other');
  jobs.start(
    'other',
    initial,
    () => {
      throw new Error('no such folder');
    },
    failure,
  );
  await thrown;
  assert.deepEqual(jobs.snapshot('other'), { running: false, phase: 'failed', done: 0, problem: 'no such folder' });
  assert.deepEqual(
    updates.slice(-2).map((u) => [u.kind, u.status.running]),
    [
      ['other', true],
      ['other', false],
    ],
    'the first subscriber heard both',
  );
  assert.equal(errors.mock.callCount(), 2);
  assert.match(
    String(errors.mock.calls[0]!.arguments[0]),
    /^the other job's update could not be delivered: the window is gone$/,
  );

  // Unsubscribed listeners hear nothing more.
  unsubscribe();
  stop();
  const count = updates.length;
  const last = hold();
  jobs.start('count', initial, last.work, failure);
  last.end({ phase: 'done' });
  await jobs.cancelAll();
  assert.equal(updates.length, count);
  assert.equal(errors.mock.callCount(), 2);
});

test('pacer: the time left is the work left at the pace since the phase’s first report', () => {
  let ms = 1000;
  const pace = pacer(() => ms);
  // No pace before any work is done since the first report.
  assert.deepEqual(pace(10, 110), { progress: { done: 10, total: 110 }, etaSeconds: null });
  ms += 4000;
  // 20 units in 4 s: 5 per second, so the 80 left take 16 s.
  assert.deepEqual(pace(30, 110), { progress: { done: 30, total: 110 }, etaSeconds: 16 });
  ms += 2000;
  assert.deepEqual(pace(110, 110), { progress: { done: 110, total: 110 }, etaSeconds: 0 });
});
