import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EigenDaProxyBlobStore } from './eigenda.ts';
import { startFakeEigenDaProxy, type FakeEigenDaProxy } from './testing/fake-eigenda-proxy.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { contentId } from './hash.ts';

let proxy: FakeEigenDaProxy;
let dir: string;
let store: EigenDaProxyBlobStore;
before(async () => {
  proxy = await startFakeEigenDaProxy({ maxPayloadBytes: 4096 });
  dir = await mkdtemp(join(tmpdir(), 'ol-eigenda-'));
  store = await EigenDaProxyBlobStore.connect({ url: proxy.url, indexDir: dir, timeoutMs: 5000 });
});
after(async () => {
  await proxy.close();
  await rm(dir, { recursive: true, force: true });
});

const enc = (s: string) => new TextEncoder().encode(s);

test('connect reads max_payload_size_bytes from /config', () => {
  assert.equal(store.maxBlobBytes, 4096);
  assert.ok(proxy.log.includes('GET /health') && proxy.log.includes('GET /config'));
});

test('put posts raw bytes and gets raw commitment bytes; get by id and by commitment round-trip', async () => {
  const bytes = enc('{"text":"row one"}\n{"text":"row two"}\n');
  const ref = await store.put(bytes);
  assert.equal(ref.id, contentId(bytes));
  assert.match(ref.commitment, /^0x02[0-9a-f]{320}$/); // version byte + 160 cert bytes, hex-encoded by us
  assert.ok(proxy.log.includes('POST /put'));
  assert.deepEqual(Buffer.from(await store.get(ref.id)), Buffer.from(bytes));
  assert.deepEqual(Buffer.from(await store.get(ref.commitment)), Buffer.from(bytes));
  assert.equal(await store.has(ref.id), true);
});

test('certificates are random per put, the content id is stable', async () => {
  const bytes = enc('same payload');
  const a = await store.put(bytes);
  const b = await store.put(bytes);
  assert.notEqual(a.commitment, b.commitment);
  assert.equal(a.id, b.id);
  // both certificates still resolve
  assert.deepEqual(Buffer.from(await store.get(a.commitment)), Buffer.from(bytes));
  assert.deepEqual(Buffer.from(await store.get(b.commitment)), Buffer.from(bytes));
});

test('a blob the proxy returns altered fails the content check', async () => {
  const ref = await store.put(enc('honest bytes'));
  proxy.tamper(ref.commitment, enc('evil bytes'));
  await assert.rejects(store.get(ref.id), (e: OpenLedgerError) => e.code === 'da_integrity_error');
  await assert.rejects(store.get(ref.commitment), (e: OpenLedgerError) => e.code === 'da_integrity_error');
});

test('a commitment from another node is fetched and indexed (trust on first use)', async () => {
  const otherDir = await mkdtemp(join(tmpdir(), 'ol-eigenda-other-'));
  try {
    const other = await EigenDaProxyBlobStore.connect({ url: proxy.url, indexDir: otherDir });
    const ref = await other.put(enc('from another node'));
    assert.deepEqual(Buffer.from(await store.get(ref.commitment)), Buffer.from(enc('from another node')));
    // now indexed here: get by id works
    assert.deepEqual(Buffer.from(await store.get(ref.id)), Buffer.from(enc('from another node')));
  } finally {
    await rm(otherDir, { recursive: true, force: true });
  }
});

test('unknown id is not found; a missing cert is da_get_failed', async () => {
  const unknown = ('0x' + 'ab'.repeat(32)) as `0x${string}`;
  await assert.rejects(store.get(unknown), (e: OpenLedgerError) => e.status >= 400 && e.status < 500);
  assert.equal(await store.has(unknown), false);
  const missingCert = ('0x02' + '00'.repeat(160)) as `0x${string}`;
  await assert.rejects(store.get(missingCert), (e: OpenLedgerError) => e.code === 'da_get_failed' && e.status === 502);
});

test('proxy error statuses map to clear errors', async () => {
  const bytes = enc('x');
  const cases: Array<[number, string, number]> = [
    [418, 'da_invalid_commitment', 400],
    [429, 'da_rate_limited', 429],
    [503, 'da_failover', 502],
    [500, 'da_unavailable', 502],
    [400, 'da_bad_request', 400],
  ];
  for (const [status, code, http] of cases) {
    proxy.failNext(status, 'injected');
    await assert.rejects(store.put(bytes), (e: OpenLedgerError) => {
      assert.equal(e.code, code, `status ${status}`);
      assert.equal(e.status, http);
      assert.ok(e.hint && e.hint.length > 10);
      return true;
    });
  }
});

test('oversized blob is refused before sending (413), and the proxy 400 for size maps to 413 too', async () => {
  const n = proxy.log.length;
  await assert.rejects(store.put(new Uint8Array(5000)), (e: OpenLedgerError) => e.status === 413);
  assert.equal(proxy.log.length, n); // nothing sent
  const loose = new EigenDaProxyBlobStore({ url: proxy.url, indexDir: dir, maxBlobBytes: 10_000 });
  await assert.rejects(loose.put(new Uint8Array(5000)), (e: OpenLedgerError) => e.status === 413 && e.code === 'blob_too_large');
});

test('unreachable proxy is a clear da_unavailable error naming the fix', async () => {
  await assert.rejects(
    EigenDaProxyBlobStore.connect({ url: 'http://127.0.0.1:1', indexDir: dir, timeoutMs: 2000 }),
    (e: OpenLedgerError) => e.code === 'da_unavailable' && /apis\.enabled/.test(e.hint ?? ''),
  );
});
