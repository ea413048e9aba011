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
