/**
 * Kernel selection: the engine calls `selectKernels(heap)` once and gets one `Kernels` object.
 * It is the WASM SIMD set (worker threads over the heap's shared memory) with two fallbacks to
 * the reference implementation, so the engine always runs and never computes a wrong answer:
 *  • per op: any op the WASM set lacks (kernels.wasm implements the hot ones) runs the reference;
 *  • per call: a call with a typed array that is not on `heap` (a test's fresh Float32Array, a
 *    tensor on another heap) runs the reference, since WASM can only address the heap.
 * If the WASM module cannot load (not built, no SIMD) the whole set is the reference, with one
 * warning. `prefer: 'reference'` forces the reference (debugging, conformance baselines).
 */
import type { Heap } from '../heap.ts';
import { OpenLedgerError } from '../../util/errors.ts';
import { referenceKernels } from './reference.ts';
import { KERNEL_OPS, type Kernels } from './types.ts';
import { createWasmKernels, type WasmKernelOptions } from './wasm/index.ts';

export interface SelectOptions extends WasmKernelOptions {
  /** 'wasm' (default) or 'reference'. */
  prefer?: 'wasm' | 'reference';
}

export type SelectedKernels = Kernels & {
  /** Ops served by the WASM set (the rest are the reference). Empty when WASM is off. */
  readonly fastOps: readonly string[];
  /** Block until worker threads are up (benchmarks and tests; normal calls never need it). */
  waitReady(timeoutMs?: number): boolean;
  /** Stop worker threads and free scratch; the object must not be used afterwards. */
  close(): void;
};

let warned = false;

export function selectKernels(heap: Heap, opts: SelectOptions = {}): SelectedKernels {
  const ref = referenceKernels;
  const referenceOnly = (): SelectedKernels => ({ ...ref, fastOps: [], waitReady: () => true, close() {} });
  if (opts.prefer === 'reference') return referenceOnly();

  let fast: ReturnType<typeof createWasmKernels>;
  try {
    fast = createWasmKernels(heap, opts);
  } catch (e) {
    if (!warned) {
      warned = true;
      const msg = e instanceof OpenLedgerError ? e.fullMessage : (e as Error).message;
      console.warn(`engine: WebAssembly kernels unavailable, using the (slow) reference kernels: ${msg}`);
    }
    return referenceOnly();
  }

  /**
   * True when every typed array the WASM op will address is on the heap: array arguments, a
   * WeightTensor's `data`, a PagedKv's `k` and `v` (its block table and the ALiBi slopes are
   * copied by the WASM set, so they may live anywhere; positions/ids are not read by WASM ops).
   */
  const onHeap = (args: unknown[]): boolean => {
    for (const a of args) {
      if (a === null || typeof a !== 'object') continue;
      if (ArrayBuffer.isView(a)) {
        if (!heap.contains(a)) return false;
        continue;
      }
      for (const key of ['data', 'k', 'v'] as const) {
        const v = (a as Record<string, unknown>)[key];
        if (v !== undefined && ArrayBuffer.isView(v) && !heap.contains(v)) return false;
      }
    }
    return true;
  };

  const out: Record<string, unknown> = { name: `${fast.name}+reference` };
  const fastOps: string[] = [];
  for (const op of KERNEL_OPS) {
    const f = (fast as unknown as Record<string, ((...a: unknown[]) => void) | undefined>)[op];
    const r = (ref as unknown as Record<string, (...a: unknown[]) => void>)[op];
    if (!f) {
      out[op] = r;
      continue;
    }
    fastOps.push(op);
    out[op] = (...args: unknown[]) => (onHeap(args) ? f(...args) : r(...args));
  }
  return Object.assign(out as unknown as Kernels, {
    fastOps,
    waitReady: (t?: number) => fast.waitReady(t),
    close: () => fast.close(),
  });
}
