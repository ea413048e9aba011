/**
 * The attribution queue: persisted in the store, worked off by one worker thread, never in the
 * request path.
 *
 *   completion ends ─▶ enqueue(): text + queue entry in one transaction        (back-pressure: past
 *                       │                                                        maxQueue the text is kept,
 *                       ▼                                                        not queued → on demand)
 *   pump(): claim the lowest seq ─▶ worker thread: Attributor.attribute(id) ─▶ complete(): record,
 *                                                                               weights, row stats, flags
 *   restart: running → queued, pump again (resumes where it stopped)
 *   on demand (an old inference, or one dropped by back-pressure): enqueue at the front, wait
 *
 * A failure is retried (3 attempts), then the entry is `failed` with the error; a crashed worker
 * thread is replaced on the next pump. While serving has work, the thread keeps to a duty cycle
 * (config.busyDuty, default 10%): answers come first, the backlog drains when the node is quiet.
 */
import { Worker } from 'node:worker_threads';
import type { Db } from '../store/index.ts';
import { OpenLedgerError, notFound } from '../util/errors.ts';
import type { AttributionConfig } from './config.ts';
import type { AttributionOutcome, Attributor } from './attribute.ts';
import { AttributionRepo, type InferenceText } from './repo.ts';

export interface EnqueueInput {
  inferenceId: string;
  model: string;
  base: string;
  fineTunedModel?: string | null;
  adapters?: Array<{ model: string; weight: number }>;
  caller?: string | null;
  prompt: string;
  completion: string;
}

export interface QueueOptions {
  db: Db;
  dataDir: string;
  config: AttributionConfig;
  /** Run in this thread with this attributor (tests); default: a worker thread. */
  inline?: Attributor;
  /** True while serving has work (running or waiting sequences): attribution then keeps to config.busyDuty of its thread. */
  busy?: () => boolean;
  log?: (msg: string) => void;
}

const MAX_ATTEMPTS = 3;
const MAX_TEXT = 256 * 1024;
const WORKER = new URL('./worker.mjs', import.meta.url);

export class AttributionQueue {
  readonly repo: AttributionRepo;
  private worker: Worker | null = null;
  private busy: string | null = null;
  private closed = false;
  private nextAllowedAt = 0;
  private deferred: ReturnType<typeof setTimeout> | null = null;
  private readonly waiters = new Map<string, Array<() => void>>();

  constructor(private readonly o: QueueOptions) {
    this.repo = new AttributionRepo(o.db);
  }

  /** Resume after a restart. */
  start(): void {
    const n = this.repo.requeueRunning();
    if (n) this.o.log?.(`attribution: resuming ${n} interrupted job(s)`);
    this.pump();
  }

  /** Called when a completion ends (the attribution hook). Never throws into the request path. */
  enqueue(input: EnqueueInput): { queued: boolean; reason?: string } {
    try {
      const stored = this.repo.insertInference({
        id: input.inferenceId, model: input.model, base: input.base, fineTunedModel: input.fineTunedModel ?? null, adapters: input.adapters ?? [],
        caller: input.caller ?? null, prompt: input.prompt.slice(0, MAX_TEXT), completion: input.completion.slice(0, MAX_TEXT),
      });
      if (!stored) return { queued: false, reason: 'duplicate inference id' };
      const backlog = this.repo.queued();
      if (backlog >= this.o.config.maxQueue) {
        this.o.log?.(`attribution: backlog full (${backlog}); ${input.inferenceId} kept for on-demand attribution`);
        return { queued: false, reason: `attribution backlog full (${backlog} queued)` };
      }
      this.repo.enqueue(input.inferenceId);
      this.pump();
      return { queued: true };
    } catch (e) {
      this.o.log?.(`attribution: could not queue ${input.inferenceId}: ${(e as Error).message}`);
      return { queued: false, reason: (e as Error).message };
    }
  }

  /** Attribute now (front of the queue) and wait up to waitMs; null when it is still running. */
  async attributeNow(id: string, waitMs: number): Promise<'done' | 'failed' | 'pending'> {
    if (!this.repo.inference(id)) throw notFound(`no inference ${id} on this node`, { param: 'id', code: 'inference_not_found', hint: 'use the `id` of a completion this node answered' });
    const e = this.repo.entry(id);
    if (e?.status === 'done' && this.repo.record(id)) return 'done';
    if (e?.status !== 'running') this.repo.enqueue(id, true); // queued ones move to the front
    const done = new Promise<void>((r) => { const l = this.waiters.get(id) ?? []; l.push(r); this.waiters.set(id, l); });
    this.pump();
    await Promise.race([done, new Promise((r) => setTimeout(r, waitMs).unref())]);
    const after = this.repo.entry(id);
    return after?.status === 'done' ? 'done' : after?.status === 'failed' ? 'failed' : 'pending';
  }

  stats() {
    return { ...this.repo.queueStats(), busy: this.busy, max_queue: this.o.config.maxQueue };
  }

  /** Resolves when nothing is queued or running (tests, shutdown). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const t0 = Date.now();
    while (this.busy || this.repo.queueStats().queued > 0) {
      if (Date.now() - t0 > timeoutMs) throw new Error('attribution queue did not drain');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Replace the worker thread (its caches go: feature files and span indexes are re-opened and re-verified). */
  async restartWorker(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) { w.removeAllListeners('exit'); await w.terminate(); }
    if (this.busy) { const id = this.busy; this.busy = null; this.repo.fail(id, { message: 'the attribution thread was restarted', code: 'attribution_thread_restarted' }, true); }
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.deferred) { clearTimeout(this.deferred); this.deferred = null; }
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    // What was running stays `running` in the store; start() requeues it.
  }

  private pump(): void {
    if (this.closed || this.busy) return;
    // While serving is busy, a job starts only after the rest its predecessor earned (duty cycle),
    // so a burst of answers is not slowed by the attribution of the previous ones.
    const wait = this.nextAllowedAt - performance.now();
    if (wait > 0 && this.o.busy?.()) {
      if (!this.deferred) this.deferred = setTimeout(() => { this.deferred = null; this.pump(); }, Math.min(wait, 10_000));
      this.deferred.unref?.();
      return;
    }
    const next = this.repo.claimNext();
    if (!next) return;
    this.busy = next.inferenceId;
    const id = next.inferenceId;
    const started = performance.now();
    const finish = (ok: AttributionOutcome | null, err: OpenLedgerError | null) => {
      if (this.busy !== id) return;
      this.busy = null;
      try {
        if (ok) {
          const flagged = this.repo.complete(id, { method: ok.method, methodVersion: ok.record.method.version, record: ok.record, weights: ok.weights, rowStats: ok.rowStats }, { minEvidence: this.o.config.flagMinEvidence, share: this.o.config.flagShare });
          for (const l of ok.logs) this.o.log?.(l);
          for (const f of flagged) this.o.log?.(`attribution: row ${f} flagged (consistently negative influence); it stops earning`);
        } else if (err) {
          const retry = next.attempts < MAX_ATTEMPTS && err.type === 'internal_error';
          this.repo.fail(id, { message: err.message, code: err.code, hint: err.hint }, retry);
          this.o.log?.(`attribution: ${id} ${retry ? 'will be retried' : 'failed'}: ${err.message}`);
        }
      } catch (e) {
        this.o.log?.(`attribution: could not record ${id}: ${(e as Error).message}`);
      }
      for (const r of this.waiters.get(id) ?? []) r();
      this.waiters.delete(id);
      // Duty cycle: after t ms of work, the next job may start while serving is busy only t·(1/duty − 1) ms later.
      const duty = this.o.config.busyDuty;
      this.nextAllowedAt = performance.now() + (duty < 1 ? (performance.now() - started) * (1 / duty - 1) : 0);
      setImmediate(() => this.pump());
    };
    if (this.o.inline) {
      this.o.inline.attribute(id).then((r) => finish(r, null), (e) => finish(null, asError(e)));
      return;
    }
    const w = this.ensureWorker();
    const onMsg = (m: { type: 'done'; id: string; outcome: AttributionOutcome } | { type: 'error'; id: string; error: { message: string; type: string; code: string | null; hint?: string } }) => {
      if (m.id !== id) return;
      w.off('message', onMsg);
      w.off('exit', onExit);
      if (m.type === 'done') finish(m.outcome, null);
      else finish(null, new OpenLedgerError(m.error.message, { type: m.error.type as 'internal_error', code: m.error.code ?? 'internal_error', hint: m.error.hint }));
    };
    const onExit = (code: number) => {
      w.off('message', onMsg);
      if (this.worker === w) this.worker = null;
      if (!this.closed) finish(null, new OpenLedgerError(`the attribution thread exited with code ${code}`, { type: 'internal_error', code: 'attribution_thread_failed' }));
    };
    w.on('message', onMsg);
    w.once('exit', onExit);
    w.postMessage({ type: 'attribute', id });
  }

  private ensureWorker(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER, { workerData: { dbPath: this.o.db.name, dataDir: this.o.dataDir, config: this.o.config } });
      this.worker.unref();
      this.worker.on('error', (e) => this.o.log?.(`attribution: thread error: ${e.message}`));
    }
    return this.worker;
  }
}

function asError(e: unknown): OpenLedgerError {
  if (e instanceof OpenLedgerError) return e;
  return new OpenLedgerError((e as Error)?.message ?? String(e), { type: 'internal_error', code: 'internal_error' });
}

export type { InferenceText };
