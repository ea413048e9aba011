/**
 * A pool of kernel workers sharing the engine heap's memory. `run(op, args, parts)` is
 * synchronous: it posts the job, lets the caller compute part 0 through `self`, and blocks with
 * Atomics.wait until every worker has reported. Workers are unref'd (they never keep the process
 * alive) and `close()` stops them.
 *
 * Workers boot asynchronously (≈30–60 ms); until all have announced READY, jobs run on the caller
 * alone, so a call never waits on a worker that is still starting.
 */
import { Worker } from 'node:worker_threads';
import { OpenLedgerError } from '../../../util/errors.ts';
import { CTL, OP } from './protocol.ts';

export interface PoolOptions {
  /** Worker threads (the caller is one more). */
  workers: number;
  /** Atomics.load polls a worker makes before sleeping after a job (≈2 ns each). */
  spin: number;
}

export class WorkerPool {
  readonly ctl: Int32Array;
  private readonly workers: Worker[] = [];
  private ready = false;
  private closed = false;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, opts: PoolOptions) {
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL.SIZE * 4));
    for (let i = 0; i < Math.min(opts.workers, 64); i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { module, memory, ctl: this.ctl.buffer, index: i, spin: opts.spin },
        execArgv: [], // plain JS: no tsx loader in workers
      });
      w.unref();
      w.on('error', (e) => {
        console.warn(`engine kernels: worker ${i} failed: ${e.message}`);
      });
      this.workers.push(w);
    }
  }

  /** Workers that can take a part now (0 while they boot or after close). */
  get available(): number {
    if (this.closed) return 0;
    if (!this.ready) {
      for (let i = 0; i < this.workers.length; i++) if (Atomics.load(this.ctl, CTL.READY + i) !== 1) return 0;
      this.ready = true;
    }
    return this.workers.length;
  }

  /** Block until every worker is ready (or `timeoutMs` passes). True when all are ready. */
  waitReady(timeoutMs = 10_000): boolean {
    const end = Date.now() + timeoutMs;
    for (let i = 0; i < this.workers.length; i++) {
      while (Atomics.load(this.ctl, CTL.READY + i) !== 1) {
        const left = end - Date.now();
        if (left <= 0) return false;
        Atomics.wait(this.ctl, CTL.READY + i, 0, Math.min(left, 50));
      }
    }
    return this.available > 0 || this.workers.length === 0;
  }

  /**
   * Run one job over `parts` = 1 + workers parts; `self(part0)` computes the caller's share.
   * `args` go to ARGS..; the workers derive their ranges from them (worker.js).
   */
  run(op: number, args: number[], self: () => void): void {
    const ctl = this.ctl;
    const nw = this.workers.length;
    for (let i = 0; i < args.length; i++) ctl[CTL.ARGS + i] = args[i];
    ctl[CTL.OP] = op;
    ctl[CTL.PARTS] = nw + 1;
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);
    let err: unknown = null;
    try {
      self();
    } catch (e) {
      err = e;
    }
    let d = Atomics.load(ctl, CTL.DONE);
    for (let i = 0; d < nw && i < 20000; i++) d = Atomics.load(ctl, CTL.DONE);
    while (d < nw) {
      Atomics.wait(ctl, CTL.DONE, d, 1000);
      d = Atomics.load(ctl, CTL.DONE);
    }
    if (err) throw err;
    const werr = Atomics.exchange(ctl, CTL.ERR, 0);
    if (werr) {
      throw new OpenLedgerError(`engine kernel worker ${werr - 1} trapped (op ${op})`, {
        type: 'internal_error',
        code: 'kernel_trap',
        hint: 'a kernel read outside the heap: check tensor shapes against the weight (rows, cols)',
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctl[CTL.OP] = OP.EXIT;
    Atomics.add(this.ctl, CTL.SEQ, 1);
    Atomics.notify(this.ctl, CTL.SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
