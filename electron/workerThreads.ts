import path from 'node:path';
import { parentPort, Worker } from 'node:worker_threads';

/**
 * Starts a worker thread from a sibling module named like the caller's own file type: `.js` in the
 * built app, `.ts` under tsx (CLI, tests). Node 20 does not apply `--import tsx` to a worker's entry,
 * so for `.ts` a tiny bootstrap registers tsx first and then imports the module. tsx is found from this
 * file, not from the bootstrap: evaluated code resolves bare names from the working folder, which may be
 * any folder the command was started in.
 */
export function startWorker(callerUrl: string, baseName: string): Worker {
  const ext = path.extname(new URL(callerUrl).pathname);
  const url = new URL(`./${baseName}${ext}`, callerUrl);
  if (ext !== '.ts') return new Worker(url);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

type Tagged = { type: string };
/**
 * What a worker answers when a request throws; the client turns it into a rejected promise whose message
 * is the error's own (what a person reads) and whose stack keeps the worker's (for debugging).
 */
export type ErrorReply = { type: 'error'; message: string; stack: string | undefined };

/** The main-thread side of a worker that answers requests: each request carries an id, its reply the same id. */
export class WorkerClient<Request extends Tagged, Reply extends Tagged> {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  /** Set once the worker has died; later calls fail at once instead of waiting forever. */
  private death: Error | undefined;

  constructor(
    callerUrl: string,
    baseName: string,
    private readonly what: string,
  ) {
    this.worker = startWorker(callerUrl, baseName);
    this.worker.on('message', (reply: (Reply | ErrorReply) & { id: number }) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === 'error') {
        const error = new Error(`${this.what} failed: ${(reply as ErrorReply).message}`);
        error.stack = `${error.stack}\nin the worker: ${(reply as ErrorReply).stack}`;
        waiter?.reject(error);
      } else waiter?.resolve(reply as Reply);
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) => this.failAll(new Error(`${this.what} exited with code ${code}`)));
  }

  private failAll(err: Error) {
    this.death ??= err;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }

  /** Sends a request; the promise resolves with its reply. */
  call<T extends Reply['type']>(request: Request, transfer: ArrayBuffer[] = []): Promise<Extract<Reply, { type: T }>> {
    const id = this.nextId++;
    if (this.death) return Promise.reject(this.death);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: Reply) => void, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Sends a request that has no reply. */
  send(request: Request): void {
    this.worker.postMessage({ ...request, id: -1 });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * The worker side: answers every request with `handle`'s reply (none for `undefined`), and a thrown error
 * with an ErrorReply. `serial` runs requests strictly in arrival order; otherwise async handlers overlap.
 */
export function serveRequests<Request extends Tagged, Reply extends Tagged>(
  handle: (request: Request) => Promise<Reply | undefined> | Reply | undefined,
  options: { serial: boolean },
): void {
  let queue = Promise.resolve();
  parentPort!.on('message', (msg: Request & { id: number }) => {
    const answer = async () => {
      let reply: Reply | ErrorReply | undefined;
      try {
        reply = await handle(msg);
      } catch (err) {
        reply = {
          type: 'error',
          message: err instanceof Error ? err.message : String(err),
          stack: (err as Error).stack,
        };
      }
      if (reply) parentPort!.postMessage({ ...reply, id: msg.id });
    };
    if (options.serial) queue = queue.then(answer);
    else void answer();
  });
}
