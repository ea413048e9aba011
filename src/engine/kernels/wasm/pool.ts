/**
 * A pool of kernel workers sharing the engine heap's memory. `run(op, args, chunks, chunk)` is
 * synchronous: it posts the job, claims chunks on the calling thread too (`chunk(c)`), and then
 * blocks with Atomics.wait until every claimed chunk is finished (protocol.ts). Workers are
 * unref'd (they never keep the process alive) and `close()` stops them.
 *
 * Workers boot asynchronously (≈30–60 ms); until then the caller simply claims every chunk.
 */
import { Worker } from 'node:worker_threads';
import { OpenLedgerError } from '../../../util/errors.ts';
import { CTL, MAX_CHUNKS, OP } from './protocol.ts';

/** Jobs run on the caller alone after the contention guard trips (≈ one decode step of a small model). */
const SOLO_JOBS = 256;

export interface PoolOptions {
  /** Worker threads (the caller is one more). */
  workers: number;
  /** Atomics.load polls a worker makes before sleeping after a job. */
  spin: number;
  /** Contention guard on (default) or off (tests that must exercise the workers). */
  adaptive?: boolean;
}

export class WorkerPool {
  readonly ctl: Int32Array;
  readonly size: number;
  private readonly workers: Worker[] = [];
  private closed = false;
  // Contention guard: moving averages of the caller's own work and of its wait for workers'
  // claimed chunks per job. Waiting longer than working means the OS is not running the workers
  // promptly (a shared machine): then the next SOLO_JOBS jobs run on the caller alone, which is
  // faster, and threading is probed again after them.
  private avgWork = 0;
  private avgWait = 0;
  private solo = 0;
  private readonly adaptive: boolean;
  /** Counters for benchmarks: jobs posted, jobs run on the caller alone, ms the caller waited. */
  readonly stats = { jobs: 0, soloJobs: 0, waitMs: 0, workMs: 0 };

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, opts: PoolOptions) {
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL.SIZE * 4));
    this.size = Math.min(opts.workers, 64);
    this.adaptive = opts.adaptive ?? true;
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { module, memory, ctl: this.ctl.buffer, index: i, spin: opts.spin },
        execArgv: [], // plain JS: no tsx loader in workers
      });
      w.unref();
      w.on('error', (e) => console.warn(`engine kernels: worker ${i} failed: ${e.message}`));
      this.workers.push(w);
    }
  }

  /** Block until every worker has started (or `timeoutMs` passes). True when all are up. */
  waitReady(timeoutMs = 10_000): boolean {
    const end = Date.now() + timeoutMs;
    for (let i = 0; i < this.size; i++) {
      while (Atomics.load(this.ctl, CTL.READY + i) !== 1) {
        const left = end - Date.now();
        if (left <= 0) return false;
        Atomics.wait(this.ctl, CTL.READY + i, 0, Math.min(left, 50));
      }
    }
    return true;
  }

  /** Post a job of `chunks` chunks; `chunk(c)` runs chunk c on the calling thread. */
  run(op: number, args: readonly number[], chunks: number, chunk: (c: number) => void): void {
    const ctl = this.ctl;
    if (this.closed) throw new Error('engine kernels: pool is closed');
    if (!(chunks >= 1 && chunks <= MAX_CHUNKS)) throw new RangeError(`pool.run: ${chunks} chunks`);
    this.stats.jobs++;
    if (this.solo > 0) {
      this.solo--;
      this.stats.soloJobs++;
      for (let c = 0; c < chunks; c++) chunk(c);
      return;
    }
    const t0 = performance.now();
    Atomics.store(ctl, CTL.NEXT, 0);
    for (let i = 0; i < args.length; i++) ctl[CTL.ARGS + i] = args[i];
    Atomics.store(ctl, CTL.OP, op);
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.store(ctl, CTL.NEXT, chunks << 16);
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);
    let err: unknown = null;
    for (;;) {
      const c = Atomics.add(ctl, CTL.NEXT, 1) & 0xffff;
      if (c >= chunks) break;
      try {
        chunk(c);
      } catch (e) {
        err ??= e;
      }
      Atomics.add(ctl, CTL.DONE, 1);
    }
    // Wait for chunks that workers claimed and are still running.
    const t1 = performance.now();
    let d = Atomics.load(ctl, CTL.DONE);
    for (let i = 0; d < chunks && i < 10000; i++) d = Atomics.load(ctl, CTL.DONE);
    while (d < chunks) {
      Atomics.wait(ctl, CTL.DONE, d, 100);
      d = Atomics.load(ctl, CTL.DONE);
    }
    const t2 = performance.now();
    this.stats.workMs += t1 - t0;
    this.stats.waitMs += t2 - t1;
    this.avgWork += 0.1 * (t1 - t0 - this.avgWork);
    this.avgWait += 0.1 * (t2 - t1 - this.avgWait);
    if (this.adaptive && this.avgWait > this.avgWork && this.avgWait > 0.02) {
      this.solo = SOLO_JOBS;
      this.avgWork = this.avgWait = 0;
    }
    if (err) throw err;
    const werr = Atomics.exchange(ctl, CTL.ERR, 0);
    if (werr) {
      throw new OpenLedgerError(`engine kernel thread ${werr - 1} trapped (op ${op})`, {
        type: 'internal_error',
        code: 'kernel_trap',
        hint: 'a kernel read outside the heap: check tensor shapes against the weight (rows, cols)',
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, CTL.NEXT, 0);
    Atomics.store(this.ctl, CTL.OP, OP.EXIT);
    Atomics.add(this.ctl, CTL.SEQ, 1);
    Atomics.notify(this.ctl, CTL.SEQ);
    for (const w of this.workers) void w.terminate();
  }
}
