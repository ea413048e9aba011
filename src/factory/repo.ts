/**
 * The factory's SQL (tables in store/migrations/030_factory.sql): files, jobs, events, checkpoints,
 * job rows and registered models. One place to port to Postgres.
 */
import type { Db } from '../store/index.ts';

export type JobStatus = 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINAL: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface JobRecord {
  id: string;
  seq: number;
  owner: string;
  model: string;
  status: JobStatus;
  request: JobRequest;
  result: Record<string, unknown> | null;
  error: { message: string; code: string | null; param: string | null; hint?: string } | null;
  fineTunedModel: string | null;
  trainedSteps: number;
  totalSteps: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** The validated request a job runs (stored as JSON). */
export interface JobRequest {
  model: string;
  trainingFile: string | null;
  /** A file of rows held out for the evaluation instead of a split of the training rows (OpenAI's validation_file). */
  validationFile?: string | null;
  datanets: Array<{ id: number; version: number }>;
  hyperparameters: import('./hyperparameters.ts').JobHyperparameters;
  suffix: string | null;
  validationSplit: number;
  /** Register on chain when done (default true). */
  register: boolean;
  /** OPEN wei per 1k tokens (decimal strings). */
  pricePer1kInput: string;
  pricePer1kOutput: string;
}

export interface EventRecord {
  id: number;
  jobId: string;
  level: 'info' | 'warn' | 'error';
  type: 'message' | 'metrics';
  message: string;
  data: Record<string, unknown> | null;
  createdAt: number;
}

export interface FileRecord { id: string; owner: string; filename: string; purpose: string; bytes: number; sha256: string; path: string; createdAt: number }
export interface CheckpointRecord { id: string; jobId: string; step: number; loss: number; path: string; createdAt: number }
export interface JobRowRecord { ord: number; datanetId: number | null; version: number | null; fileId: string | null; rowId: number; rowHash: string; contributor: string | null; split: 'train' | 'eval' }
export interface ModelRecord {
  jobId: string; name: string; owner: string;
  /** Base model as the request named it (catalog name or path). */
  baseModel: string;
  modelId: string | null; txHash: string | null; baseModelHash: string; adapterHash: string;
  configHash: string; metadataUri: string; peftDir: string; ggufPath: string; priceInWei: string; priceOutWei: string; createdAt: number;
}

const now = () => Math.floor(Date.now() / 1000);

/* eslint-disable @typescript-eslint/no-explicit-any */
const job = (r: any): JobRecord => ({
  id: r.id, seq: r.seq, owner: r.owner, model: r.model, status: r.status, request: JSON.parse(r.request),
  result: r.result ? JSON.parse(r.result) : null, error: r.error ? JSON.parse(r.error) : null, fineTunedModel: r.fine_tuned_model,
  trainedSteps: r.trained_steps, totalSteps: r.total_steps, createdAt: r.created_at, startedAt: r.started_at, finishedAt: r.finished_at,
});
const event = (r: any): EventRecord => ({ id: r.id, jobId: r.job_id, level: r.level, type: r.type, message: r.message, data: r.data ? JSON.parse(r.data) : null, createdAt: r.created_at });

export class FactoryRepo {
  constructor(readonly db: Db) {}

  insertFile(f: Omit<FileRecord, 'createdAt'>): FileRecord {
    const createdAt = now();
    this.db.prepare('INSERT INTO factory_files (id, owner, filename, purpose, bytes, sha256, path, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(f.id, f.owner, f.filename, f.purpose, f.bytes, f.sha256, f.path, createdAt);
    return { ...f, createdAt };
  }

  file(id: string): FileRecord | null {
    const r = this.db.prepare('SELECT * FROM factory_files WHERE id = ?').get(id) as any;
    return r ? { id: r.id, owner: r.owner, filename: r.filename, purpose: r.purpose, bytes: r.bytes, sha256: r.sha256, path: r.path, createdAt: r.created_at } : null;
  }

  insertJob(j: { id: string; owner: string; model: string; status: JobStatus; request: JobRequest }): JobRecord {
    const seq = ((this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS m FROM factory_jobs').get() as any).m as number) + 1;
    this.db.prepare('INSERT INTO factory_jobs (id, seq, owner, model, status, request, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(j.id, seq, j.owner, j.model, j.status, JSON.stringify(j.request), now());
    return this.job(j.id)!;
  }

  job(id: string): JobRecord | null {
    const r = this.db.prepare('SELECT * FROM factory_jobs WHERE id = ?').get(id);
    return r ? job(r) : null;
  }

  /** Newest first; `after` is a job id (OpenAI pagination: the next page starts after it). */
  jobs(owner: string, limit: number, after?: string): { data: JobRecord[]; hasMore: boolean } {
    const afterSeq = after ? ((this.db.prepare('SELECT seq FROM factory_jobs WHERE id = ?').get(after) as any)?.seq ?? 0) : null;
    const rows = (afterSeq !== null
      ? this.db.prepare('SELECT * FROM factory_jobs WHERE owner = ? AND seq < ? ORDER BY seq DESC LIMIT ?').all(owner, afterSeq, limit + 1)
      : this.db.prepare('SELECT * FROM factory_jobs WHERE owner = ? ORDER BY seq DESC LIMIT ?').all(owner, limit + 1)) as any[];
    return { data: rows.slice(0, limit).map(job), hasMore: rows.length > limit };
  }

  /** The oldest job in one of `statuses`. */
  nextJob(statuses: JobStatus[]): JobRecord | null {
    const r = this.db.prepare(`SELECT * FROM factory_jobs WHERE status IN (${statuses.map(() => '?').join(',')}) ORDER BY seq LIMIT 1`).get(...statuses);
    return r ? job(r) : null;
  }

  jobsIn(statuses: JobStatus[]): JobRecord[] {
    return (this.db.prepare(`SELECT * FROM factory_jobs WHERE status IN (${statuses.map(() => '?').join(',')}) ORDER BY seq`).all(...statuses) as any[]).map(job);
  }

  setStatus(id: string, status: JobStatus, extra: { error?: JobRecord['error']; result?: Record<string, unknown>; fineTunedModel?: string } = {}): void {
    const t = now();
    this.db.prepare(`UPDATE factory_jobs SET status = ?,
        started_at = CASE WHEN ? = 'running' AND started_at IS NULL THEN ? ELSE started_at END,
        finished_at = CASE WHEN ? IN ('succeeded','failed','cancelled') THEN ? ELSE finished_at END,
        error = COALESCE(?, error), result = COALESCE(?, result), fine_tuned_model = COALESCE(?, fine_tuned_model)
      WHERE id = ?`).run(status, status, t, status, t, extra.error ? JSON.stringify(extra.error) : null, extra.result ? JSON.stringify(extra.result) : null, extra.fineTunedModel ?? null, id);
  }

  setProgress(id: string, trainedSteps: number, totalSteps: number): void {
    this.db.prepare('UPDATE factory_jobs SET trained_steps = ?, total_steps = ? WHERE id = ?').run(trainedSteps, totalSteps, id);
  }

  addEvent(jobId: string, level: EventRecord['level'], type: EventRecord['type'], message: string, data: Record<string, unknown> | null = null): EventRecord {
    const createdAt = now();
    const r = this.db.prepare('INSERT INTO factory_events (job_id, level, type, message, data, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(jobId, level, type, message, data ? JSON.stringify(data) : null, createdAt);
    return { id: Number(r.lastInsertRowid), jobId, level, type, message, data, createdAt };
  }

  /** Events newest first, older than event id `beforeId` (0 = from the newest): OpenAI's list order and `after` cursor. */
  eventsNewestFirst(jobId: string, beforeId = 0, limit = 20): EventRecord[] {
    return (this.db.prepare('SELECT * FROM factory_events WHERE job_id = ? AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?').all(jobId, beforeId, beforeId, limit) as any[]).map(event);
  }

  /** Events in order, after event id `afterId`. */
  events(jobId: string, afterId = 0, limit = 1000): EventRecord[] {
    return (this.db.prepare('SELECT * FROM factory_events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(jobId, afterId, limit) as any[]).map(event);
  }

  upsertCheckpoint(c: Omit<CheckpointRecord, 'id' | 'createdAt'>): void {
    this.db.prepare('INSERT OR REPLACE INTO factory_checkpoints (id, job_id, step, loss, path, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(`ftckpt-${c.jobId}-${c.step}`, c.jobId, c.step, c.loss, c.path, now());
  }

  checkpoints(jobId: string): CheckpointRecord[] {
    return (this.db.prepare('SELECT * FROM factory_checkpoints WHERE job_id = ? ORDER BY step DESC').all(jobId) as any[]).map((r) => ({ id: r.id, jobId: r.job_id, step: r.step, loss: r.loss, path: r.path, createdAt: r.created_at }));
  }

  setRows(jobId: string, rows: JobRowRecord[]): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM factory_job_rows WHERE job_id = ?').run(jobId);
      const ins = this.db.prepare('INSERT INTO factory_job_rows (job_id, ord, datanet_id, version, file_id, row_id, row_hash, contributor, split) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of rows) ins.run(jobId, r.ord, r.datanetId, r.version, r.fileId, r.rowId, r.rowHash, r.contributor, r.split);
    })();
  }

  rows(jobId: string): JobRowRecord[] {
    return (this.db.prepare('SELECT * FROM factory_job_rows WHERE job_id = ? ORDER BY ord').all(jobId) as any[]).map((r) => ({
      ord: r.ord, datanetId: r.datanet_id, version: r.version, fileId: r.file_id, rowId: r.row_id, rowHash: r.row_hash, contributor: r.contributor, split: r.split,
    }));
  }

  insertModel(m: Omit<ModelRecord, 'createdAt'>): void {
    this.db.prepare(`INSERT OR REPLACE INTO factory_models (job_id, name, owner, base_model, model_id, tx_hash, base_model_hash, adapter_hash, config_hash, metadata_uri, peft_dir, gguf_path, price_in_wei, price_out_wei, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(m.jobId, m.name, m.owner, m.baseModel, m.modelId, m.txHash, m.baseModelHash, m.adapterHash, m.configHash, m.metadataUri, m.peftDir, m.ggufPath, m.priceInWei, m.priceOutWei, now());
  }

  /** Start-up reconciliation: the chain does not hold this registration (reconcile.ts). */
  clearRegistration(jobId: string): void {
    this.db.prepare('UPDATE factory_models SET model_id = NULL, tx_hash = NULL WHERE job_id = ?').run(jobId);
  }

  model(nameOrJob: string): ModelRecord | null {
    const r = this.db.prepare('SELECT * FROM factory_models WHERE name = ? OR job_id = ?').get(nameOrJob, nameOrJob) as any;
    return r ? modelRecord(r) : null;
  }

  /** The model registered on chain as ModelRegistry id `modelId` (serving's `model:<id>`). */
  modelByOnChainId(modelId: string): ModelRecord | null {
    const r = this.db.prepare('SELECT * FROM factory_models WHERE model_id = ?').get(modelId) as any;
    return r ? modelRecord(r) : null;
  }

  /** Every fine-tuned or imported model, oldest first (serving's GET /v1/models). */
  models(): ModelRecord[] {
    return (this.db.prepare('SELECT * FROM factory_models ORDER BY created_at, name').all() as any[]).map(modelRecord);
  }
}

const modelRecord = (r: any): ModelRecord => ({
  jobId: r.job_id, name: r.name, owner: r.owner, baseModel: r.base_model, modelId: r.model_id, txHash: r.tx_hash, baseModelHash: r.base_model_hash, adapterHash: r.adapter_hash,
  configHash: r.config_hash, metadataUri: r.metadata_uri, peftDir: r.peft_dir, ggufPath: r.gguf_path, priceInWei: r.price_in_wei, priceOutWei: r.price_out_wei, createdAt: r.created_at,
});
