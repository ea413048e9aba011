// The adapter cache over a real tiny engine: one load per adapter, LRU eviction of idle
// adapters only, a 429 when every slot is leased, failed loads dropped and retried.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyLora, buildTinyModel } from '../engine/testing/index.ts';
import { createEngine, loadModel, referenceKernels, type Engine } from '../engine/index.ts';
import { AdapterCache } from './adapter-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'adapter-cache-'));
let engine: Engine;
const paths: string[] = [];

before(async () => {
  const tiny = buildTinyModel('llama', join(dir, 'tiny'), { format: 'gguf', seed: 5 });
  for (let i = 0; i < 3; i++) paths.push(buildTinyLora(tiny, join(dir, `lora-${i}`), { rank: 2, seed: i + 1 }).peftDir);
  engine = await createEngine(await loadModel(tiny.ggufPath!), { kernels: referenceKernels });
});
after(() => {
  engine?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('one load per adapter, concurrent acquires included; LRU eviction of idle adapters frees their heap', async () => {
  const cache = new AdapterCache(engine, 2);
  const [a1, a2] = await Promise.all([cache.acquire(paths[0]), cache.acquire(paths[0])]);
  assert.equal(a1.adapter, a2.adapter);
  const b = await cache.acquire(paths[1]);
  assert.deepEqual({ loads: cache.stats().loads, hits: cache.stats().hits, loaded: cache.stats().loaded }, { loads: 2, hits: 1, loaded: 2 });
  a1.release(); a1.release(); a2.release(); // release is idempotent
  b.release();
  const heapBefore = engine.stats().adapterBytes;
  const c = await cache.acquire(paths[2]); // evicts paths[0], the least recently used
  assert.equal(cache.stats().evictions, 1);
  assert.deepEqual(cache.paths().sort(), [paths[1], paths[2]].sort());
  assert.ok(!engine.loadedAdapters.includes(a1.adapter), 'the evicted adapter is unloaded from the engine');
  assert.equal(engine.loadedAdapters.length, 2);
  assert.equal(engine.stats().adapterBytes, heapBefore - a1.adapter.bytes + c.adapter.bytes);
  c.release();
});

test('adapters with leases are never evicted: a full cache of leased adapters refuses with a 429', async () => {
  for (const a of engine.loadedAdapters) engine.unloadAdapter(a);
  const cache = new AdapterCache(engine, 2);
  const x = await cache.acquire(paths[0]);
  const y = await cache.acquire(paths[1]);
  await assert.rejects(cache.acquire(paths[2]), (e: any) => e.code === 'adapter_cache_full' && e.status === 429 && /retry/.test(e.hint));
  assert.ok(engine.loadedAdapters.includes(x.adapter) && engine.loadedAdapters.includes(y.adapter));
  y.release();
  const z = await cache.acquire(paths[2]); // y was idle: evicted
  assert.ok(!engine.loadedAdapters.includes(y.adapter));
  assert.ok(engine.loadedAdapters.includes(x.adapter));
  x.release(); z.release();
});

test('a failed load is not cached: the error reaches the caller and the next request tries again', async () => {
  for (const a of engine.loadedAdapters) engine.unloadAdapter(a);
  const cache = new AdapterCache(engine, 2);
  const missing = join(dir, 'no-such-adapter');
  await assert.rejects(cache.acquire(missing), (e: any) => e.code === 'adapter_not_found');
  assert.equal(cache.stats().loaded, 0);
  await assert.rejects(cache.acquire(missing), (e: any) => e.code === 'adapter_not_found');
  assert.equal(cache.stats().loads, 2);
  const other = buildTinyModel('qwen2', join(dir, 'other'), { format: 'gguf', seed: 3, dims: { dModel: 32, headDim: 8 } });
  const wrong = buildTinyLora(other, join(dir, 'lora-wrong'), { rank: 2 });
  await assert.rejects(cache.acquire(wrong.peftDir), (e: any) => /base/i.test(`${e.message} ${e.hint}`));
  assert.equal(cache.stats().loaded, 0);
  assert.equal(engine.loadedAdapters.length, 0);
});
