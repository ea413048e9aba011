/**
 * Kernel selection: the engine calls `selectKernels(heap)` once and gets one `Kernels` object.
 * It is the WASM SIMD set (worker threads over the heap's shared memory) with two fallbacks to
 * the reference implementation, so the engine always runs and never computes a wrong answer:
 *  • per op: any op the WASM set lacks (kernels.wasm implements the hot ones) runs the reference;
 *  • per call: a call with a typed array that is not on `heap` (a test's fresh Float32Array, a
 *    tensor on another heap) runs the reference, since WASM can only address the heap.
 * If the WASM module cannot load (not built, no SIMD) the whole set is the reference, with one
 * warning. `prefer: 'reference'` forces the reference (debugging, conformance baselines).
 * Which WASM variant (relaxed SIMD or SIMD128) is the start-up probe's choice (wasm/probe.ts).
 */
import type { Heap } from '../heap.ts';
import { OpenLedgerError } from '../../util/errors.ts';
import { referenceKernels } from './reference.ts';
import { KERNEL_OPS, type Kernels } from './types.ts';
import { createWasmKernels, kernelModule, probeKernelPath, type WasmKernelOptions } from './wasm/index.ts';

export interface SelectOptions extends WasmKernelOptions {
  /** 'wasm' (default) or 'reference'. */
  prefer?: 'wasm' | 'reference';
}

/** The matmul path in use: relaxed-SIMD WASM, SIMD128 WASM, or the reference (WASM off). */
export type KernelPath = 'relaxed-simd' | 'simd128' | 'reference';

export type SelectedKernels = Kernels & {
  /** The kernel path (also in GET /v1/status and benchmark output). */
  readonly kernelPath: KernelPath;
  /** Ops served by the WASM set (the rest are the reference). Empty when WASM is off. */
  readonly fastOps: readonly string[];
  /** Block until worker threads are up (benchmarks and tests; normal calls never need it). */
  waitReady(timeoutMs?: number): boolean;
  /** Worker pool counters for benchmarks (null without workers or WASM). */
  poolStats(): { jobs: number; soloJobs: number; waitMs: number; workMs: number } | null;
  /** Stop worker threads and free scratch; the object must not be used afterwards. */
  close(): void;
};

let warned = false;

export function selectKernels(heap: Heap, opts: SelectOptions = {}): SelectedKernels {
  const ref = referenceKernels;
  const referenceOnly = (): SelectedKernels => ({ ...ref, kernelPath: 'reference', fastOps: [], waitReady: () => true, poolStats: () => null, close() {} });
  if (opts.prefer === 'reference') return referenceOnly();

  let fast: ReturnType<typeof createWasmKernels>;
  try {
    fast = createWasmKernels(heap, opts);
  } catch (e) {
    if (e instanceof OpenLedgerError && e.code === 'kernel_variant_unavailable') throw e; // asked for explicitly
    if (!warned) {
      warned = true;
      const msg = e instanceof OpenLedgerError ? e.fullMessage : (e as Error).message;
      console.warn(`engine: WebAssembly kernels unavailable, using the (slow) reference kernels: ${msg}`);
    }
    return referenceOnly();
  }

  /**
   * Arguments each WASM op addresses by pointer, which must therefore be on the heap: an index,
   * or [index, field] for a WeightTensor's data / a PagedKv's k and v. Other arrays (positions,
   * invFreq, block tables, ALiBi slopes) are read or copied by the JS wrapper and may live anywhere.
   */
  const ADDRESSED: Record<string, Array<number | [number, string]>> = {
    matmul: [0, 1, [2, 'data']], rmsnorm: [0, 1, 2], layernorm: [0, 1, 2, 3], softmax: [0], siluMul: [0, 1, 2], gelu: [0],
    geluMul: [0, 1, 2], softcap: [0], add: [0, 1, 2], addBias: [0, 1], scale: [0], rope: [0], attention: [0, 1, [2, 'k'], [2, 'v']],
  };
  const onHeap = (spec: Array<number | [number, string]>, args: unknown[]): boolean => {
    for (const s of spec) {
      const v = typeof s === 'number' ? args[s] : (args[s[0]] as Record<string, unknown> | null | undefined)?.[s[1]];
      if (v !== null && v !== undefined && !heap.contains(v as ArrayBufferView)) return false;
    }
    return true;
  };

  const out: Record<string, unknown> = { name: `${fast.name}+reference` };
  const fastOps: string[] = [];
  for (const op of KERNEL_OPS) {
    const f = (fast as unknown as Record<string, ((...a: unknown[]) => void) | undefined>)[op];
    const r = (ref as unknown as Record<string, (...a: unknown[]) => void>)[op];
    const spec = ADDRESSED[op];
    if (!f || !spec) {
      out[op] = r;
      continue;
    }
    fastOps.push(op);
    out[op] = (...args: unknown[]) => (onHeap(spec, args) ? f(...args) : r(...args));
  }
  return Object.assign(out as unknown as Kernels, {
    kernelPath: fast.variant,
    fastOps,
    waitReady: (t?: number) => fast.waitReady(t),
    poolStats: () => fast.poolStats(),
    close: () => fast.close(),
  });
}

/**
 * What the engine runs on this runtime (GET /v1/status → engine, benchmarks): the kernel path
 * the start-up probe chose (reference when the WASM kernels cannot load), the runtime, and why
 * the relaxed-SIMD kernels are not used (null when they are).
 */
export function kernelStatus(): { kernelPath: KernelPath; node: string; v8: string; relaxedSimdReason: string | null; probeMs: number } {
  let wasm = true;
  try {
    kernelModule('simd128');
  } catch {
    wasm = false;
  }
  const p = probeKernelPath();
  return { kernelPath: wasm ? p.path : 'reference', node: p.node, v8: p.v8, relaxedSimdReason: p.reason, probeMs: p.ms };
}
