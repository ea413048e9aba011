import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LocalBlobStore } from './local.ts';
import { OpenLedgerError } from '../util/errors.ts';

async function withStore(fn: (s: LocalBlobStore, dir: string) => Promise<void>, max?: number) {
  const dir = await mkdtemp(join(tmpdir(), 'ol-blobs-'));
  try {
    await fn(new LocalBlobStore({ dir, maxBlobBytes: max }), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('put returns the sha256 id as id and commitment; get returns the same bytes', () =>
  withStore(async (s, dir) => {
    const bytes = new TextEncoder().encode('hello datanet');
    const ref = await s.put(bytes);
    assert.equal(ref.id, '0x' + createHash('sha256').update(bytes).digest('hex'));
    assert.equal(ref.commitment, ref.id);
    assert.equal(ref.size, bytes.length);
    assert.deepEqual(Buffer.from(await s.get(ref.id)), Buffer.from(bytes));
    assert.equal(await s.has(ref.id), true);
    // sharded: <dir>/ab/cd/<hex>, and no temp files left behind
    const h = ref.id.slice(2);
    assert.deepEqual(await readdir(join(dir, h.slice(0, 2), h.slice(2, 4))), [h]);
  }));

test('put is idempotent and ids are case-insensitive on read', () =>
  withStore(async (s) => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const a = await s.put(bytes);
    const b = await s.put(bytes);
    assert.deepEqual(a, b);
    assert.deepEqual([...(await s.get(a.id.toUpperCase().replace('0X', '0x') as `0x${string}`))], [0, 1, 2, 255]);
  }));

test('missing blob is a 404 and a malformed id a 400', () =>
  withStore(async (s) => {
    const missing = ('0x' + '11'.repeat(32)) as `0x${string}`;
    assert.equal(await s.has(missing), false);
    await assert.rejects(s.get(missing), (e: OpenLedgerError) => e.status === 404 && e.code === 'blob_not_found');
    await assert.rejects(s.get('0x1234'), (e: OpenLedgerError) => e.status === 400 && e.code === 'invalid_blob_id');
  }));

test('a blob corrupted on disk fails its content check', () =>
  withStore(async (s, dir) => {
    const ref = await s.put(new TextEncoder().encode('original'));
    const h = ref.id.slice(2);
    await writeFile(join(dir, h.slice(0, 2), h.slice(2, 4), h), 'tampered');
    await assert.rejects(s.get(ref.id), (e: OpenLedgerError) => e.code === 'da_integrity_error');
  }));

test('oversized blob is a 413', () =>
  withStore(
    async (s) => {
      await assert.rejects(s.put(new Uint8Array(11)), (e: OpenLedgerError) => e.status === 413 && e.code === 'blob_too_large');
      await s.put(new Uint8Array(10));
    },
    10,
  ));

test('concurrent puts of the same bytes leave one whole file', () =>
  withStore(async (s, dir) => {
    const bytes = new Uint8Array(200_000).fill(7);
    const refs = await Promise.all(Array.from({ length: 8 }, () => s.put(bytes)));
    assert.equal(new Set(refs.map((r) => r.id)).size, 1);
    const h = refs[0].id.slice(2);
    assert.deepEqual(await readdir(join(dir, h.slice(0, 2), h.slice(2, 4))), [h]);
    assert.equal((await s.get(refs[0].id)).length, 200_000);
  }));
