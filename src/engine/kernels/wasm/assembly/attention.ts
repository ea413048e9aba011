// @ts-nocheck — AssemblyScript.
// Causal attention of one sequence over its paged KV cache, for query heads [h0, h1) (one
// thread's share). Same math and order of operations as the reference (kernels/reference.ts):
//   score_j = q·k_j · scale → cap·tanh(score/cap) (if cap ≠ 0) → + slope_h·(j − qpos) (if slopes)
//   over keys j ∈ [max(0, qpos − window + 1), qpos] (window 0 = none) → softmax → Σ p_j·v_j.
// table: block table (i32), key j lives in block table[j / bs], slot j % bs; rows are kvDim f32.
// scores: scratch of ≥ pos0 + T f32, private to the calling thread.
import { exp4, hsum } from './math';

// @ts-ignore: decorator
@inline function tanh1(u: f32): f32 {
  const e = f32x4.extract_lane(exp4(f32x4.splat(u + u)), 0);
  return <f32>1.0 - <f32>2.0 / (e + <f32>1.0);
}

export function attention(
  out: usize, q: usize, kc: usize, vc: usize, table: usize, bs: i32,
  T: i32, pos0: i32, H: i32, Hkv: i32, D: i32, scale: f32, window: i32, cap: f32, slopes: usize,
  h0: i32, h1: i32, scores: usize,
): void {
  const kvDim = Hkv * D;
  const group = H / Hkv;
  const D8 = D & ~7, D4 = D & ~3;
  const rowBytes = <usize>kvDim << 2;
  for (let t = 0; t < T; t++) {
    const qpos = pos0 + t;
    const kStart = window > 0 ? max(0, qpos - window + 1) : 0;
    for (let h = h0; h < h1; h++) {
      const headOff = <usize>((h / group) * D) << 2;
      const qo = q + (<usize>((t * H + h) * D) << 2);
      const slope: f32 = slopes ? load<f32>(slopes + (<usize>h << 2)) : 0;
      let mx: f32 = -Infinity;
      // scores
      let bi = kStart / bs, slot = kStart % bs;
      let base = kc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff;
      for (let j = kStart; j <= qpos; j++) {
        const ko = base + <usize>slot * rowBytes;
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
        for (let d = 0; d < D8; d += 8) {
          const o = <usize>d << 2;
          a0 = f32x4.add(a0, f32x4.mul(v128.load(qo + o), v128.load(ko + o)));
          a1 = f32x4.add(a1, f32x4.mul(v128.load(qo + o, 16), v128.load(ko + o, 16)));
        }
        if (D8 < D4) a0 = f32x4.add(a0, f32x4.mul(v128.load(qo + (<usize>D8 << 2)), v128.load(ko + (<usize>D8 << 2))));
        let s = hsum(f32x4.add(a0, a1));
        for (let d = D4; d < D; d++) s += load<f32>(qo + (<usize>d << 2)) * load<f32>(ko + (<usize>d << 2));
        s *= scale;
        if (cap != 0) s = cap * tanh1(s / cap);
        if (slopes) s += slope * <f32>(j - qpos);
        store<f32>(scores + (<usize>j << 2), s);
        mx = max(mx, s);
        if (++slot == bs && j < qpos) {
          slot = 0;
          bi++;
          base = kc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff;
        }
      }
      // softmax numerators and their sum
      const mv = f32x4.splat(mx);
      let sum4 = f32x4.splat(0);
      let j = kStart;
      for (; j + 4 <= qpos + 1; j += 4) {
        const p = scores + (<usize>j << 2);
        const e = exp4(f32x4.sub(v128.load(p), mv));
        v128.store(p, e);
        sum4 = f32x4.add(sum4, e);
      }
      let sum = hsum(sum4);
      for (; j <= qpos; j++) {
        const p = scores + (<usize>j << 2);
        const e = f32x4.extract_lane(exp4(f32x4.splat(load<f32>(p) - mx)), 0);
        store<f32>(p, e);
        sum += e;
      }
      const inv: f32 = <f32>1.0 / sum;
      // out = Σ p_j v_j, 32 dims at a time in 8 register accumulators (one pass over the keys per
      // 32 dims: the output row is stored once instead of loaded and stored per key)
      const oo = out + (<usize>((t * H + h) * D) << 2);
      const D32 = D & ~31;
      for (let d0 = 0; d0 < D32; d0 += 32) {
        let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        bi = kStart / bs;
        slot = kStart % bs;
        base = vc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff + (<usize>d0 << 2);
        for (let j = kStart; j <= qpos; j++) {
          const vo = base + <usize>slot * rowBytes;
          const pv = f32x4.splat(load<f32>(scores + (<usize>j << 2)) * inv);
          c0 = f32x4.add(c0, f32x4.mul(pv, v128.load(vo)));
          c1 = f32x4.add(c1, f32x4.mul(pv, v128.load(vo, 16)));
          c2 = f32x4.add(c2, f32x4.mul(pv, v128.load(vo, 32)));
          c3 = f32x4.add(c3, f32x4.mul(pv, v128.load(vo, 48)));
          c4 = f32x4.add(c4, f32x4.mul(pv, v128.load(vo, 64)));
          c5 = f32x4.add(c5, f32x4.mul(pv, v128.load(vo, 80)));
          c6 = f32x4.add(c6, f32x4.mul(pv, v128.load(vo, 96)));
          c7 = f32x4.add(c7, f32x4.mul(pv, v128.load(vo, 112)));
          if (++slot == bs && j < qpos) {
            slot = 0;
            bi++;
            base = vc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff + (<usize>d0 << 2);
          }
        }
        const od = oo + (<usize>d0 << 2);
        v128.store(od, c0); v128.store(od, c1, 16); v128.store(od, c2, 32); v128.store(od, c3, 48);
        v128.store(od, c4, 64); v128.store(od, c5, 80); v128.store(od, c6, 96); v128.store(od, c7, 112);
      }
      if (D32 < D) { // the last D % 32 dims: accumulate in the output row
        for (let d = D32; d < D4; d += 4) v128.store(oo + (<usize>d << 2), f32x4.splat(0));
        for (let d = D4; d < D; d++) store<f32>(oo + (<usize>d << 2), 0);
        bi = kStart / bs;
        slot = kStart % bs;
        base = vc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff;
        for (let j = kStart; j <= qpos; j++) {
          const vo = base + <usize>slot * rowBytes;
          const pj: f32 = load<f32>(scores + (<usize>j << 2)) * inv;
          const pv = f32x4.splat(pj);
          for (let d = D32; d < D4; d += 4) {
            const o = <usize>d << 2;
            v128.store(oo + o, f32x4.add(v128.load(oo + o), f32x4.mul(pv, v128.load(vo + o))));
          }
          for (let d = D4; d < D; d++) store<f32>(oo + (<usize>d << 2), load<f32>(oo + (<usize>d << 2)) + pj * load<f32>(vo + (<usize>d << 2)));
          if (++slot == bs && j < qpos) {
            slot = 0;
            bi++;
            base = vc + <usize>(load<i32>(table + (<usize>bi << 2)) * bs) * rowBytes + headOff;
          }
        }
      }
    }
  }
}
