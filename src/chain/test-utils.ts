/**
 * Helpers for the chain tests (and other modules' tests that need a real chain): a free port, a
 * temp data dir, the well-known Anvil dev mnemonic, a raw JSON-RPC call, and a tiny in-memory
 * IndexerSink with the same semantics as the store's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { Hex } from 'viem';
import { OpenLedgerError } from '../util/errors.ts';
import type { BlockRef, IndexedEvent, IndexerSink } from './indexer.ts';

/** Anvil's default dev mnemonic (public; never holds real funds). */
export const TEST_MNEMONIC = 'test test test test test test test test test test test junk';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDataDir(prefix = 'ol-chain-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** In-memory IndexerSink: events in order, a hash per block it was told about, a cursor. */
export class MemorySink implements IndexerSink {
  events: IndexedEvent[] = [];
  hashes = new Map<bigint, Hex>();
  private cur: BlockRef | null = null;
  rewinds: bigint[] = [];

  cursor(): BlockRef | null {
    return this.cur;
  }
  blockHash(n: bigint): Hex | null {
    return this.hashes.get(n) ?? null;
  }
  apply(events: IndexedEvent[], to: BlockRef): void {
    for (const e of events) {
      this.events.push(e);
      this.hashes.set(e.blockNumber, e.blockHash);
    }
    this.hashes.set(to.blockNumber, to.blockHash);
    this.cur = to;
  }
  rewind(n: bigint): void {
    this.rewinds.push(n);
    this.events = this.events.filter((e) => e.blockNumber <= n);
    for (const k of [...this.hashes.keys()]) if (k > n) this.hashes.delete(k);
    const kept = [...this.hashes.keys()].filter((k) => k <= n).sort((a, b) => (a < b ? 1 : -1))[0];
    this.cur = kept === undefined ? null : { blockNumber: kept, blockHash: this.hashes.get(kept)! };
  }
}

/** Await `p` and expect an OpenLedgerError with `code` (and a message matching `re`). */
export async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<OpenLedgerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OpenLedgerError, `expected OpenLedgerError, got ${err}`);
    assert.equal(err.code, code, err.fullMessage);
    if (re) assert.match(err.fullMessage, re);
    return err;
  }
  assert.fail(`expected an error with code ${code}`);
}
