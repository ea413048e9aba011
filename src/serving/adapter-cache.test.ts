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

test('byte budget: idle adapters are evicted (LRU) to fit it; leased ones are not (429); one larger than the budget is a 422; the lifecycle shows in stats', async () => {
  for (const a of engine.loadedAdapters) engine.unloadAdapter(a);
  const probe = new AdapterCache(engine, 8);
  const one = await probe.acquire(paths[0], 'p0');
  const size = one.adapter.bytes; // the three tiny adapters have the same shapes
  one.release();
  for (const a of engine.loadedAdapters) engine.unloadAdapter(a);

  // room for two adapters by bytes, eight by count
  const cache = new AdapterCache(engine, 8, Math.floor(size * 2.5));
  const a = await cache.acquire(paths[0], 'model:1');
  const b = await cache.acquire(paths[1], 'private:b');
  a.release(); b.release();
  const c = await cache.acquire(paths[2], 'model:3'); // over the budget: evicts paths[0], the least recently used
  let s = cache.stats();
  assert.equal(s.evictions, 1);
  assert.ok(s.bytes <= s.budgetBytes!, `${s.bytes} ≤ ${s.budgetBytes}`);
  assert.deepEqual(cache.paths(), [paths[1], paths[2]]);
  assert.ok(!engine.loadedAdapters.includes(a.adapter));
  assert.deepEqual(s.states, { loading: 0, ready: 2, failed: 0, evicted: 1 });
  assert.deepEqual(s.adapters.map((x) => [x.model, x.state]), [['model:3', 'ready'], ['private:b', 'ready'], ['model:1', 'evicted']]);
  assert.ok(s.adapters.every((x) => !JSON.stringify(x).includes(dir)), 'no server paths in stats');

  // b and c leased: no idle adapter to evict → a 429 and nothing stays loaded for it
  const b2 = await cache.acquire(paths[1], 'private:b');
  const c2 = await cache.acquire(paths[2], 'model:3');
  await assert.rejects(cache.acquire(paths[0], 'model:1'), (e: any) => e.code === 'adapter_memory_full' && e.status === 429 && /adapterMemoryMb/.test(e.hint));
  assert.equal(engine.loadedAdapters.length, 2);
  s = cache.stats();
  assert.equal(s.failures, 1);
  assert.equal(s.adapters.find((x) => x.model === 'model:1')!.state, 'failed');
  // once b is idle again, it is the one evicted
  b2.release();
  const a2 = await cache.acquire(paths[0], 'model:1');
  assert.deepEqual(cache.paths().sort(), [paths[0], paths[2]].sort());
  assert.equal(cache.stats().adapters.find((x) => x.model === 'private:b')!.state, 'evicted');
  a2.release(); c.release(); c2.release();

  // an adapter larger than the whole budget: 422, and the engine holds nothing for it
  for (const x of engine.loadedAdapters) engine.unloadAdapter(x);
  const tiny = new AdapterCache(engine, 8, Math.floor(size / 2));
  await assert.rejects(tiny.acquire(paths[0], 'model:1'), (e: any) => e.code === 'adapter_too_large' && e.status === 422);
  assert.equal(engine.loadedAdapters.length, 0);
  assert.equal(tiny.stats().loaded, 0);
});
