/**
 * Memory bandwidth probe for the engine benchmark: the fastest rate at which WebAssembly SIMD can
 * stream a large, freshly written buffer (so no page is a shared zero page) with `threads` worker
 * threads each summing one slice of a shared memory. Decode reads every weight once per token, so
 * this is the ceiling a decode step can approach: tokens/s ≤ bandwidth ÷ weight bytes per token.
 *
 * The kernel is 4 independent i32x4 accumulators over 64-byte strides, written in WebAssembly text
 * and assembled with binaryen (an AssemblyScript dependency) at run time.
 */
import { Worker } from 'node:worker_threads';

const WAT = `(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "sum") (param $p i32) (param $end i32) (result i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
        (local.set $b (i32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $c (i32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
        (local.set $d (i32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $l)))
    (local.set $a (i32x4.add (i32x4.add (local.get $a) (local.get $b)) (i32x4.add (local.get $c) (local.get $d))))
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
             (i32.add (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a))))))`;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory } = workerData;
const inst = new WebAssembly.Instance(module, { env: { memory } });
parentPort.on('message', ({ start, end, reps }) => {
  let s = 0;
  for (let r = 0; r < reps; r++) s ^= inst.exports.sum(start, end);
  parentPort.postMessage(s);
});`;

async function assemble(): Promise<WebAssembly.Module> {
  // Imported here so that importing testing/index.ts does not load binaryen.
  const { default: binaryen } = await import('binaryen');
  const m = binaryen.parseText(WAT);
  m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.Atomics | binaryen.Features.BulkMemory);
  if (!m.validate()) throw new Error('bandwidth probe: invalid module');
  const bytes = m.emitBinary();
  m.dispose();
  return new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
}

export interface BandwidthResult {
  /** Best observed bytes per second over all threads. */
  bytesPerSecond: number;
  threads: number;
  bufferBytes: number;
}

/** Stream `bufferBytes` (default 1 GiB) `reps` times per trial with `threads` workers; best of `trials`. */
export async function measureBandwidth(opts: { threads?: number; bufferBytes?: number; trials?: number; reps?: number } = {}): Promise<BandwidthResult> {
  const threads = opts.threads ?? 2;
  const bytes = opts.bufferBytes ?? 1 << 30;
  const trials = opts.trials ?? 5;
  const reps = opts.reps ?? 2;
  const pages = Math.ceil(bytes / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  // Fill with non-zero data so every page is really backed.
  const u32 = new Uint32Array(memory.buffer, 65536, bytes / 4);
  for (let i = 0; i < u32.length; i += 1024) u32[i] = i | 1;
  u32.fill(0x01020304, 1);
  const module = await assemble();
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { eval: true, workerData: { module, memory } }));
  try {
    const slice = Math.floor(bytes / threads / 64) * 64;
    const run = () => Promise.all(workers.map((w, i) => new Promise<number>((resolve) => {
      w.once('message', resolve);
      w.postMessage({ start: 65536 + i * slice, end: 65536 + (i + 1) * slice, reps });
    })));
    await run(); // warm up (compile, page in)
    let best = 0;
    for (let t = 0; t < trials; t++) {
      const t0 = performance.now();
      await run();
      const s = (performance.now() - t0) / 1000;
      best = Math.max(best, (slice * threads * reps) / s);
    }
    return { bytesPerSecond: best, threads, bufferBytes: bytes };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
