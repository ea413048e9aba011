/**
 * The engine's start-up probe: which kernel variant this runtime gets. Run once per process (on
 * the first `selectKernels`, or `GET /v1/status`), cached:
 *
 *   kernels-relaxed.wasm present? ── no ──────────────────────────────────────────▶ simd128
 *   WebAssembly.validate(relaxed)? ─ no: V8 knows --experimental-wasm-relaxed-simd? (Node 20)
 *        │                               yes: set it, validate again ── still no ──▶ simd128
 *   relaxed 8-bit dot semantics (relaxed-probe.js: extreme values, random in-contract inputs,
 *        │  both ops, exact integer math)              ── any wrong lane (Node 20) ─▶ simd128, logged once
 *   the relaxed tiles vs a bit-exact JS model (q8_0) and the SIMD128 tile (q4_0), extreme bytes,
 *        │  through V8's tier-up (160 calls)              ── any wrong output ──────▶ simd128, logged once
 *        ▼
 *   relaxed-simd
 *
 * `OPENLEDGER_KERNELS=simd128` pins SIMD128; `=relaxed-simd` asks for the relaxed kernels but
 * still only gets them where every check passes (a runtime that computes them wrong never runs
 * them). V8 flags are set only when the runtime lists them (`node --v8-options`), so an unknown
 * flag is skipped, never an error. `--experimental-wasm-revectorize` is not used: measured
 * slower (README).
 */
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';
import { kernelBytes, type WasmVariant } from './module.ts';
// @ts-expect-error — plain JS module (it also runs as a script under V8 tier flags)
import { probeRelaxedSimd } from './relaxed-probe.js';

export interface KernelPathReport {
  /** The kernel variant matmul runs on. */
  path: WasmVariant;
  node: string;
  v8: string;
  /** Why the relaxed-SIMD kernels are not used (null when they are). */
  reason: string | null;
  /** V8 flags this probe set (e.g. Node 20's --experimental-wasm-relaxed-simd, to test it). */
  v8Flags: string[];
  /** The semantics probe's result, when it ran. */
  semantics: Record<string, unknown> | null;
  /** Self-test of the relaxed tile: calls made and wrong outputs seen (when it ran). */
  selfTest: { calls: number; wrong: number } | null;
  ms: number;
}

let report: KernelPathReport | null = null;
let v8Options: string | null = null;

/** Does this runtime's V8 know `flag` (e.g. '--experimental-wasm-relaxed-simd')? */
export function v8Knows(flag: string): boolean {
  if (v8Options === null) {
    const r = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8', timeout: 10_000 });
    v8Options = r.status === 0 ? r.stdout : '';
  }
  return v8Options.includes(`  ${flag.replace(/^--(no-)?/, '--')} `) || v8Options.includes(`  ${flag.replace(/^--(no-)?/, '--')}\n`);
}

/** Set a V8 flag if this runtime knows it; false (and nothing set) otherwise. */
export function setV8FlagIfKnown(flag: string): boolean {
  if (!v8Knows(flag)) return false;
  v8.setFlagsFromString(flag);
  return true;
}

/** The probe (cached per process). `env` is read once: OPENLEDGER_KERNELS = simd128 | relaxed-simd. */
export function probeKernelPath(env: NodeJS.ProcessEnv = process.env): KernelPathReport {
  if (report) return report;
  const t0 = performance.now();
  const r: KernelPathReport = { path: 'simd128', node: process.version, v8: process.versions.v8, reason: null, v8Flags: [], semantics: null, selfTest: null, ms: 0 };
  const pin = env.OPENLEDGER_KERNELS?.trim();
  const done = (reason: string | null, warn = false): KernelPathReport => {
    r.reason = reason;
    r.path = reason === null ? 'relaxed-simd' : 'simd128';
    r.ms = Number((performance.now() - t0).toFixed(1));
    if (warn) console.warn(`engine: relaxed-SIMD kernels off on Node ${r.node} (V8 ${r.v8}): ${reason}; using SIMD128`);
    return (report = r);
  };
  if (pin && pin !== 'simd128' && pin !== 'relaxed-simd') {
    console.warn(`engine: OPENLEDGER_KERNELS=${pin} is not a kernel path (simd128 or relaxed-simd); probing as if unset`);
  }
  if (pin === 'simd128') return done('pinned by OPENLEDGER_KERNELS=simd128');

  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = kernelBytes('relaxed-simd');
  } catch {
    return done('kernels-relaxed.wasm is not built (npm run build)');
  }
  if (!WebAssembly.validate(bytes)) {
    // Node 20 (V8 11.3) validates relaxed SIMD only behind this flag: set it to test the runtime.
    const flag = '--experimental-wasm-relaxed-simd';
    if (setV8FlagIfKnown(flag)) r.v8Flags.push(flag);
    if (!WebAssembly.validate(bytes)) return done('this runtime does not support WebAssembly relaxed SIMD');
  }
  const sem = probeRelaxedSimd(2000) as Record<string, number | boolean | null>;
  r.semantics = sem;
  if (!sem.supported) return done('relaxed SIMD probe module does not validate');
  if (sem.dotAddWrongLanes !== 0 || sem.dot16WrongLanes !== 0) {
    return done(`the 8-bit dots compute wrong results (i32x4.relaxed_dot_i8x16_i7x16_add_s: ${sem.dotAddWrongLanes} of ${sem.dotAddLanes} lanes wrong` +
      `${sem.dotAddRatio ? `, ×${sem.dotAddRatio}` : ''}; i16x8.relaxed_dot_i8x16_i7x16_s: ${sem.dot16WrongLanes} of ${sem.dot16Lanes})`, true);
  }
  let test: { calls: number; wrong: number; first: string | null };
  try {
    test = selfTestRelaxedTile(new WebAssembly.Module(bytes));
  } catch (e) {
    return done(`relaxed kernel self-test failed to run: ${(e as Error).message}`, true);
  }
  r.selfTest = { calls: test.calls, wrong: test.wrong };
  if (test.wrong > 0) return done(`the relaxed q8_0 tile gave ${test.wrong} wrong outputs in ${test.calls} calls (${test.first})`, true);
  return done(null);
}

/** For tests: forget the cached report (the V8 flags stay set). */
export function resetKernelProbe(): void {
  report = null;
}

interface TileExports {
  quantizeRowsU7(x: number, xu: number, xd: number, M: number, K: number): void;
  quantizeRowsQ8(x: number, xq: number, xd: number, M: number, K: number, xs: number): void;
  quantizeRowsI8(x: number, xb: number, xd: number, M: number, K: number, xsum: number): void;
  matmulQ4_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ4_0Simd(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ8_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
}

function f16ToF32(h: number): number {
  const e = (h >> 10) & 31, m = h & 1023, s = h & 0x8000 ? -1 : 1;
  return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/**
 * The relaxed q8_0 tile (M ≥ 2) against a bit-exact JS model of its math: activations through
 * quantizeRowsU7 (checked to lie in 1..127 and round x/d), then per output
 * acc = fl(acc + fl(fl(fl(Σ w·(xu − 64)) · d_w) · d_x)) over the blocks in order. Shapes cover a
 * full 8-row group, a short group, leftover activation rows; bytes cover −128, 127 and 0 weights,
 * zero and outlier activation blocks. Hundreds of calls, so V8's optimizing tier runs it too.
 * Each call also runs the relaxed q4_0 tile, which must equal the module's SIMD128 q4_0 tile bit
 * for bit (it is exact; every shape here has N % 4 = 0).
 */
export function selfTestRelaxedTile(module: WebAssembly.Module, calls = 160): { calls: number; wrong: number; first: string | null } {
  const memory = new WebAssembly.Memory({ initial: 18 + 8, maximum: 65536, shared: true });
  const k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as TileExports;
  const buf = memory.buffer;
  const u8 = new Uint8Array(buf), i8 = new Int8Array(buf), dv = new DataView(buf);
  let seed = 0x2545f491;
  const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296; };
  const shapes = [{ M: 5, N: 12, K: 96 }, { M: 2, N: 8, K: 32 }, { M: 9, N: 20, K: 64 }, { M: 8, N: 64, K: 256 }];
  let wrong = 0, first: string | null = null;
  for (let c = 0; c < calls; c++) {
    const { M, N, K } = shapes[c % shapes.length];
    const nb = K / 32, rb = nb * 34;
    const W = 1 << 20, X = W + 64 * 1024, XU = X + 64 * 1024, XD = XU + 16 * 1024, OUT = XD + 4096, SCR = OUT + 64 * 1024;
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < nb; b++) {
        const p = W + n * rb + b * 34;
        dv.setUint16(p, 0x2000 + Math.floor(rnd() * 0x3000), true); // positive and negative normal f16 scales
        if (rnd() < 0.3) u8[p + 1] |= 0x80;
        const mode = rnd();
        for (let j = 0; j < 32; j++) dv.setInt8(p + 2 + j, mode < 0.1 ? -128 : mode < 0.2 ? 127 : mode < 0.25 ? 0 : Math.floor(rnd() * 256) - 128);
      }
    }
    const x = new Float32Array(buf, X, M * K);
    for (let b = 0; b < M * nb; b++) {
      const mode = rnd();
      for (let j = 0; j < 32; j++) x[b * 32 + j] = mode < 0.1 ? 0 : mode < 0.2 ? (j === 5 ? 1e4 : rnd() - 0.5) : mode < 0.3 ? -3.25 : (rnd() * 2 - 1) * 8;
    }
    k.quantizeRowsU7(X, XU, XD, M, K);
    k.matmulQ8_0(OUT, XU, XD, W, M, K, N, 0, N, 0, SCR);
    const xd = new Float32Array(buf, XD, M * nb), out = new Float32Array(buf, OUT, M * N);
    for (let m = 0; m < M; m++) {
      for (let b = 0; b < nb; b++) {
        const d = xd[m * nb + b];
        for (let j = 0; j < 32; j++) {
          const q = u8[XU + m * K + b * 32 + j] - 64, xv = x[m * K + b * 32 + j];
          if (q < -63 || q > 63 || (d > 0 && Math.abs(q - xv / d) > 0.5 + 1e-3)) {
            wrong++;
            first ??= `activation (${m}, ${b * 32 + j}) quantized to ${q + 64}`;
          }
        }
      }
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let b = 0; b < nb; b++) {
          const p = W + n * rb + b * 34, xo = XU + m * K + b * 32;
          let s = 0;
          for (let j = 0; j < 32; j++) s += i8[p + 2 + j] * (u8[xo + j] - 64);
          acc = Math.fround(acc + Math.fround(Math.fround(Math.fround(s) * Math.fround(f16ToF32(u8[p] | (u8[p + 1] << 8)))) * xd[m * nb + b]));
        }
        if (!Object.is(out[m * N + n], acc)) {
          wrong++;
          first ??= `M=${M} N=${N} K=${K} out(${m}, ${n}) = ${out[m * N + n]}, expected ${acc}`;
        }
      }
    }
    // q4_0: relaxed tile (int8 bytes + block sums) vs the SIMD128 tile (i16 activations)
    const rb4 = nb * 18, XQ = SCR + 16 * 1024, OUT2 = XQ + 16 * 1024, XD2 = OUT2 + 64 * 1024, XS2 = XD2 + ((M * nb * 4 + 63) & ~63);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < nb; b++) {
        const p = W + n * rb4 + b * 18;
        dv.setUint16(p, 0x2000 + Math.floor(rnd() * 0x3000), true);
        const mode = rnd();
        for (let j = 0; j < 16; j++) u8[p + 2 + j] = mode < 0.1 ? 0xff : mode < 0.2 ? 0 : Math.floor(rnd() * 256);
      }
    }
    k.quantizeRowsQ8(X, XQ, XD, M, K, 0);
    k.matmulQ4_0Simd(OUT2, XQ, XD, W, M, K, N, 0, N, 0, SCR);
    k.quantizeRowsI8(X, XU, XD2, M, K, XS2);
    k.matmulQ4_0(OUT, XU, XD2, W, M, K, N, 0, N, 0, SCR);
    const a = new Float32Array(buf, OUT2, M * N), b4 = new Float32Array(buf, OUT, M * N);
    for (let i = 0; i < M * N; i++) {
      if (!Object.is(a[i], b4[i])) {
        wrong++;
        first ??= `q4_0 M=${M} N=${N} K=${K} out[${i}] = ${b4[i]}, SIMD128 tile ${a[i]}`;
      }
    }
  }
  return { calls, wrong, first };
}
