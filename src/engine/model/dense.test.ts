// The forward pass against a textbook dense float64 transformer written here from the family
// descriptions (whole-sequence attention matrices, no paging, no batching, no kernels), for
// every family variant; plus the rope frequency tables against the HF / converter formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine.ts';
import { referenceKernels } from '../kernels/reference.ts';
import { tinyConfig, tinyModel } from './fixture.ts';
import { dequantize } from '../tensor/dequant.ts';
import type { WeightTensor } from '../kernels/types.ts';
import type { ModelConfig } from './config.ts';
import type { LoadedModel } from './load.ts';
import { ropeTable, alibiSlopes } from './blocks/rope.ts';
import { llama3RopeFreqs } from './names.ts';

type M = { w: Float64Array; rows: number; cols: number };

function denseLogits(model: LoadedModel, tokens: number[]): Float64Array[] {
  const cfg = model.config;
  const T = tokens.length, C = cfg.dModel, H = cfg.nHeads, Hk = cfg.nKvHeads, D = cfg.headDim;
  const get = (n: string) => model.tensors.get(n);
  const mat = (n: string): M | null => {
    const t = get(n) as WeightTensor | undefined;
    return t ? { w: Float64Array.from(dequantize(t)), rows: t.rows, cols: t.cols } : null;
  };
  const vec = (n: string) => { const t = get(n) as Float32Array | undefined; return t ? Float64Array.from(t) : null; };
  const lin = (x: Float64Array[], m: M, b: Float64Array | null) => x.map((r) => {
    const o = new Float64Array(m.rows);
    for (let n = 0; n < m.rows; n++) { let s = b ? b[n] : 0; for (let k = 0; k < m.cols; k++) s += r[k] * m.w[n * m.cols + k]; o[n] = s; }
    return o;
  });
  const norm = (x: Float64Array[], base: string) => {
    const w = vec(`${base}.weight`), b = vec(`${base}.bias`);
    return x.map((r) => {
      const n = r.length;
      let mean = 0, v = 0;
      if (cfg.norm === 'layer') { for (const a of r) mean += a; mean /= n; }
      for (const a of r) v += (a - mean) ** 2;
      const inv = 1 / Math.sqrt(v / n + cfg.normEps);
      return r.map((a, i) => (a - mean) * inv * ((w ? w[i] : 1) + cfg.normWeightOffset) + (b ? b[i] : 0));
    });
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const act = (x: number) => (cfg.activation === 'silu' ? x / (1 + Math.exp(-x)) : gelu(x));

  const E = mat('token_embd.weight')!;
  let x = tokens.map((t) => E.w.slice(t * C, (t + 1) * C).map((v) => v * (cfg.embedScale ?? 1)));
  if (cfg.positionEmbeddings) { const P = mat('position_embd.weight')!; x = x.map((r, t) => r.map((v, c) => v + P.w[t * C + c])); }
  if (cfg.embedNorm) x = norm(x, 'token_embd_norm');
  const slopes = cfg.alibi ? alibiSlopes(H, cfg.alibiMaxBias) : null;

  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}`;
    const sliding = cfg.slidingWindow !== null && (cfg.slidingWindowPattern === null || l % cfg.slidingWindowPattern !== cfg.slidingWindowPattern - 1);
    // Falcon-40B: attention reads attn_norm_2 (HF ln_attn), the mlp attn_norm (ln_mlp) — llama.cpp's build.
    const h = norm(x, cfg.parallelBlockTwoNorms ? `${p}.attn_norm_2` : `${p}.attn_norm`);
    let q: Float64Array[], k: Float64Array[], v: Float64Array[];
    const qkv = mat(`${p}.attn_qkv.weight`);
    if (qkv) {
      const all = lin(h, qkv, vec(`${p}.attn_qkv.bias`));
      q = all.map((r) => r.slice(0, H * D)); k = all.map((r) => r.slice(H * D, (H + Hk) * D)); v = all.map((r) => r.slice((H + Hk) * D));
    } else {
      q = lin(h, mat(`${p}.attn_q.weight`)!, vec(`${p}.attn_q.bias`));
      k = lin(h, mat(`${p}.attn_k.weight`)!, vec(`${p}.attn_k.bias`));
      v = lin(h, mat(`${p}.attn_v.weight`)!, vec(`${p}.attn_v.bias`));
    }
    const headNorm = (rows: Float64Array[], nh: number, w: Float64Array) => rows.map((r) => {
      const o = new Float64Array(r.length);
      for (let hh = 0; hh < nh; hh++) {
        let ss = 0;
        for (let d = 0; d < D; d++) ss += r[hh * D + d] ** 2;
        const inv = 1 / Math.sqrt(ss / D + cfg.normEps);
        for (let d = 0; d < D; d++) o[hh * D + d] = r[hh * D + d] * inv * (w[d] + cfg.normWeightOffset);
      }
      return o;
    });
    if (cfg.qkNorm) { q = headNorm(q, H, vec(`${p}.attn_q_norm.weight`)!); k = headNorm(k, Hk, vec(`${p}.attn_k_norm.weight`)!); }
    if (cfg.rope) {
      const tab = ropeTable(cfg, sliding && cfg.ropeLocalTheta !== null ? { theta: cfg.ropeLocalTheta, noScaling: true } : {})!;
      const half = cfg.rope.dims / 2;
      const rot = (rows: Float64Array[], nh: number) => rows.forEach((r, t) => {
        for (let hh = 0; hh < nh; hh++) for (let i = 0; i < half; i++) {
          const a = hh * D + (tab.neox ? i : 2 * i), b = hh * D + (tab.neox ? i + half : 2 * i + 1);
          const th = t * tab.invFreq[i];
          const [x0, x1] = [r[a], r[b]];
          r[a] = (x0 * Math.cos(th) - x1 * Math.sin(th)) * tab.mscale;
          r[b] = (x0 * Math.sin(th) + x1 * Math.cos(th)) * tab.mscale;
        }
      });
      rot(q, H); rot(k, Hk);
    }
    const scale = cfg.attnScale ?? 1 / Math.sqrt(D);
    const att = q.map(() => new Float64Array(H * D));
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / (H / Hk));
      for (let t = 0; t < T; t++) {
        const s: number[] = [];
        for (let j = 0; j < T; j++) {
          if (j > t || (sliding && t - j >= cfg.slidingWindow!)) { s.push(-Infinity); continue; }
          let d = 0;
          for (let e = 0; e < D; e++) d += q[t][hh * D + e] * k[j][g * D + e];
          d *= scale;
          if (cfg.attnLogitSoftcap) d = cfg.attnLogitSoftcap * Math.tanh(d / cfg.attnLogitSoftcap);
          if (slopes) d += slopes[hh] * (j - t);
          s.push(d);
        }
        const mx = Math.max(...s), e = s.map((a) => Math.exp(a - mx)), z = e.reduce((a, b) => a + b);
        for (let j = 0; j <= t; j++) for (let d = 0; d < D; d++) att[t][hh * D + d] += (e[j] / z) * v[j][g * D + d];
      }
    }
    let o = lin(att, mat(`${p}.attn_output.weight`)!, vec(`${p}.attn_output.bias`));
    if (cfg.postNorms) o = norm(o, `${p}.post_attention_norm`);
    const ffn = (z: Float64Array[]) => {
      const upW = mat(`${p}.ffn_up.weight`)!;
      let gate = mat(`${p}.ffn_gate.weight`), up = upW, upB = vec(`${p}.ffn_up.bias`);
      if (cfg.gatedFfn && !gate) { // fused [gate; up]
        const F = cfg.ffnDim;
        gate = { w: upW.w.slice(0, F * C), rows: F, cols: C };
        up = { w: upW.w.slice(F * C), rows: F, cols: C };
        upB = null;
      }
      const u = lin(z, up, upB);
      const a = gate ? lin(z, gate, vec(`${p}.ffn_gate.bias`)).map((r, i) => r.map((gv, j) => act(gv) * u[i][j])) : u.map((r) => r.map(act));
      return lin(a, mat(`${p}.ffn_down.weight`)!, vec(`${p}.ffn_down.bias`));
    };
    if (cfg.parallelBlock) {
      const f = ffn(cfg.parallelBlockTwoNorms ? norm(x, `${p}.attn_norm`) : h);
      x = x.map((r, t) => r.map((a, c) => a + o[t][c] + f[t][c]));
    } else {
      x = x.map((r, t) => r.map((a, c) => a + o[t][c]));
      let f = ffn(norm(x, `${p}.ffn_norm`));
      if (cfg.postNorms) f = norm(f, `${p}.post_ffw_norm`);
      x = x.map((r, t) => r.map((a, c) => a + f[t][c]));
    }
  }
  x = norm(x, 'output_norm');
  const out = mat('output.weight') ?? E;
  return lin(x, out, null).map((r) => (cfg.finalLogitSoftcap ? r.map((a) => cfg.finalLogitSoftcap! * Math.tanh(a / cfg.finalLogitSoftcap!)) : r));
}

const VARIANTS = ['llama', 'llama3', 'mistral', 'qwen2', 'yarn', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'gpt2', 'bloom', 'falcon', 'falcon40b', 'chatglm'] as const;

for (const fam of VARIANTS) {
  test(`${fam}: forward pass equals the dense float64 textbook transformer`, () => {
    const model = tinyModel(tinyConfig(fam), { seed: 31 });
    const tokens = [3, 141, 59, 26, 53, 58, 97, 93, 238, 46, 2];
    const want = denseLogits(model, tokens); // before the engine splits fused tensors: reads them fused
    const eng = new Engine(model, referenceKernels, { kvTokens: 64, blockSize: 4 });
    const got = eng.step([{ seq: eng.createSequence(), tokens, logits: 'all' }])[0].logits!;
    const V = model.config.vocabSize;
    let worst = 0;
    for (let t = 0; t < tokens.length; t++) for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(got[t * V + i] - want[t][i]) / (1 + Math.abs(want[t][i])));
    assert.ok(worst < 1e-4, `max relative error ${worst}`);
  });
}

test('rope tables: llama3 equals the converter\'s rope_freqs, yarn equals the HF formula, linear divides', () => {
  const cfg: ModelConfig = tinyConfig('llama3', { headDim: 64, rope: { theta: 500000, dims: 64, style: 'normal', scaling: { type: 'llama3', factor: 8, originalContext: 8192, lowFreqFactor: 1, highFreqFactor: 4 } } });
  const base = ropeTable({ ...cfg, rope: { ...cfg.rope!, scaling: null } })!.invFreq;
  const l3 = ropeTable(cfg)!.invFreq;
  const ff = llama3RopeFreqs(cfg);
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(l3[i] - base[i] / ff[i]) <= 1e-6 * base[i], `llama3 pair ${i}`);
  assert.ok(ff.some((f) => f === 1) && ff.some((f) => f === 8) && ff.some((f) => f > 1 && f < 8), 'all three regimes covered');
  const viaTensor = ropeTable(cfg, { freqFactors: ff })!.invFreq;
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(viaTensor[i] - l3[i]) <= 1e-6 * base[i]);

  // HF _compute_yarn_parameters, written out
  const dim = 64, theta = 1e6, factor = 4, orig = 4096;
  const y = ropeTable(tinyConfig('yarn', { rope: { theta, dims: dim, style: 'neox', scaling: { type: 'yarn', factor, originalContext: orig } } }))!;
  const corr = (rot: number) => (dim * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
  const low = Math.max(Math.floor(corr(32)), 0), high = Math.min(Math.ceil(corr(1)), dim - 1);
  for (let i = 0; i < dim / 2; i++) {
    const posFreq = theta ** ((2 * i) / dim);
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const extra = 1 - ramp;
    const want = (1 / (factor * posFreq)) * (1 - extra) + (1 / posFreq) * extra;
    assert.ok(Math.abs(y.invFreq[i] - want) <= 1e-6 * want, `yarn pair ${i}`);
  }
  assert.ok(Math.abs(y.mscale - (0.1 * Math.log(factor) + 1)) < 1e-12);
  const lin = ropeTable(tinyConfig('llama', { rope: { theta: 10000, dims: 16, style: 'normal', scaling: { type: 'linear', factor: 2 } } }))!;
  assert.ok(Math.abs(lin.invFreq[3] - 10000 ** (-6 / 16) / 2) < 1e-9);
});
