import { Worker } from 'node:worker_threads';
import { OpenLedgerError, type ErrorType } from '../../util/errors.ts';
import type { DataFormat } from '../formats.ts';
import type { UploadLimits } from '../limits.ts';
import { prepareFile, prepareRows, type PreparedUpload } from '../upload.ts';

/**
 * Parsing off the event loop. A 10 MiB CSV or a long PDF takes hundreds of milliseconds of CPU to
 * parse and hash; done on the main thread it would stall every other request. The node keeps one
 * worker thread (lazily started, unref'd so it never keeps the process alive) and sends it each
 * file; jobs queue in order. If the worker cannot start, parsing falls back to the main thread.
 */
export interface ParseJob {
  id: number;
  /** Rows sent as JSON (`prepareRows`) instead of a file: hashing 100 000 of them is seconds of CPU too. */
  rows?: unknown;
  bytes: Uint8Array;
  filename: string;
  format: DataFormat;
  limits: UploadLimits;
}

export type ParseReply =
  | { id: number; ok: true; prepared: PreparedUpload }
  | {
      id: number;
      ok: false;
      error: { message: string; known: boolean; type: ErrorType; param: string | null; code: string | null; hint?: string; details?: Record<string, unknown> };
    };

export class ParsePool {
  private worker: Worker | null = null;
  private broken = false;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (p: PreparedUpload) => void; reject: (e: Error) => void }>();

  private start(): Worker | null {
    if (this.broken) return null;
    if (this.worker) return this.worker;
    try {
      const w = new Worker(new URL('./worker-boot.mjs', import.meta.url));
      w.unref();
      w.on('message', (r: ParseReply) => this.settle(r));
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        if (this.worker === w) this.worker = null;
        if (code !== 0) this.fail(new Error(`parse worker exited with code ${code}`));
      });
      this.worker = w;
      return w;
    } catch {
      this.broken = true;
      return null;
    }
  }

  private settle(r: ParseReply) {
    const p = this.waiting.get(r.id);
    if (!p) return;
    this.waiting.delete(r.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (r.ok) p.resolve(r.prepared);
    else {
      const e = r.error;
      p.reject(e.known ? new OpenLedgerError(e.message, { type: e.type, param: e.param, code: e.code, hint: e.hint, details: e.details }) : new Error(e.message));
    }
  }

  private fail(err: Error) {
    for (const [, p] of this.waiting) p.reject(err);
    this.waiting.clear();
    this.worker = null;
  }

  /** Same contract as `prepareFile`, run on the worker thread. */
  prepareFile(bytes: Uint8Array, filename: string, format: DataFormat, limits: UploadLimits): Promise<PreparedUpload> {
    const w = this.start();
    if (!w) return prepareFile(bytes, filename, format, limits);
    const id = ++this.seq;
    return new Promise<PreparedUpload>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.ref(); // keep the process alive while a job is out
      const job: ParseJob = { id, bytes, filename, format, limits };
      w.postMessage(job);
    });
  }

  /** Same contract as `prepareRows`, run on the worker thread. */
  prepareRows(rows: unknown, format: DataFormat, limits: UploadLimits): Promise<PreparedUpload> {
    const w = this.start();
    if (!w) return Promise.resolve().then(() => prepareRows(rows, format, limits));
    const id = ++this.seq;
    return new Promise<PreparedUpload>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.ref();
      const job: ParseJob = { id, rows, bytes: new Uint8Array(0), filename: 'rows', format, limits };
      w.postMessage(job);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
