/**
 * The start-up probe (probe.ts): its verdict per runtime, that its kernel self-test can fail, and
 * that a runtime it refused never gets the relaxed kernels. Run on Node 20 and 24 (.ci/run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../../heap.ts';
import { kernelModule } from './module.ts';
import { probeKernelPath, resetKernelProbe, selfTestRelaxedTile, setV8FlagIfKnown, v8Knows } from './probe.ts';
import { createWasmKernels } from './wasm-kernels.ts';

const major = Number(process.versions.node.split('.')[0]);

test('verdict: relaxed SIMD on Node ≥ 22 (exact there), SIMD128 with the reason on Node 20', () => {
  const r = probeKernelPath({});
  assert.ok(r.ms >= 0 && r.node === process.version);
  if (major >= 22) {
    assert.equal(r.path, 'relaxed-simd', `Node ${process.version}: ${r.reason}`);
    assert.equal(r.reason, null);
    assert.deepEqual(r.selfTest, { calls: 160, wrong: 0 });
    assert.equal(r.semantics?.dotAddWrongLanes, 0);
  } else {
    // V8 11.3 doubles i32x4.relaxed_dot_i8x16_i7x16_add_s (README): never the relaxed kernels
    assert.equal(r.path, 'simd128');
    assert.match(r.reason!, /wrong results|does not support/);
  }
});

test('the kernel self-test fails a kernel that is not the relaxed tile (it can fail)', () => {
  // kernels.wasm's q8_0 M ≥ 2 tile reads i16 activations, not the 7-bit bytes the test feeds it
  const bad = selfTestRelaxedTile(kernelModule('simd128'), 8);
  assert.ok(bad.wrong > 0 && bad.first, `simd128 module passed the relaxed self-test: ${JSON.stringify(bad)}`);
  if (probeKernelPath().path === 'relaxed-simd') assert.equal(selfTestRelaxedTile(kernelModule('relaxed-simd'), 8).wrong, 0);
});

test('OPENLEDGER_KERNELS=simd128 pins SIMD128; an unknown value is ignored with a warning', () => {
  try {
    resetKernelProbe();
    const pinned = probeKernelPath({ OPENLEDGER_KERNELS: 'simd128' });
    assert.equal(pinned.path, 'simd128');
    assert.match(pinned.reason!, /pinned by OPENLEDGER_KERNELS=simd128/);
    resetKernelProbe();
    const warn = console.warn;
    const seen: string[] = [];
    console.warn = (m: string) => seen.push(m);
    try {
      probeKernelPath({ OPENLEDGER_KERNELS: 'avx512' });
    } finally {
      console.warn = warn;
    }
    assert.ok(seen.some((m) => /OPENLEDGER_KERNELS=avx512 is not a kernel path/.test(m)), seen.join('\n'));
  } finally {
    resetKernelProbe();
    probeKernelPath({});
  }
});

test('a runtime the probe refused never runs the relaxed kernels, even when asked', () => {
  const heap = new Heap({ initialBytes: 4 << 20 });
  const r = probeKernelPath();
  if (r.path === 'relaxed-simd') {
    const k = createWasmKernels(heap, { threads: 1, variant: 'relaxed-simd' });
    assert.equal(k.variant, 'relaxed-simd');
    assert.match(k.name, /relaxed-simd/);
    k.close();
  } else {
    assert.throws(() => createWasmKernels(heap, { threads: 1, variant: 'relaxed-simd' }), (e: Error & { code?: string }) => e.code === 'kernel_variant_unavailable' && /not available on this runtime/.test(e.message));
  }
  const s = createWasmKernels(heap, { threads: 1, variant: 'simd128' });
  assert.equal(s.variant, 'simd128');
  s.close();
});

test('V8 flags unknown to the runtime are skipped, not set (no crash, no stderr noise)', () => {
  assert.equal(v8Knows('--no-such-v8-flag-for-openledger'), false);
  assert.equal(setV8FlagIfKnown('--no-such-v8-flag-for-openledger'), false);
  assert.equal(v8Knows('--liftoff'), true); // every V8 in Node 20–24 has it
});
