/**
 * The main thread's handle on one base model's engine thread (engine-worker.ts): request/reply
 * for prepare and embed, per-request sinks for the chunks of started requests, the latest
 * counters. A thread that dies fails what it held; the scheduler starts a new one on next use.
 */
import { Worker } from 'node:worker_threads';
import type { GenerateResult, SampledToken } from '../engine/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import type { EngineThreadInit, PrepareRequest, SerializedError, ToMain, ToWorker, WorkerStats } from './engine-protocol.ts';

const WORKER = new URL('./engine-worker.mjs', import.meta.url);

export interface StreamSink {
  chunk(c: { text: string; tokens: number[]; logprobs?: SampledToken[]; texts?: Array<[number, string]> }): void;
  done(r: GenerateResult): void;
  failed(e: OpenLedgerError): void;
}

export const revive = (e: SerializedError) => {
  const { message, ...rest } = e;
  return new OpenLedgerError(message, rest as ConstructorParameters<typeof OpenLedgerError>[1]);
};

export class EngineThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly replies = new Map<number, { resolve: (m: ToMain) => void; reject: (e: OpenLedgerError) => void }>();
  private readonly sinks = new Map<number, StreamSink>();
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  dead = false;
  latest: WorkerStats | null = null;

  constructor(init: EngineThreadInit, private readonly onStats: () => void = () => {}) {
    this.worker = new Worker(WORKER, { workerData: init });
    this.worker.unref();
    this.worker.on('message', (m: ToMain) => this.onMessage(m));
    const die = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      const e = new OpenLedgerError(`the engine thread of this model stopped: ${why}`, { type: 'internal_error', code: 'engine_thread_failed', hint: 'retry: the node starts a new engine thread' });
      for (const r of this.replies.values()) r.reject(e);
      for (const s of this.sinks.values()) s.failed(e);
      this.replies.clear();
      this.sinks.clear();
      this.onClosed?.();
    };
    this.worker.on('error', (e) => die(e.message));
    this.worker.on('exit', (code) => die(`exit code ${code}`));
  }

  /** Tokenize, check and lease on the engine thread; the id to start or cancel it by. */
  async prepare(req: PrepareRequest): Promise<{ id: number; promptTokens: number; maxRunning: number }> {
    const id = this.nextId++;
    const m = await this.call({ t: 'prepare', id, req });
    if (m.t !== 'prepared') throw new Error('unexpected reply');
    return { id, promptTokens: m.promptTokens, maxRunning: m.maxRunning };
  }

  start(id: number, sink: StreamSink): void {
    if (this.dead) return sink.failed(new OpenLedgerError('the engine thread of this model stopped', { type: 'internal_error', code: 'engine_thread_failed', hint: 'retry' }));
    this.sinks.set(id, sink);
    this.post({ t: 'start', id });
  }

  cancel(id: number): void {
    if (!this.dead) this.post({ t: 'cancel', id });
  }

  async embed(inputs: Array<string | number[]>, adapterPath: string | null, modelName: string, adapterLabel?: string): Promise<{ vectors: Float32Array[]; promptTokens: number }> {
    const id = this.nextId++;
    const m = await this.call({ t: 'embed', id, inputs, adapterPath, modelName, ...(adapterLabel ? { adapterLabel } : {}) });
    if (m.t !== 'embedded') throw new Error('unexpected reply');
    return { vectors: m.vectors, promptTokens: m.promptTokens };
  }

  /** Cancel everything, free the engine, end the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.dead) {
        await new Promise<void>((resolve) => {
          this.onClosed = resolve;
          const t = setTimeout(resolve, 5000);
          t.unref();
          this.post({ t: 'close' });
        });
      }
      // Let streams that were cancelled by the close deliver their last message first.
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private call(m: Extract<ToWorker, { id: number }>): Promise<ToMain> {
    if (this.dead) return Promise.reject(new OpenLedgerError('the engine thread of this model stopped', { type: 'internal_error', code: 'engine_thread_failed', hint: 'retry' }));
    return new Promise((resolve, reject) => {
      this.replies.set(m.id, { resolve, reject });
      this.post(m);
    });
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: ToMain): void {
    switch (m.t) {
      case 'stats':
        this.latest = m.stats;
        this.onStats();
        return;
      case 'closed':
        this.onClosed?.();
        return;
      case 'prepared': case 'embedded': case 'error': {
        const r = this.replies.get(m.id);
        this.replies.delete(m.id);
        if (!r) return;
        if (m.t === 'error') r.reject(revive(m.error));
        else r.resolve(m);
        return;
      }
      case 'chunk':
        this.sinks.get(m.id)?.chunk(m);
        return;
      case 'done': case 'failed': {
        const s = this.sinks.get(m.id);
        this.sinks.delete(m.id);
        if (!s) return;
        if (m.t === 'done') s.done(m.result);
        else s.failed(revive(m.error));
        return;
      }
    }
  }
}
