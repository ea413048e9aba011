/**
 * Backward ops for training, in plain TypeScript (the spec, like kernels/reference.ts), plus the
 * two matrix products the Kernels interface lacks. Each backward takes the forward's saved inputs
 * and the gradient of its output, and writes (or accumulates) the gradient of its inputs.
 *
 * Arrays are `Vec` (Float32Array at run time; the finite-difference tests pass Float64Array so
 * every op is checked in float64). Shapes use the house letters: M rows, C channels, K in, N out,
 * H/Hkv heads, D head dim, R rank.
 *
 * What runs where: every big product is on Kernels.matmul — dx = dy·W through transposed
 * weights (train/weights-t.ts), weight and LoRA gradients through transposed activations, and the
 * attention backward's per-head products (train/attention.ts; attentionBackward here is its
 * spec). What would benefit from WASM kernels: transpose (feeds those products), the elementwise
 * backward ops and crossEntropy (memory-bound, scalar here, ~10–15% of a 0.5B step together), and
 * a native `out = x·W` / `out = aᵀ·b` matmul, which would remove the transposed weight copies
 * (one more copy of every matrix: the memory limit for LoRA on models above ~1B in wasm32).
 */

export type Vec = Float32Array | Float64Array;

/** out (M, N) (+)= a (M, K) · b (K, N). */
export function matmulNN(out: Vec, a: Vec, b: Vec, M: number, K: number, N: number, accumulate = false): void {
  if (!accumulate) out.fill(0, 0, M * N);
  for (let m = 0; m < M; m++) {
    const oo = m * N, ao = m * K;
    for (let k = 0; k < K; k++) {
      const av = a[ao + k];
      if (av === 0) continue;
      const bo = k * N;
      for (let n = 0; n < N; n++) out[oo + n] += av * b[bo + n];
    }
  }
}

/** out (K, N) (+)= a (M, K)ᵀ · b (M, N): a weight gradient, summing over the M rows. */
export function matmulTN(out: Vec, a: Vec, b: Vec, M: number, K: number, N: number, accumulate = false): void {
  if (!accumulate) out.fill(0, 0, K * N);
  for (let m = 0; m < M; m++) {
    const ao = m * K, bo = m * N;
    for (let k = 0; k < K; k++) {
      const av = a[ao + k];
      if (av === 0) continue;
      const oo = k * N;
      for (let n = 0; n < N; n++) out[oo + n] += av * b[bo + n];
    }
  }
}

/** out (N, M) = a (M, N)ᵀ, in 32×32 tiles. */
export function transpose(out: Vec, a: Vec, M: number, N: number): void {
  const B = 32;
  for (let m0 = 0; m0 < M; m0 += B) {
    const m1 = Math.min(M, m0 + B);
    for (let n0 = 0; n0 < N; n0 += B) {
      const n1 = Math.min(N, n0 + B);
      for (let m = m0; m < m1; m++) {
        const ao = m * N;
        for (let n = n0; n < n1; n++) out[n * M + m] = a[ao + n];
      }
    }
  }
}

/** Column sums: out (N) += Σ_m dy (M, N) — a bias gradient. */
export function sumRows(out: Vec, dy: Vec, M: number, N: number): void {
  for (let m = 0; m < M; m++) {
    const o = m * N;
    for (let n = 0; n < N; n++) out[n] += dy[o + n];
  }
}

/**
 * y = x / rms(x) · w. dx (M, C) (+)= r·(w⊙dy) − x·r³/C·Σ(w⊙dy⊙x); dw (C) += Σ_m dy⊙x·r.
 * `dx` may alias `dy`.
 */
export function rmsnormBackward(
  dx: Vec, dy: Vec, x: Vec, w: Vec | null, M: number, C: number, eps: number,
  opts: { accumulate?: boolean; dw?: Vec | null } = {},
): void {
  const acc = !!opts.accumulate, dw = opts.dw ?? null;
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const r = 1 / Math.sqrt(ss / C + eps);
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dy[o + c] * (w ? w[c] : 1) * x[o + c];
    const k = (dot * r * r * r) / C;
    for (let c = 0; c < C; c++) {
      const g = dy[o + c];
      if (dw) dw[c] += g * x[o + c] * r;
      const v = r * g * (w ? w[c] : 1) - k * x[o + c];
      dx[o + c] = acc ? dx[o + c] + v : v;
    }
  }
}

/**
 * y = (x − μ)·r·w + b, r = 1/√(var + eps). With x̂ = (x − μ)·r and g = dy⊙w:
 * dx = r·(g − mean(g) − x̂·mean(g⊙x̂)); dw += Σ dy⊙x̂; db += Σ dy. `dx` may alias `dy`.
 */
export function layernormBackward(
  dx: Vec, dy: Vec, x: Vec, w: Vec | null, M: number, C: number, eps: number,
  opts: { accumulate?: boolean; dw?: Vec | null; db?: Vec | null } = {},
): void {
  const acc = !!opts.accumulate, dw = opts.dw ?? null, db = opts.db ?? null;
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[o + c];
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[o + c] - mean) ** 2;
    const r = 1 / Math.sqrt(v / C + eps);
    let sg = 0, sgx = 0;
    for (let c = 0; c < C; c++) {
      const g = dy[o + c] * (w ? w[c] : 1);
      const xh = (x[o + c] - mean) * r;
      sg += g;
      sgx += g * xh;
    }
    sg /= C;
    sgx /= C;
    for (let c = 0; c < C; c++) {
      const dyv = dy[o + c];
      const xh = (x[o + c] - mean) * r;
      if (dw) dw[c] += dyv * xh;
      if (db) db[c] += dyv;
      const val = r * (dyv * (w ? w[c] : 1) - sg - xh * sgx);
      dx[o + c] = acc ? dx[o + c] + val : val;
    }
  }
}

/** out = silu(g)·u: dg = dy·u·σ(g)(1 + g(1 − σ(g))), du = dy·silu(g). dg/du may alias dy. */
export function siluMulBackward(dg: Vec, du: Vec, dy: Vec, g: Vec, u: Vec, n: number): void {
  for (let i = 0; i < n; i++) {
    const gv = g[i], s = 1 / (1 + Math.exp(-gv)), d = dy[i];
    const uv = u[i];
    du[i] = d * gv * s;
    dg[i] = d * uv * s * (1 + gv * (1 - s));
  }
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** d/dx of the tanh-approximated GELU (the only GELU the forward uses, as ggml). */
export function geluGrad(x: number): number {
  const inner = GELU_C * (x + 0.044715 * x * x * x);
  const t = Math.tanh(inner);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * x * x);
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

/** out = gelu(g)·u (GeGLU). dg/du may alias dy. */
export function geluMulBackward(dg: Vec, du: Vec, dy: Vec, g: Vec, u: Vec, n: number): void {
  for (let i = 0; i < n; i++) {
    const gv = g[i], d = dy[i], uv = u[i];
    du[i] = d * geluTanh(gv);
    dg[i] = d * uv * geluGrad(gv);
  }
}

/** y = gelu(x): dx = dy·gelu'(x) (dx may alias dy). */
export function geluBackward(dx: Vec, dy: Vec, x: Vec, n: number): void {
  for (let i = 0; i < n; i++) dx[i] = dy[i] * geluGrad(x[i]);
}

/** y = cap·tanh(x/cap), given the output y: dx = dy·(1 − (y/cap)²) (in place on dy allowed). */
export function softcapBackward(dx: Vec, dy: Vec, y: Vec, n: number, cap: number): void {
  for (let i = 0; i < n; i++) {
    const t = y[i] / cap;
    dx[i] = dy[i] * (1 - t * t);
  }
}

/** Embedding lookup backward: dE[ids[m]] += dx[m] (rows of C). */
export function embeddingBackward(dE: Vec, dx: Vec, ids: ArrayLike<number>, M: number, C: number): void {
  for (let m = 0; m < M; m++) {
    const eo = ids[m] * C, xo = m * C;
    for (let c = 0; c < C; c++) dE[eo + c] += dx[xo + c];
  }
}

/**
 * Cross-entropy over rows of logits (R, V) with integer targets (−1 = no loss) and per-row
 * weights: loss = Σ_r w_r·(lse_r − z_r[t_r]). In place, logits become dlogits =
 * w_r·gradScale·(softmax_r − onehot(t_r)) (0 for rows without a target). Returns the weighted
 * loss sum and, per row, the unweighted loss in `rowLoss` when given.
 */
export function crossEntropy(
  logits: Vec, targets: ArrayLike<number>, weights: ArrayLike<number> | null, R: number, V: number, gradScale: number,
  rowLoss?: Float64Array,
): number {
  let total = 0;
  for (let r = 0; r < R; r++) {
    const o = r * V, t = targets[r];
    if (t < 0) {
      logits.fill(0, o, o + V);
      if (rowLoss) rowLoss[r] = 0;
      continue;
    }
    let mx = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > mx) mx = logits[o + v];
    let s = 0;
    for (let v = 0; v < V; v++) s += Math.exp(logits[o + v] - mx);
    const lse = mx + Math.log(s);
    const l = lse - logits[o + t];
    const w = weights ? weights[r] : 1;
    total += w * l;
    if (rowLoss) rowLoss[r] = l;
    const k = w * gradScale;
    for (let v = 0; v < V; v++) logits[o + v] = k * Math.exp(logits[o + v] - lse);
    logits[o + t] -= k;
  }
  return total;
}

export interface AttnShape {
  H: number; Hkv: number; D: number;
  scale: number;
  softcap: number | null;
  window: number | null;
  alibi: Vec | null;
}

/**
 * Causal attention of one document (T rows, positions 0…T−1), the same math as
 * Kernels.attention: s = q·k·scale → softcap → + slope·(j − t) → mask (j ≤ t, t − j < window)
 * → softmax → Σ p·v. q/out (T, H·D), k/v (T, Hkv·D). Used by the tests as the float64 forward.
 */
export function attentionForward(out: Vec, q: Vec, k: Vec, v: Vec, T: number, a: AttnShape): void {
  const { H, Hkv, D } = a, HD = H * D, KD = Hkv * D, group = H / Hkv;
  const s = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    const j0 = a.window ? Math.max(0, t - a.window + 1) : 0;
    for (let h = 0; h < H; h++) {
      const qo = t * HD + h * D, kh = Math.floor(h / group) * D;
      let mx = -Infinity;
      for (let j = j0; j <= t; j++) {
        let d = 0;
        for (let e = 0; e < D; e++) d += q[qo + e] * k[j * KD + kh + e];
        d *= a.scale;
        if (a.softcap) d = a.softcap * Math.tanh(d / a.softcap);
        if (a.alibi) d += a.alibi[h] * (j - t);
        s[j] = d;
        if (d > mx) mx = d;
      }
      let sum = 0;
      for (let j = j0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - mx));
      for (let e = 0; e < D; e++) out[qo + e] = 0;
      for (let j = j0; j <= t; j++) {
        const p = s[j] / sum;
        for (let e = 0; e < D; e++) out[qo + e] += p * v[j * KD + kh + e];
      }
    }
  }
}

let attnBuf = new Float64Array(256);

/**
 * Backward of attentionForward for one document: recomputes the probabilities from q and k
 * (nothing T×T is saved), then dv_j += p_j·dO, ds_j = p_j·(dO·v_j − Σ p·(dO·v)), through the
 * softcap, dq += ds·scale·k_j, dk_j += ds·scale·q. dq is written; dk and dv are accumulated
 * (the caller zeroes them), since query heads of a group share one KV head.
 */
export function attentionBackward(dq: Vec, dk: Vec, dv: Vec, dout: Vec, q: Vec, k: Vec, v: Vec, T: number, a: AttnShape): void {
  const { H, Hkv, D } = a, HD = H * D, KD = Hkv * D, group = H / Hkv;
  if (attnBuf.length < 3 * T) attnBuf = new Float64Array(3 * T);
  const s = attnBuf.subarray(0, T), pre = attnBuf.subarray(T, 2 * T), dp = attnBuf.subarray(2 * T, 3 * T);
  const cap = a.softcap;
  for (let t = 0; t < T; t++) {
    const j0 = a.window ? Math.max(0, t - a.window + 1) : 0;
    for (let h = 0; h < H; h++) {
      const qo = t * HD + h * D, kh = Math.floor(h / group) * D;
      let mx = -Infinity;
      for (let j = j0; j <= t; j++) {
        const ko = j * KD + kh;
        let d = 0;
        for (let e = 0; e < D; e++) d += q[qo + e] * k[ko + e];
        d *= a.scale;
        if (cap) { d = cap * Math.tanh(d / cap); pre[j] = d; }
        if (a.alibi) d += a.alibi[h] * (j - t);
        s[j] = d;
        if (d > mx) mx = d;
      }
      let sum = 0;
      for (let j = j0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - mx));
      let dsum = 0;
      for (let j = j0; j <= t; j++) {
        const p = (s[j] /= sum);
        const vo = j * KD + kh;
        let d = 0;
        for (let e = 0; e < D; e++) {
          d += dout[qo + e] * v[vo + e];
          dv[vo + e] += p * dout[qo + e];
        }
        dp[j] = d;
        dsum += p * d;
      }
      for (let e = 0; e < D; e++) dq[qo + e] = 0;
      for (let j = j0; j <= t; j++) {
        let ds = s[j] * (dp[j] - dsum);
        if (cap) { const c = pre[j] / cap; ds *= 1 - c * c; }
        ds *= a.scale;
        if (ds === 0) continue;
        const ko = j * KD + kh;
        for (let e = 0; e < D; e++) {
          dq[qo + e] += ds * k[ko + e];
          dk[ko + e] += ds * q[qo + e];
        }
      }
    }
  }
}
