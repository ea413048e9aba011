/** SQLite implementations of the repository interfaces (better-sqlite3, synchronous). */
import type { Db } from './db.ts';
import type { ApiKeyRow, BlockRef, ChainIndexRepo, EventQuery, Hex, IdentityRepo, MetaRepo, StoredEvent } from './types.ts';

export class SqliteChainIndex implements ChainIndexRepo {
  constructor(private db: Db) {}

  cursor(): BlockRef | null {
    const r = this.db.prepare('SELECT block_number, block_hash FROM chain_cursor WHERE id = 1').get() as
      | { block_number: number; block_hash: Hex }
      | undefined;
    return r ? { blockNumber: BigInt(r.block_number), blockHash: r.block_hash } : null;
  }

  blockHash(blockNumber: bigint): Hex | null {
    const r = this.db.prepare('SELECT block_hash FROM chain_blocks WHERE block_number = ?').get(Number(blockNumber)) as
      | { block_hash: Hex }
      | undefined;
    return r?.block_hash ?? null;
  }

  apply(events: StoredEvent[], to: BlockRef): void {
    const insertEvent = this.db.prepare(
      `INSERT OR REPLACE INTO chain_events (block_number, log_index, block_hash, tx_hash, address, contract, event, args)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertBlock = this.db.prepare('INSERT OR REPLACE INTO chain_blocks (block_number, block_hash) VALUES (?, ?)');
    this.db.transaction(() => {
      for (const e of events) {
        insertEvent.run(Number(e.blockNumber), e.logIndex, e.blockHash, e.txHash, e.address, e.contract, e.event, JSON.stringify(e.args));
        insertBlock.run(Number(e.blockNumber), e.blockHash);
      }
      insertBlock.run(Number(to.blockNumber), to.blockHash);
      this.db
        .prepare(
          `INSERT INTO chain_cursor (id, block_number, block_hash) VALUES (1, ?, ?)
           ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash`,
        )
        .run(Number(to.blockNumber), to.blockHash);
    })();
  }

  rewind(toBlockNumber: bigint): void {
    const n = Number(toBlockNumber);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM chain_events WHERE block_number > ?').run(n);
      this.db.prepare('DELETE FROM chain_blocks WHERE block_number > ?').run(n);
      const keep = this.db.prepare('SELECT block_number, block_hash FROM chain_blocks WHERE block_number <= ? ORDER BY block_number DESC LIMIT 1').get(n) as
        | { block_number: number; block_hash: Hex }
        | undefined;
      if (keep) this.db.prepare('UPDATE chain_cursor SET block_number = ?, block_hash = ? WHERE id = 1').run(keep.block_number, keep.block_hash);
      else this.db.prepare('DELETE FROM chain_cursor').run();
    })();
  }

  events(q: EventQuery = {}): StoredEvent[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.contract) (where.push('contract = ?'), params.push(q.contract));
    if (q.event) (where.push('event = ?'), params.push(q.event));
    if (q.txHash) (where.push('tx_hash = ?'), params.push(q.txHash));
    if (q.fromBlock !== undefined) (where.push('block_number >= ?'), params.push(Number(q.fromBlock)));
    for (const [k, v] of Object.entries(q.args ?? {})) {
      if (!/^\w+$/.test(k)) continue;
      where.push(`json_extract(args, '$.${k}') = ?`);
      params.push(v);
    }
    const sql = `SELECT * FROM chain_events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY block_number ${q.desc ? 'DESC' : 'ASC'}, log_index ${q.desc ? 'DESC' : 'ASC'} LIMIT ?`;
    params.push(Math.min(q.limit ?? 1000, 10_000));
    return (this.db.prepare(sql).all(...params) as Array<Record<string, any>>).map((r) => ({
      blockNumber: BigInt(r.block_number),
      blockHash: r.block_hash,
      txHash: r.tx_hash,
      logIndex: r.log_index,
      address: r.address,
      contract: r.contract,
      event: r.event,
      args: JSON.parse(r.args),
    }));
  }
}

export class SqliteIdentity implements IdentityRepo {
  constructor(private db: Db) {}

  putNonce(nonce: string, expiresAt: number): void {
    this.db.prepare('INSERT INTO siwe_nonces (nonce, expires_at) VALUES (?, ?)').run(nonce, expiresAt);
  }

  takeNonce(nonce: string, now: number): boolean {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM siwe_nonces WHERE expires_at < ?').run(now);
      return this.db.prepare('DELETE FROM siwe_nonces WHERE nonce = ?').run(nonce).changes === 1;
    })();
  }

  putSession(tokenHash: string, address: Hex, createdAt: number, expiresAt: number): void {
    this.db.prepare('INSERT INTO sessions (token_hash, address, created_at, expires_at) VALUES (?, ?, ?, ?)').run(tokenHash, address, createdAt, expiresAt);
  }

  sessionAddress(tokenHash: string, now: number): Hex | null {
    const r = this.db.prepare('SELECT address FROM sessions WHERE token_hash = ? AND expires_at > ?').get(tokenHash, now) as { address: Hex } | undefined;
    return r?.address ?? null;
  }

  deleteSession(tokenHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  putApiKey(row: ApiKeyRow, keyHash: string): void {
    this.db
      .prepare('INSERT INTO api_keys (id, address, name, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(row.id, row.address, row.name, keyHash, row.prefix, row.createdAt);
  }

  apiKeyByHash(keyHash: string): ApiKeyRow | null {
    const r = this.db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(keyHash) as Record<string, any> | undefined;
    return r ? toApiKey(r) : null;
  }

  apiKeys(address: Hex): ApiKeyRow[] {
    return (this.db.prepare('SELECT * FROM api_keys WHERE address = ? ORDER BY created_at').all(address) as Array<Record<string, any>>).map(toApiKey);
  }

  touchApiKey(id: string, now: number): void {
    this.db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').run(now, id);
  }

  revokeApiKey(id: string, address: Hex, now: number): boolean {
    return this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND address = ? AND revoked_at IS NULL').run(now, id, address).changes === 1;
  }
}

function toApiKey(r: Record<string, any>): ApiKeyRow {
  return {
    id: r.id,
    address: r.address,
    name: r.name,
    prefix: r.prefix,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at ?? null,
    revokedAt: r.revoked_at ?? null,
  };
}

export class SqliteMeta implements MetaRepo {
  constructor(private db: Db) {}
  get(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM node_meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }
  set(key: string, value: string): void {
    this.db.prepare('INSERT INTO node_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
