/** Attribution's SQL (migration 060), in one place for the Postgres port. */
import type { Db } from '../store/index.ts';

export interface InferenceText {
  id: string;
  model: string;
  base: string;
  fineTunedModel: string | null;
  adapters: Array<{ model: string; weight: number }>;
  caller: string | null;
  prompt: string;
  completion: string;
  createdAt: number;
}

export type QueueStatus = 'queued' | 'running' | 'done' | 'failed';

export interface QueueEntry { inferenceId: string; seq: number; status: QueueStatus; attempts: number; error: { message: string; code: string | null; hint?: string } | null; enqueuedAt: number; finishedAt: number | null }

export interface RowStat { datanetId: number; rowId: number; contributor: string; positive: number; negative: number; positiveMass: number; negativeMass: number; flaggedAt: number | null }

const now = () => Math.floor(Date.now() / 1000);

/* eslint-disable @typescript-eslint/no-explicit-any */
const inference = (r: any): InferenceText => ({
  id: r.id, model: r.model, base: r.base, fineTunedModel: r.fine_tuned_model, adapters: JSON.parse(r.adapters), caller: r.caller, prompt: r.prompt, completion: r.completion, createdAt: r.created_at,
});
const entry = (r: any): QueueEntry => ({ inferenceId: r.inference_id, seq: r.seq, status: r.status, attempts: r.attempts, error: r.error ? JSON.parse(r.error) : null, enqueuedAt: r.enqueued_at, finishedAt: r.finished_at });
const stat = (r: any): RowStat => ({ datanetId: r.datanet_id, rowId: r.row_id, contributor: r.contributor, positive: r.positive, negative: r.negative, positiveMass: r.positive_mass, negativeMass: r.negative_mass, flaggedAt: r.flagged_at });

export class AttributionRepo {
  constructor(readonly db: Db) {}

  /** Store an inference's text (idempotent: a repeated id keeps the first). */
  insertInference(i: Omit<InferenceText, 'createdAt'>): boolean {
    const r = this.db.prepare(`INSERT OR IGNORE INTO attribution_inferences (id, model, base, fine_tuned_model, adapters, caller, prompt, completion, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(i.id, i.model, i.base, i.fineTunedModel, JSON.stringify(i.adapters), i.caller, i.prompt, i.completion, now());
    return r.changes > 0;
  }

  inference(id: string): InferenceText | null {
    const r = this.db.prepare('SELECT * FROM attribution_inferences WHERE id = ?').get(id);
    return r ? inference(r) : null;
  }

  queued(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM attribution_queue WHERE status IN ('queued', 'running')").get() as { n: number }).n;
  }

  /** Add to the queue (front = on demand, which also redoes a done one). A running entry is left alone. */
  enqueue(id: string, front = false): void {
    const seq = front
      ? ((this.db.prepare('SELECT MIN(seq) AS s FROM attribution_queue').get() as { s: number | null }).s ?? 0) - 1
      : ((this.db.prepare('SELECT MAX(seq) AS s FROM attribution_queue').get() as { s: number | null }).s ?? 0) + 1;
    this.db.prepare(`INSERT INTO attribution_queue (inference_id, seq, status, enqueued_at) VALUES (?, ?, 'queued', ?)
      ON CONFLICT (inference_id) DO UPDATE SET status = 'queued', seq = excluded.seq, error = NULL
      WHERE attribution_queue.status <> 'running' AND (attribution_queue.status <> 'done' OR ?)`)
      .run(id, seq, now(), front ? 1 : 0);
  }

  entry(id: string): QueueEntry | null {
    const r = this.db.prepare('SELECT * FROM attribution_queue WHERE inference_id = ?').get(id);
    return r ? entry(r) : null;
  }

  /** Claim the next queued entry (marks it running). */
  claimNext(): QueueEntry | null {
    return this.db.transaction(() => {
      const r = this.db.prepare("SELECT * FROM attribution_queue WHERE status = 'queued' ORDER BY seq LIMIT 1").get();
      if (!r) return null;
      this.db.prepare("UPDATE attribution_queue SET status = 'running', attempts = attempts + 1 WHERE inference_id = ?").run((r as { inference_id: string }).inference_id);
      return entry({ ...(r as object), status: 'running', attempts: (r as { attempts: number }).attempts + 1 });
    })();
  }

  /** After a restart: whatever was running goes back to the queue. */
  requeueRunning(): number {
    return this.db.prepare("UPDATE attribution_queue SET status = 'queued' WHERE status = 'running'").run().changes;
  }

  fail(id: string, error: QueueEntry['error'], retry: boolean): void {
    this.db.prepare('UPDATE attribution_queue SET status = ?, error = ?, finished_at = ? WHERE inference_id = ?').run(retry ? 'queued' : 'failed', JSON.stringify(error), retry ? null : now(), id);
  }

  /** The record, its weights and the row statistics, in one transaction; the queue entry done. */
  complete(id: string, rec: { method: string; methodVersion: string; record: unknown; weights: Array<{ address: string; weightPpm: number }>; rowStats: Array<{ datanetId: number; rowId: number; contributor: string; sign: 1 | -1; mass: number }> }, flag: { minEvidence: number; share: number }): string[] {
    const flagged: string[] = [];
    this.db.transaction(() => {
      this.db.prepare('INSERT OR REPLACE INTO attribution_records (inference_id, method, method_version, record, created_at) VALUES (?, ?, ?, ?, ?)').run(id, rec.method, rec.methodVersion, JSON.stringify(rec.record), now());
      this.db.prepare('DELETE FROM attribution_weights WHERE inference_id = ?').run(id);
      const w = this.db.prepare('INSERT INTO attribution_weights (inference_id, contributor, weight_ppm) VALUES (?, ?, ?)');
      for (const x of rec.weights) w.run(id, x.address, x.weightPpm);
      const up = this.db.prepare(`INSERT INTO attribution_row_stats (datanet_id, row_id, contributor, positive, negative, positive_mass, negative_mass) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (datanet_id, row_id) DO UPDATE SET positive = positive + excluded.positive, negative = negative + excluded.negative,
          positive_mass = positive_mass + excluded.positive_mass, negative_mass = negative_mass + excluded.negative_mass`);
      const fl = this.db.prepare(`UPDATE attribution_row_stats SET flagged_at = ? WHERE datanet_id = ? AND row_id = ? AND flagged_at IS NULL
        AND negative >= ? AND negative >= ? * (positive + negative)`);
      for (const s of rec.rowStats) {
        up.run(s.datanetId, s.rowId, s.contributor, s.sign > 0 ? 1 : 0, s.sign < 0 ? 1 : 0, s.sign > 0 ? s.mass : 0, s.sign < 0 ? s.mass : 0);
        if (s.sign < 0 && fl.run(now(), s.datanetId, s.rowId, flag.minEvidence, flag.share).changes) flagged.push(`${s.datanetId}:${s.rowId}`);
      }
      this.db.prepare("UPDATE attribution_queue SET status = 'done', error = NULL, finished_at = ? WHERE inference_id = ?").run(now(), id);
    })();
    return flagged;
  }

  record(id: string): { method: string; methodVersion: string; record: Record<string, unknown>; createdAt: number } | null {
    const r = this.db.prepare('SELECT * FROM attribution_records WHERE inference_id = ?').get(id) as any;
    return r ? { method: r.method, methodVersion: r.method_version, record: JSON.parse(r.record), createdAt: r.created_at } : null;
  }

  weights(id: string): Array<{ address: `0x${string}`; weightPpm: number }> | null {
    const rows = this.db.prepare('SELECT contributor, weight_ppm FROM attribution_weights WHERE inference_id = ? ORDER BY weight_ppm DESC, contributor').all(id) as any[];
    return rows.length ? rows.map((r) => ({ address: r.contributor, weightPpm: r.weight_ppm })) : null;
  }

  flaggedRows(filter: { datanetId?: number; contributor?: string }, limit: number): RowStat[] {
    const where = ['flagged_at IS NOT NULL'];
    const args: unknown[] = [];
    if (filter.datanetId !== undefined) { where.push('datanet_id = ?'); args.push(filter.datanetId); }
    if (filter.contributor) { where.push('contributor = ? COLLATE NOCASE'); args.push(filter.contributor); }
    return (this.db.prepare(`SELECT * FROM attribution_row_stats WHERE ${where.join(' AND ')} ORDER BY flagged_at DESC, datanet_id, row_id LIMIT ?`).all(...args, limit) as any[]).map(stat);
  }

  isFlagged(datanetId: number, rowId: number): boolean {
    return !!this.db.prepare('SELECT 1 FROM attribution_row_stats WHERE datanet_id = ? AND row_id = ? AND flagged_at IS NOT NULL').get(datanetId, rowId);
  }

  contributorStats(address: string): { positive: number; negative: number; positiveMass: number; negativeMass: number; rows: number; flagged: number } {
    const r = this.db.prepare(`SELECT COALESCE(SUM(positive), 0) AS p, COALESCE(SUM(negative), 0) AS n, COALESCE(SUM(positive_mass), 0) AS pm, COALESCE(SUM(negative_mass), 0) AS nm,
      COUNT(*) AS rows, COALESCE(SUM(flagged_at IS NOT NULL), 0) AS f FROM attribution_row_stats WHERE contributor = ? COLLATE NOCASE`).get(address) as any;
    return { positive: r.p, negative: r.n, positiveMass: r.pm, negativeMass: r.nm, rows: r.rows, flagged: r.f };
  }

  queueStats(): Record<QueueStatus, number> {
    const out: Record<QueueStatus, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const r of this.db.prepare('SELECT status, COUNT(*) AS n FROM attribution_queue GROUP BY status').all() as any[]) out[r.status as QueueStatus] = r.n;
    return out;
  }
}
