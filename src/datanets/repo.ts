import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/index.ts';
import type { Address } from 'viem';
import type { Hex } from '../da/index.ts';
import type { DataFormat } from './formats.ts';
import type { ContributorCounts } from './leaderboard.ts';

/**
 * SQL for the datanet tables (migrations/010_datanets.sql), behind one class so a Postgres port has
 * one file to change. Synchronous, as better-sqlite3 is; `tx` runs a function in one transaction.
 */
export interface DatanetRecord {
  id: number;
  name: string;
  summary: string;
  description: string;
  tags: string[];
  license: string;
  format: DataFormat;
  labels: string[] | null;
  policies: unknown;
  owner: Address;
  metadataBlob: Hex;
  txHash: Hex;
  createdAt: number;
}

export interface UploadRecord {
  id: number;
  datanetId: number;
  contributor: Address;
  filename: string;
  kind: string;
  bytes: number;
  blobId: Hex;
  blobCommitment: Hex;
  rowsRoot: Hex;
  rowCount: number;
  nonce: string;
  deadline: number;
  signature: Hex;
  accepted: number;
  pending: number;
  rejected: number;
  report: unknown;
  createdAt: number;
}

export interface RowRecord {
  id: number;
  datanetId: number;
  uploadId: number;
  item: number;
  line: number | null;
  contributor: Address;
  hash: Hex;
  dedupKey: Hex;
  minhash: Uint8Array;
  data: unknown;
  status: 'accepted' | 'pending' | 'rejected';
  reason: string | null;
  createdAt: number;
  decidedAt: number | null;
}

export interface VersionRecord {
  datanetId: number;
  version: number;
  merkleRoot: Hex;
  rowCount: number;
  snapshotId: Hex;
  daCommitment: Hex;
  tree: unknown;
  txHash: Hex;
  blockNumber: number;
  createdAt: number;
}

const datanetFrom = (r: any): DatanetRecord => ({
  id: r.id,
  name: r.name,
  summary: r.summary,
  description: r.description,
  tags: JSON.parse(r.tags),
  license: r.license,
  format: r.format,
  labels: r.labels ? JSON.parse(r.labels) : null,
  policies: JSON.parse(r.policies),
  owner: r.owner,
  metadataBlob: r.metadata_blob,
  txHash: r.tx_hash,
  createdAt: r.created_at,
});
const uploadFrom = (r: any): UploadRecord => ({
  id: r.id,
  datanetId: r.datanet_id,
  contributor: r.contributor,
  filename: r.filename,
  kind: r.kind,
  bytes: r.bytes,
  blobId: r.blob_id,
  blobCommitment: r.blob_commitment,
  rowsRoot: r.rows_root,
  rowCount: r.row_count,
  nonce: r.nonce,
  deadline: r.deadline,
  signature: r.signature,
  accepted: r.accepted,
  pending: r.pending,
  rejected: r.rejected,
  report: JSON.parse(r.report),
  createdAt: r.created_at,
});
const rowFrom = (r: any): RowRecord => ({
  id: r.id,
  datanetId: r.datanet_id,
  uploadId: r.upload_id,
  item: r.item,
  line: r.line,
  contributor: r.contributor,
  hash: r.hash,
  dedupKey: r.dedup_key,
  minhash: r.minhash,
  data: JSON.parse(r.data),
  status: r.status,
  reason: r.reason,
  createdAt: r.created_at,
  decidedAt: r.decided_at,
});
const versionFrom = (r: any): VersionRecord => ({
  datanetId: r.datanet_id,
  version: r.version,
  merkleRoot: r.merkle_root,
  rowCount: r.row_count,
  snapshotId: r.snapshot_id,
  daCommitment: r.da_commitment,
  tree: JSON.parse(r.tree),
  txHash: r.tx_hash,
  blockNumber: r.block_number,
  createdAt: r.created_at,
});

export class DatanetRepo {
  private readonly stmts = new Map<string, Statement<unknown[]>>();
  constructor(private readonly db: Db) {}

  /** Prepared statements, compiled once per SQL text. */
  private q(sql: string): Statement<unknown[]> {
    let st = this.stmts.get(sql);
    if (!st) this.stmts.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  insertDatanet(d: DatanetRecord): void {
    this
      .q(
        `INSERT INTO datanets (id, name, summary, description, tags, license, format, labels, policies, owner, metadata_blob, tx_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(d.id, d.name, d.summary, d.description, JSON.stringify(d.tags), d.license, d.format, d.labels ? JSON.stringify(d.labels) : null, jsonWei(d.policies), d.owner, d.metadataBlob, d.txHash, d.createdAt);
  }

  datanet(id: number): DatanetRecord | null {
    const r = this.q('SELECT * FROM datanets WHERE id = ?').get(id);
    return r ? datanetFrom(r) : null;
  }

  datanets(q: { limit: number; offset: number; tag?: string; owner?: string }): DatanetRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.owner) {
      where.push('lower(owner) = lower(?)');
      args.push(q.owner);
    }
    if (q.tag) {
      where.push('EXISTS (SELECT 1 FROM json_each(datanets.tags) WHERE value = ?)');
      args.push(q.tag);
    }
    const sql = `SELECT * FROM datanets ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ? OFFSET ?`;
    return this.q(sql).all(...args, q.limit, q.offset).map(datanetFrom);
  }

  setOwner(id: number, owner: Address): void {
    this.q('UPDATE datanets SET owner = ? WHERE id = ?').run(owner, id);
  }

  nonceUsed(datanetId: number, contributor: Address, nonce: string): boolean {
    return !!this.q('SELECT 1 FROM datanet_uploads WHERE datanet_id = ? AND contributor = ? AND nonce = ?').get(datanetId, contributor, nonce);
  }

  /** Bytes and uploads since `since` (unix seconds), for quotas. */
  usage(datanetId: number, contributor: Address, since: number): { userBytes: number; userUploads: number; datanetBytes: number } {
    const u = this
      .q('SELECT COALESCE(SUM(bytes), 0) AS b, COUNT(*) AS n FROM datanet_uploads WHERE datanet_id = ? AND contributor = ? AND created_at >= ?')
      .get(datanetId, contributor, since) as { b: number; n: number };
    const d = this.q('SELECT COALESCE(SUM(bytes), 0) AS b FROM datanet_uploads WHERE datanet_id = ? AND created_at >= ?').get(datanetId, since) as { b: number };
    return { userBytes: u.b, userUploads: u.n, datanetBytes: d.b };
  }

  insertUpload(u: Omit<UploadRecord, 'id'>): number {
    const r = this
      .q(
        `INSERT INTO datanet_uploads (datanet_id, contributor, filename, kind, bytes, blob_id, blob_commitment, rows_root, row_count, nonce, deadline, signature,
           accepted, pending, rejected, report, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(u.datanetId, u.contributor, u.filename, u.kind, u.bytes, u.blobId, u.blobCommitment, u.rowsRoot, u.rowCount, u.nonce, u.deadline, u.signature, u.accepted, u.pending, u.rejected, JSON.stringify(u.report), u.createdAt);
    return Number(r.lastInsertRowid);
  }

  setUploadReport(id: number, report: unknown): void {
    this.q('UPDATE datanet_uploads SET report = ? WHERE id = ?').run(JSON.stringify(report), id);
  }

  upload(datanetId: number, id: number): UploadRecord | null {
    const r = this.q('SELECT * FROM datanet_uploads WHERE datanet_id = ? AND id = ?').get(datanetId, id);
    return r ? uploadFrom(r) : null;
  }

  insertRow(r: Omit<RowRecord, 'id' | 'decidedAt' | 'reason'>): number {
    const res = this
      .q(
        `INSERT INTO datanet_rows (datanet_id, upload_id, item, line, contributor, hash, dedup_key, minhash, data, status, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.datanetId, r.uploadId, r.item, r.line, r.contributor, r.hash, r.dedupKey, Buffer.from(r.minhash), JSON.stringify(r.data), r.status, r.createdAt);
    return Number(res.lastInsertRowid);
  }

  row(datanetId: number, id: number): RowRecord | null {
    const r = this.q('SELECT * FROM datanet_rows WHERE datanet_id = ? AND id = ?').get(datanetId, id);
    return r ? rowFrom(r) : null;
  }

  rows(datanetId: number, q: { status?: string; contributor?: string; limit: number; afterId?: number }): RowRecord[] {
    const where = ['datanet_id = ?', 'id > ?'];
    const args: unknown[] = [datanetId, q.afterId ?? 0];
    if (q.status) {
      where.push('status = ?');
      args.push(q.status);
    }
    if (q.contributor) {
      where.push('lower(contributor) = lower(?)');
      args.push(q.contributor);
    }
    return this.q(`SELECT * FROM datanet_rows WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...args, q.limit).map(rowFrom);
  }

  /** Rows not rejected (for the dedup index): id, dedup key, signature. */
  liveSignatures(datanetId: number): Array<{ id: number; dedupKey: Hex; minhash: Uint8Array }> {
    return (this.q("SELECT id, dedup_key, minhash FROM datanet_rows WHERE datanet_id = ? AND status <> 'rejected' ORDER BY id").all(datanetId) as any[]).map((r) => ({
      id: r.id,
      dedupKey: r.dedup_key,
      minhash: r.minhash,
    }));
  }

  acceptedRows(datanetId: number): RowRecord[] {
    return this.q("SELECT * FROM datanet_rows WHERE datanet_id = ? AND status = 'accepted' ORDER BY id").all(datanetId).map(rowFrom);
  }

  upsertVote(rowId: number, validator: Address, decision: 'approve' | 'reject', reason: string, now: number): void {
    this
      .q(
        `INSERT INTO datanet_votes (row_id, validator, decision, reason, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (row_id, validator) DO UPDATE SET decision = excluded.decision, reason = excluded.reason, created_at = excluded.created_at`,
      )
      .run(rowId, validator, decision, reason, now);
  }

  votes(rowId: number): Array<{ validator: Address; decision: 'approve' | 'reject'; reason: string; createdAt: number }> {
    return (this.q('SELECT * FROM datanet_votes WHERE row_id = ? ORDER BY created_at, validator').all(rowId) as any[]).map((v) => ({
      validator: v.validator,
      decision: v.decision,
      reason: v.reason,
      createdAt: v.created_at,
    }));
  }

  setRowStatus(rowId: number, status: 'accepted' | 'pending' | 'rejected', reason: string | null, now: number): void {
    this.q('UPDATE datanet_rows SET status = ?, reason = ?, decided_at = ? WHERE id = ?').run(status, reason, status === 'pending' ? null : now, rowId);
  }

  /** Per-contributor counts: stored rows by status plus rows the automatic checks rejected. */
  contributorCounts(datanetId: number): ContributorCounts[] {
    const m = new Map<string, ContributorCounts>();
    const get = (c: Address) => {
      let e = m.get(c);
      if (!e) m.set(c, (e = { contributor: c, accepted: 0, pending: 0, rejected: 0 }));
      return e;
    };
    for (const r of this.q('SELECT contributor, status, COUNT(*) AS n FROM datanet_rows WHERE datanet_id = ? GROUP BY contributor, status').all(datanetId) as any[]) {
      get(r.contributor)[r.status as 'accepted' | 'pending' | 'rejected'] += r.n;
    }
    for (const r of this.q('SELECT contributor, SUM(rejected) AS n FROM datanet_uploads WHERE datanet_id = ? GROUP BY contributor').all(datanetId) as any[]) {
      get(r.contributor).rejected += r.n;
    }
    return [...m.values()];
  }

  insertVersion(v: VersionRecord, rowIds: number[]): void {
    this
      .q(
        `INSERT INTO datanet_versions (datanet_id, version, merkle_root, row_count, snapshot_id, da_commitment, tree, tx_hash, block_number, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(v.datanetId, v.version, v.merkleRoot, v.rowCount, v.snapshotId, v.daCommitment, JSON.stringify(v.tree), v.txHash, v.blockNumber, v.createdAt);
    const ins = this.q('INSERT INTO datanet_version_rows (datanet_id, version, row_id) VALUES (?, ?, ?)');
    for (const id of rowIds) ins.run(v.datanetId, v.version, id);
  }

  version(datanetId: number, version: number): VersionRecord | null {
    const r = this.q('SELECT * FROM datanet_versions WHERE datanet_id = ? AND version = ?').get(datanetId, version);
    return r ? versionFrom(r) : null;
  }

  latestVersion(datanetId: number): VersionRecord | null {
    const r = this.q('SELECT * FROM datanet_versions WHERE datanet_id = ? ORDER BY version DESC LIMIT 1').get(datanetId);
    return r ? versionFrom(r) : null;
  }

  versions(datanetId: number): VersionRecord[] {
    return this.q('SELECT * FROM datanet_versions WHERE datanet_id = ? ORDER BY version').all(datanetId).map(versionFrom);
  }

  versionRows(datanetId: number, version: number): RowRecord[] {
    return this
      .q('SELECT r.* FROM datanet_version_rows v JOIN datanet_rows r ON r.id = v.row_id WHERE v.datanet_id = ? AND v.version = ? ORDER BY r.id')
      .all(datanetId, version)
      .map(rowFrom);
  }

  versionHasRow(datanetId: number, version: number, rowId: number): boolean {
    return !!this.q('SELECT 1 FROM datanet_version_rows WHERE datanet_id = ? AND version = ? AND row_id = ?').get(datanetId, version, rowId);
  }

  purchase(datanetId: number, buyer: Address): { priceWei: string; txHash: Hex } | null {
    const r = this.q('SELECT price_wei, tx_hash FROM datanet_purchases WHERE datanet_id = ? AND lower(buyer) = lower(?)').get(datanetId, buyer) as any;
    return r ? { priceWei: r.price_wei, txHash: r.tx_hash } : null;
  }

  insertPurchase(datanetId: number, buyer: Address, priceWei: bigint, txHash: Hex, credits: Array<{ contributor: Address; amount: bigint }>, now: number): void {
    this.q('INSERT INTO datanet_purchases (datanet_id, buyer, price_wei, tx_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(datanetId, buyer, priceWei.toString(), txHash, now);
    const ins = this.q('INSERT INTO datanet_credits (datanet_id, buyer, contributor, amount_wei, tx_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    for (const c of credits) ins.run(datanetId, buyer, c.contributor, c.amount.toString(), txHash, now);
  }

  // ---- start-up reconciliation (reconcile.ts) ----

  /** An upload and its rows (a failed or interrupted write; votes cannot exist yet). */
  deleteUpload(id: number): void {
    this.q('DELETE FROM datanet_votes WHERE row_id IN (SELECT id FROM datanet_rows WHERE upload_id = ?)').run(id);
    this.q('DELETE FROM datanet_rows WHERE upload_id = ?').run(id);
    this.q('DELETE FROM datanet_uploads WHERE id = ?').run(id);
  }

  /** Uploads a crash interrupted while their rows were written (report still `{"writing":true}`); returns their ids. */
  deleteIncompleteUploads(): number[] {
    const ids = (this.q(`SELECT id FROM datanet_uploads WHERE json_extract(report, '$.writing') = 1`).all() as Array<{ id: number }>).map((r) => r.id);
    for (const id of ids) this.tx(() => this.deleteUpload(id));
    return ids;
  }

  allDatanets(): DatanetRecord[] {
    return this.q('SELECT * FROM datanets ORDER BY id').all().map(datanetFrom);
  }

  uploadCount(datanetId: number): number {
    return (this.q('SELECT count(*) AS n FROM datanet_uploads WHERE datanet_id = ?').get(datanetId) as { n: number }).n;
  }

  /** A datanet with no uploads (reconciliation rolls back one the chain does not have). */
  deleteDatanet(id: number): void {
    this.q('DELETE FROM datanet_credits WHERE datanet_id = ?').run(id);
    this.q('DELETE FROM datanet_purchases WHERE datanet_id = ?').run(id);
    this.q('DELETE FROM datanet_version_rows WHERE datanet_id = ?').run(id);
    this.q('DELETE FROM datanet_versions WHERE datanet_id = ?').run(id);
    this.q('DELETE FROM datanets WHERE id = ?').run(id);
  }

  deleteVersion(datanetId: number, version: number): void {
    this.q('DELETE FROM datanet_version_rows WHERE datanet_id = ? AND version = ?').run(datanetId, version);
    this.q('DELETE FROM datanet_versions WHERE datanet_id = ? AND version = ?').run(datanetId, version);
  }

  purchases(datanetId: number): Array<{ buyer: Address; txHash: Hex }> {
    return (this.q('SELECT buyer, tx_hash FROM datanet_purchases WHERE datanet_id = ? ORDER BY created_at').all(datanetId) as any[]).map((r) => ({ buyer: r.buyer, txHash: r.tx_hash }));
  }

  deletePurchase(datanetId: number, buyer: Address): void {
    this.q('DELETE FROM datanet_credits WHERE datanet_id = ? AND lower(buyer) = lower(?)').run(datanetId, buyer);
    this.q('DELETE FROM datanet_purchases WHERE datanet_id = ? AND lower(buyer) = lower(?)').run(datanetId, buyer);
  }

  credits(datanetId: number): Array<{ contributor: Address; amountWei: bigint; txHash: Hex }> {
    return (this.q('SELECT contributor, amount_wei, tx_hash FROM datanet_credits WHERE datanet_id = ? ORDER BY id').all(datanetId) as any[]).map((r) => ({
      contributor: r.contributor,
      amountWei: BigInt(r.amount_wei),
      txHash: r.tx_hash,
    }));
  }
}

function jsonWei(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
