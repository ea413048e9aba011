// @ts-nocheck — AssemblyScript.
// Row-wise and elementwise ops (single-threaded: they touch M·C values once, so threading
// costs more than it saves). Sums accumulate in f32x4 lanes; C need not be a multiple of 4.
import { exp4, hsum, hmax } from './math';

/** out (M, C) = x / sqrt(mean(x²) + eps) · w ; w = 0 means no scale. */
export function rmsnorm(out: usize, x: usize, w: usize, M: i32, C: i32, eps: f32): void {
  const C4 = C & ~3;
  for (let m = 0; m < M; m++) {
    const xr = x + ((<usize>m * C) << 2), or = out + ((<usize>m * C) << 2);
    let a = f32x4.splat(0);
    for (let c = 0; c < C4; c += 4) { const v = v128.load(xr + (<usize>c << 2)); a = f32x4.add(a, f32x4.mul(v, v)); }
    let ss = hsum(a);
    for (let c = C4; c < C; c++) { const v = load<f32>(xr + (<usize>c << 2)); ss += v * v; }
    const r: f32 = 1.0 / Mathf.sqrt(ss / <f32>C + eps);
    const rv = f32x4.splat(r);
    if (w) {
      for (let c = 0; c < C4; c += 4) { const o = <usize>c << 2; v128.store(or + o, f32x4.mul(f32x4.mul(v128.load(xr + o), rv), v128.load(w + o))); }
      for (let c = C4; c < C; c++) { const o = <usize>c << 2; store<f32>(or + o, load<f32>(xr + o) * r * load<f32>(w + o)); }
    } else {
      for (let c = 0; c < C4; c += 4) { const o = <usize>c << 2; v128.store(or + o, f32x4.mul(v128.load(xr + o), rv)); }
      for (let c = C4; c < C; c++) { const o = <usize>c << 2; store<f32>(or + o, load<f32>(xr + o) * r); }
    }
  }
}

/** out (M, C) = (x − mean) / sqrt(var + eps) · w + b ; w, b = 0 mean absent. Two passes (stable variance). */
export function layernorm(out: usize, x: usize, w: usize, b: usize, M: i32, C: i32, eps: f32): void {
  const C4 = C & ~3;
  for (let m = 0; m < M; m++) {
    const xr = x + ((<usize>m * C) << 2), or = out + ((<usize>m * C) << 2);
    let a = f32x4.splat(0);
    for (let c = 0; c < C4; c += 4) a = f32x4.add(a, v128.load(xr + (<usize>c << 2)));
    let s = hsum(a);
    for (let c = C4; c < C; c++) s += load<f32>(xr + (<usize>c << 2));
    const mean = s / <f32>C;
    const mv = f32x4.splat(mean);
    a = f32x4.splat(0);
    for (let c = 0; c < C4; c += 4) { const v = f32x4.sub(v128.load(xr + (<usize>c << 2)), mv); a = f32x4.add(a, f32x4.mul(v, v)); }
    let vs = hsum(a);
    for (let c = C4; c < C; c++) { const v = load<f32>(xr + (<usize>c << 2)) - mean; vs += v * v; }
    const r: f32 = 1.0 / Mathf.sqrt(vs / <f32>C + eps);
    const rv = f32x4.splat(r);
    for (let c = 0; c < C4; c += 4) {
      const o = <usize>c << 2;
      let v = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
      if (w) v = f32x4.mul(v, v128.load(w + o));
      if (b) v = f32x4.add(v, v128.load(b + o));
      v128.store(or + o, v);
    }
    for (let c = C4; c < C; c++) {
      const o = <usize>c << 2;
      let v = (load<f32>(xr + o) - mean) * r;
      if (w) v *= load<f32>(w + o);
      if (b) v += load<f32>(b + o);
      store<f32>(or + o, v);
    }
  }
}

/** In place row-wise softmax of x (M, C). */
export function softmax(x: usize, M: i32, C: i32): void {
  const C4 = C & ~3;
  for (let m = 0; m < M; m++) {
    const xr = x + ((<usize>m * C) << 2);
    let mx: f32 = -Infinity;
    if (C4) {
      let a = v128.load(xr);
      for (let c = 4; c < C4; c += 4) a = f32x4.max(a, v128.load(xr + (<usize>c << 2)));
      mx = hmax(a);
    }
    for (let c = C4; c < C; c++) mx = max(mx, load<f32>(xr + (<usize>c << 2)));
    const mv = f32x4.splat(mx);
    let a = f32x4.splat(0);
    for (let c = 0; c < C4; c += 4) {
      const o = <usize>c << 2;
      const e = exp4(f32x4.sub(v128.load(xr + o), mv));
      v128.store(xr + o, e);
      a = f32x4.add(a, e);
    }
    let s = hsum(a);
    if (C4 < C) {
      // tail (< 4 values): pad with -inf lanes, which exp4 maps to 0
      for (let c = C4; c < C; c++) {
        const o = <usize>c << 2;
        const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(xr + o) - mx)), 0);
        store<f32>(xr + o, e);
        s += e;
      }
    }
    const inv = f32x4.splat(<f32>1.0 / s);
    for (let c = 0; c < C4; c += 4) { const o = <usize>c << 2; v128.store(xr + o, f32x4.mul(v128.load(xr + o), inv)); }
    const is: f32 = <f32>1.0 / s;
    for (let c = C4; c < C; c++) { const o = <usize>c << 2; store<f32>(xr + o, load<f32>(xr + o) * is); }
  }
}

/** out = silu(gate) · up = gate / (1 + e^−gate) · up, over n values. */
export function siluMul(out: usize, gate: usize, up: usize, n: i32): void {
  const one = f32x4.splat(1);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gate + o);
    const s = f32x4.div(g, f32x4.add(one, exp4(f32x4.neg(g))));
    v128.store(out + o, f32x4.mul(s, v128.load(up + o)));
  }
  for (let i = n4; i < n; i++) {
    const o = <usize>i << 2;
    const g = f32x4.splat(load<f32>(gate + o));
    const s = f32x4.div(g, f32x4.add(one, exp4(f32x4.neg(g))));
    store<f32>(out + o, f32x4.extract_lane(s, 0) * load<f32>(up + o));
  }
}

/** tanh-approximated GELU in place: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), tanh u = 1 − 2/(e^2u + 1). */
// @ts-ignore: decorator
@inline function gelu4(x: v128): v128 {
  const u = f32x4.mul(f32x4.splat(0.7978845608028654), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  const t = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(u, u)), f32x4.splat(1))));
  return f32x4.mul(f32x4.mul(f32x4.splat(0.5), x), f32x4.add(f32x4.splat(1), t));
}

export function gelu(x: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) { const o = <usize>i << 2; v128.store(x + o, gelu4(v128.load(x + o))); }
  for (let i = n4; i < n; i++) { const o = <usize>i << 2; store<f32>(x + o, f32x4.extract_lane(gelu4(f32x4.splat(load<f32>(x + o))), 0)); }
}

/** out = gelu_tanh(gate) · up over n values (GeGLU). */
export function geluMul(out: usize, gate: usize, up: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.mul(gelu4(v128.load(gate + o)), v128.load(up + o))); }
  for (let i = n4; i < n; i++) { const o = <usize>i << 2; store<f32>(out + o, f32x4.extract_lane(gelu4(f32x4.splat(load<f32>(gate + o))), 0) * load<f32>(up + o)); }
}

/** cap · tanh(x / cap), tanh u = 1 − 2/(e^2u + 1) (exact ±1 in the tails). */
// @ts-ignore: decorator
@inline function softcap4(x: v128, cap: v128, inv: v128): v128 {
  const u = f32x4.mul(x, inv);
  const t = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(exp4(f32x4.add(u, u)), f32x4.splat(1))));
  return f32x4.mul(cap, t);
}

/** In place x = cap · tanh(x / cap) over n values. */
export function softcap(x: usize, n: i32, cap: f32): void {
  const c = f32x4.splat(cap), inv = f32x4.splat(<f32>1.0 / cap);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) { const o = <usize>i << 2; v128.store(x + o, softcap4(v128.load(x + o), c, inv)); }
  for (let i = n4; i < n; i++) { const o = <usize>i << 2; store<f32>(x + o, f32x4.extract_lane(softcap4(f32x4.splat(load<f32>(x + o)), c, inv), 0)); }
}

/** out = a + b over n values (out may alias a or b). */
export function add(out: usize, a: usize, b: usize, n: i32): void {
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) { const o = <usize>i << 2; v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o))); }
  for (let i = n4; i < n; i++) { const o = <usize>i << 2; store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o)); }
}

/** In place x (M, N) += bias (N) on every row. */
export function addBias(x: usize, bias: usize, M: i32, N: i32): void {
  const N4 = N & ~3;
  for (let m = 0; m < M; m++) {
    const r = x + ((<usize>m * N) << 2);
    for (let i = 0; i < N4; i += 4) { const o = <usize>i << 2; v128.store(r + o, f32x4.add(v128.load(r + o), v128.load(bias + o))); }
    for (let i = N4; i < N; i++) { const o = <usize>i << 2; store<f32>(r + o, load<f32>(r + o) + load<f32>(bias + o)); }
  }
}

/** In place x *= s over n values. */
export function scale(x: usize, s: f32, n: i32): void {
  const sv = f32x4.splat(s);
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) { const o = <usize>i << 2; v128.store(x + o, f32x4.mul(v128.load(x + o), sv)); }
  for (let i = n4; i < n; i++) { const o = <usize>i << 2; store<f32>(x + o, load<f32>(x + o) * s); }
}

/**
 * In place rotary embedding of x (M, nHeads·headDim) with a precomputed table cs (M, half, 2)
 * of (cos, sin) per row and pair (the JS side computes it once per call in float64, so the
 * angles are as exact as the reference's). Pairs are (2i, 2i+1) ('normal') or (i, i+half) (neox).
 */
export function rope(x: usize, cs: usize, M: i32, nHeads: i32, headDim: i32, half: i32, neox: i32): void {
  for (let m = 0; m < M; m++) {
    const t = cs + ((<usize>m * half * 2) << 2);
    for (let h = 0; h < nHeads; h++) {
      const o = x + ((<usize>(m * nHeads + h) * headDim) << 2);
      if (neox) {
        let i = 0;
        for (; i + 4 <= half; i += 4) {
          // table rows are (cos, sin) pairs: deinterleave 4 of them
          const p0 = v128.load(t + (<usize>i << 3)), p1 = v128.load(t + (<usize>i << 3), 16);
          const c = v128.shuffle<f32>(p0, p1, 0, 2, 4, 6), s = v128.shuffle<f32>(p0, p1, 1, 3, 5, 7);
          const a = o + (<usize>i << 2), b = o + (<usize>(i + half) << 2);
          const x0 = v128.load(a), x1 = v128.load(b);
          v128.store(a, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
          v128.store(b, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
        }
        for (; i < half; i++) {
          const c = load<f32>(t + (<usize>i << 3)), s = load<f32>(t + (<usize>i << 3) + 4);
          const a = o + (<usize>i << 2), b = o + (<usize>(i + half) << 2);
          const x0 = load<f32>(a), x1 = load<f32>(b);
          store<f32>(a, x0 * c - x1 * s);
          store<f32>(b, x0 * s + x1 * c);
        }
      } else {
        let i = 0;
        for (; i + 2 <= half; i += 2) {
          // x pairs (x0, x1, x0', x1') against table (c, s, c', s'): out = x·(c,c) + swap(x)·(−s, s)
          const cs4 = v128.load(t + (<usize>i << 3));
          const v = v128.load(o + (<usize>i << 3));
          const c = v128.shuffle<f32>(cs4, cs4, 0, 0, 2, 2);
          const s = v128.shuffle<f32>(cs4, cs4, 1, 1, 3, 3);
          const sw = v128.shuffle<f32>(v, v, 1, 0, 3, 2);
          const sgn = f32x4(-1, 1, -1, 1);
          v128.store(o + (<usize>i << 3), f32x4.add(f32x4.mul(v, c), f32x4.mul(f32x4.mul(sw, s), sgn)));
        }
        for (; i < half; i++) {
          const c = load<f32>(t + (<usize>i << 3)), s = load<f32>(t + (<usize>i << 3) + 4);
          const a = o + (<usize>i << 3);
          const x0 = load<f32>(a), x1 = load<f32>(a + 4);
          store<f32>(a, x0 * c - x1 * s);
          store<f32>(a + 4, x0 * s + x1 * c);
        }
      }
    }
  }
}
