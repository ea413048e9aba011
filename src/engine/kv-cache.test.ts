import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from './heap.ts';
import { KvCache } from './kv-cache.ts';

test('block allocator: reserve, fork by refcount, copy on write, truncate, free, limits', () => {
  const kv = new KvCache(new Heap(), { nLayers: 2, kvDim: 4, blockSize: 4, maxTokens: 32, maxSeqLen: 24 });
  assert.equal(kv.numBlocks, 8);
  assert.equal(kv.bytesPerToken, 2 * 2 * 4 * 4);
  const a = kv.newSequence();
  assert.equal(kv.blocksNeeded(a, 6), 2);
  kv.reserve(a, 6);
  assert.equal(kv.freeBlocks, 6);
  // write something recognisable into a's second block, layer 1
  const b1 = a.blockTable[1];
  kv.k[1].fill(7, b1 * 16, b1 * 16 + 8); // positions 4, 5
  a.length = 6;
  const f = kv.fork(a);
  assert.equal(kv.freeBlocks, 6, 'fork shares');
  assert.deepEqual([...f.blockTable.subarray(0, 2)], [...a.blockTable.subarray(0, 2)]);
  // f writes position 6 (inside the shared partial block) → it gets a copy of block 1
  assert.equal(kv.blocksNeeded(f, 7), 1);
  kv.reserve(f, 7);
  assert.notEqual(f.blockTable[1], a.blockTable[1]);
  assert.equal(f.blockTable[0], a.blockTable[0], 'full blocks stay shared');
  assert.deepEqual([...kv.k[1].subarray(f.blockTable[1] * 16, f.blockTable[1] * 16 + 8)], new Array(8).fill(7), 'copied contents');
  // a writing into its (now unshared) block needs nothing new
  assert.equal(kv.blocksNeeded(a, 8), 0);
  kv.truncate(f, 3);
  assert.equal(f.nBlocks, 1);
  kv.free(f);
  kv.free(a);
  assert.equal(kv.freeBlocks, 8);
  const big = kv.newSequence();
  assert.throws(() => kv.reserve(big, 25), (e: any) => e.code === 'context_length_exceeded');
  const others = [kv.newSequence(), kv.newSequence()];
  kv.reserve(others[0], 24);
  assert.throws(() => kv.reserve(others[1], 12), (e: any) => e.code === 'kv_cache_full');
});

test('engine.close returns KV pools, activations and adapters to the heap', async () => {
  const { Engine } = await import('./engine.ts');
  const { referenceKernels } = await import('./kernels/reference.ts');
  const { tinyConfig, tinyModel } = await import('./model/fixture.ts');
  const m = tinyModel(tinyConfig('llama'), { seed: 1 });
  const weights = m.heap.allocatedBytes;
  const eng = new Engine(m, referenceKernels, { kvTokens: 256 });
  eng.createAdapter({ 'blk.0.attn_q.weight': { a: new Float32Array(2 * 64), b: new Float32Array(64 * 2), rank: 2, alpha: 2 } });
  assert.ok(m.heap.allocatedBytes > weights);
  eng.close();
  assert.equal(m.heap.allocatedBytes, weights);
  const again = new Engine(m, referenceKernels, { kvTokens: 64 }); // the weights are still usable
  assert.ok(again.step([{ seq: again.createSequence(), tokens: [1, 2], logits: 'last' }])[0].logits!.every(Number.isFinite));
});
