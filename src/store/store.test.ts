import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { openStore, migrate, listMigrations } from './index.ts';
import { OpenLedgerError } from '../util/errors.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'ol-store-'));
const h = (n: number) => `0x${n.toString(16).padStart(64, '0')}` as const;

test('migrations apply once, in order, and are recorded', () => {
  const dir = tmp();
  const s = openStore(dir);
  const rows = s.db.prepare('SELECT name FROM schema_migrations ORDER BY version').all() as Array<{ name: string }>;
  assert.deepEqual(rows.map((r) => r.name), listMigrations().map((m) => m.name));
  assert.deepEqual(migrate(s.db), [], 'second run applies nothing');
  s.close();
  rmSync(dir, { recursive: true });
});

test('an edited migration that already ran is refused', () => {
  const dir = tmp();
  const db = new Database(join(dir, 'x.sqlite'));
  const mdir = join(dir, 'migrations');
  mkdirSync(mdir);
  writeFileSync(join(mdir, '001_a.sql'), 'CREATE TABLE a (x INTEGER);');
  migrate(db, listMigrations(mdir));
  writeFileSync(join(mdir, '001_a.sql'), 'CREATE TABLE a (x INTEGER, y INTEGER);');
  assert.throws(() => migrate(db, listMigrations(mdir)), (e: OpenLedgerError) => e.code === 'migration_checksum' && /changed after it was applied/.test(e.message));
  // A failing migration rolls back whole: no half-applied table, not recorded.
  writeFileSync(join(mdir, '001_a.sql'), 'CREATE TABLE a (x INTEGER);');
  writeFileSync(join(mdir, '002_b.sql'), 'CREATE TABLE b (x INTEGER); CREATE TABLE b (x INTEGER);');
  assert.throws(() => migrate(db, listMigrations(mdir)));
  assert.equal((db.prepare("SELECT count(*) c FROM sqlite_master WHERE name = 'b'").get() as { c: number }).c, 0);
  assert.equal((db.prepare('SELECT count(*) c FROM schema_migrations').get() as { c: number }).c, 1);
  db.close();
  rmSync(dir, { recursive: true });
});

test('a data dir locked by a live process is refused; a stale lock is taken over', async () => {
  const dir = tmp();
  const s = openStore(dir);
  assert.throws(() => openStore(dir), (e: OpenLedgerError) => e.code === 'data_dir_locked' && /in use by another openledger node/.test(e.message));
  s.close();
  // Stale: a PID that has exited.
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  writeFileSync(join(dir, 'node.lock'), String(child.pid));
  const s2 = openStore(dir);
  assert.equal(readFileSync(join(dir, 'node.lock'), 'utf8'), String(process.pid));
  s2.close();
  rmSync(dir, { recursive: true });
});

test('a corrupt database file gives a clear error and releases the lock', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'store.sqlite'), Buffer.alloc(8192, 7));
  assert.throws(() => openStore(dir), (e: OpenLedgerError) => e.code === 'store_corrupt' && /corrupt or unreadable/.test(e.message) && !!e.hint);
  // The lock was released: a later open (after fixing) works.
  rmSync(join(dir, 'store.sqlite'));
  openStore(dir).close();
  rmSync(dir, { recursive: true });
});

test('chain index: apply is atomic with its cursor; rewind drops later blocks; queries filter', () => {
  const dir = tmp();
  const s = openStore(dir);
  const ix = s.chainIndex;
  assert.equal(ix.cursor(), null);
  const ev = (b: number, i: number, event: string, args: Record<string, unknown>) => ({
    blockNumber: BigInt(b), blockHash: h(b), txHash: h(1000 + b), logIndex: i, address: h(1).slice(0, 42) as `0x${string}`,
    contract: 'DatanetRegistry', event, args,
  });
  ix.apply([ev(3, 0, 'DatanetCreated', { datanetId: '1' }), ev(5, 1, 'VersionCommitted', { datanetId: '1', version: '1' })], { blockNumber: 5n, blockHash: h(5) });
  ix.apply([ev(8, 0, 'VersionCommitted', { datanetId: '2', version: '1' })], { blockNumber: 9n, blockHash: h(9) });
  assert.deepEqual(ix.cursor(), { blockNumber: 9n, blockHash: h(9) });
  assert.equal(ix.blockHash(5n), h(5));
  assert.equal(ix.events().length, 3);
  assert.deepEqual(ix.events({ event: 'VersionCommitted', args: { datanetId: '2' } }).map((e) => e.blockNumber), [8n]);
  assert.deepEqual(ix.events({ desc: true, limit: 1 }).map((e) => e.blockNumber), [8n]);
  ix.rewind(6n);
  assert.deepEqual(ix.cursor(), { blockNumber: 5n, blockHash: h(5) });
  assert.equal(ix.events().length, 2);
  assert.equal(ix.blockHash(8n), null);
  ix.rewind(0n);
  assert.equal(ix.cursor(), null);
  s.close();
  rmSync(dir, { recursive: true });
});
