/**
 * Kernel micro-benchmark: matmul GFLOP/s and weight GB/s for Qwen2.5-0.5B shapes (C = 896,
 * ffn 4864, vocab 151936) on Q8_0 and F16, M = 1 / 8 / 512, 1 and 2 threads, WASM SIMD kernels.
 *
 *   npm run bench:kernels [-- --threads 1,2 --dtypes q8_0,f16 --m 1,8,512 --json]
 *   npm run bench:kernels -- --kernels simd128,relaxed-simd   (both variants side by side; default: the probe's choice)
 *   (any dtype works: f32 bf16 q4_0 q4_K q5_K q6_K too)
 *   npm run bench:kernels -- --relaxed-probe   (only: relaxed-SIMD 8-bit dot semantics per V8 tier)
 *
 * GB/s counts weight bytes read once per call (the decode bound); GFLOP/s counts 2·M·N·K.
 */
import { Heap } from '../src/engine/heap.ts';
import { f32ToF16 } from '../src/engine/tensor/half.ts';
import { quantize } from '../src/engine/formats/quantize.ts';
import { BLOCK, rowBytes, type DType, type WeightTensor } from '../src/engine/kernels/types.ts';
import { createWasmKernels, probeKernelPath, type WasmVariant } from '../src/engine/kernels/wasm/index.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const threadsList = arg('threads', '1,2').split(',').map(Number);
const dtypes = arg('dtypes', 'q8_0,f16').split(',') as DType[];
const Ms = arg('m', '1,8,512').split(',').map(Number);
const json = process.argv.includes('--json');
const q8Act = arg('q8', 'int8') as 'int8' | 'f32';
const probe = probeKernelPath();
const variants = arg('kernels', probe.path).split(',') as WasmVariant[];
for (const v of variants) {
  if (v !== 'simd128' && v !== 'relaxed-simd') { console.error(`--kernels: simd128 or relaxed-simd, got "${v}"`); process.exit(2); }
  if (v === 'relaxed-simd' && probe.path !== 'relaxed-simd') { console.error(`relaxed-simd is not available on Node ${process.version}: ${probe.reason}`); process.exit(2); }
}
if (!json) console.log(`Node ${process.version} (V8 ${process.versions.v8}); probe: ${probe.path}${probe.reason ? ` (${probe.reason})` : ''}`);

if (process.argv.includes('--relaxed-probe')) {
  // The probe runs in child processes: V8's tier flags must be set before anything compiles.
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { v8Knows } = await import('../src/engine/kernels/wasm/probe.ts');
  const script = fileURLToPath(new URL('../src/engine/kernels/wasm/relaxed-probe.js', import.meta.url));
  // Node 20 needs the flag; Node 22+ ship relaxed SIMD and no longer know it
  const enable = v8Knows('--experimental-wasm-relaxed-simd') ? ['--experimental-wasm-relaxed-simd'] : [];
  for (const tier of ['default', '--liftoff-only', '--no-liftoff']) {
    const flags = [...enable, ...(tier === 'default' ? [] : [tier])];
    const r = spawnSync(process.execPath, [...flags, script], { encoding: 'utf8' });
    console.log(`${tier.padEnd(14)} ${r.status === 0 ? r.stdout.trim() : `failed: ${r.stderr.trim()}`}`);
  }
  process.exit(0);
}

const C = 896, FFN = 4864, VOCAB = 151936;
const shapes: Array<{ name: string; N: number; K: number }> = [
  { name: 'attn_q/o 896×896', N: C, K: C },
  { name: 'ffn_up 4864×896', N: FFN, K: C },
  { name: 'ffn_down 896×4864', N: C, K: FFN },
  { name: 'output 151936×896', N: VOCAB, K: C },
];

const heap = new Heap({ initialBytes: 64 << 20 });

/** Random weights in the dtype's layout (random bytes; block scales set to sane f16 values). */
function weight(dtype: DType, N: number, K: number): WeightTensor {
  const bytes = N * rowBytes(dtype, K);
  const data = heap.u8(bytes);
  const u32 = new Uint32Array(data.buffer, data.byteOffset, bytes >> 2);
  let s = 0x9e3779b9;
  for (let i = 0; i < u32.length; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; u32[i] = s; }
  if (dtype === 'f16') {
    const u16 = new Uint16Array(data.buffer, data.byteOffset, bytes >> 1);
    const table = new Uint16Array(65536).map(() => f32ToF16(Math.random() * 0.2 - 0.1));
    for (let i = 0; i < u16.length; i++) u16[i] = table[u16[i]];
  } else if (dtype === 'q8_0') {
    const d = f32ToF16(0.001);
    for (let o = 0; o < bytes; o += 34) { data[o] = d & 255; data[o + 1] = d >> 8; }
  } else if (dtype !== 'f32') {
    // other dtypes: quantize 64 random rows with the project's quantizer, tile them over the matrix
    const rows = Math.min(64, N);
    const chunk = quantize(Float32Array.from({ length: rows * K }, () => Math.random() * 0.2 - 0.1), dtype);
    for (let o = 0; o < bytes; o += chunk.length) data.set(chunk.subarray(0, Math.min(chunk.length, bytes - o)), o);
  } else {
    const f = new Float32Array(data.buffer, data.byteOffset, bytes >> 2);
    for (let i = 0; i < f.length; i++) f[i] = Math.random() * 0.2 - 0.1;
  }
  return { dtype, rows: N, cols: K, data };
}

interface Row { node_version: string; kernel_path: WasmVariant; dtype: string; threads: number; M: number; shape: string; ms: number; cpuMs: number; gflops: number; gbps: number }
const rows: Row[] = [];
for (const dtype of dtypes) {
  // K-quants need K % 256 = 0: Qwen2.5-0.5B's C = 896 is not (llama.cpp falls back to other
  // types there), so those shapes are skipped for them.
  const ws = shapes.filter((s) => s.K % BLOCK[dtype].elems === 0).map((s) => ({ ...s, w: weight(dtype, s.N, s.K) }));
  if (ws.length === 0) console.error(`${dtype}: no shape has K divisible by ${BLOCK[dtype].elems}`);
  for (const variant of variants) for (const threads of threadsList) {
    const kk = createWasmKernels(heap, { threads, q8Activations: q8Act, variant });
    kk.waitReady();
    for (const M of Ms) {
      for (const { name, N, K, w } of ws) {
        if (M * N * K > 5e10) continue; // the 512-row vocab projection alone is 140 GFLOP
        const x = heap.f32(M * K);
        for (let i = 0; i < x.length; i++) x[i] = Math.random() * 2 - 1;
        const out = heap.f32(M * N);
        kk.matmul(out, x, w, M); // warm-up
        const budget = 400; // ms per case
        let n = 0;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        let t = t0;
        while (t - t0 < budget || n < 2) { kk.matmul(out, x, w, M); n++; t = performance.now(); }
        const c = process.cpuUsage(c0);
        // On a shared machine wall time includes time other processes held our core; CPU time
        // per thread (process CPU ÷ threads) is the better estimate of the kernel's own speed.
        const cpuMs = (c.user + c.system) / 1000 / n / threads;
        const ms = (t - t0) / n;
        const gflops = (2 * M * N * K) / ms / 1e6;
        const gbps = w.data.byteLength / ms / 1e6;
        rows.push({ node_version: process.version, kernel_path: variant, dtype, threads, M, shape: name, ms, cpuMs, gflops, gbps });
        heap.free(x); heap.free(out);
        if (!json) console.log(`${variant.padEnd(12)} ${dtype.padEnd(5)} t=${threads} M=${String(M).padEnd(3)} ${name.padEnd(20)} ${ms.toFixed(3).padStart(9)} ms ${gflops.toFixed(1).padStart(6)} GFLOP/s ${gbps.toFixed(1).padStart(6)} GB/s  (cpu/thread ${cpuMs.toFixed(3)} ms: ${((2 * M * N * K) / cpuMs / 1e6).toFixed(1)} GFLOP/s ${(w.data.byteLength / cpuMs / 1e6).toFixed(1)} GB/s)`);
      }
    }
    kk.close();
  }
}
if (json) console.log(JSON.stringify(rows));
