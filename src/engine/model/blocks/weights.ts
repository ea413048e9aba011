/**
 * Resolve a LoadedModel's tensor map (canonical GGUF names) into typed per-layer weights once,
 * checking every shape against the config, so the forward pass never looks names up and a config
 * that does not match its weights fails at engine creation with the tensor named.
 *
 * Also absorbs two layouts the loader may leave fused: `attn_qkv` (rows [q; k; v]) is viewed as
 * three matrices, and a gated `ffn_up` with 2F rows and no `ffn_gate` (ChatGLM's
 * dense_h_to_4h) is viewed as [gate; up]. Views share bytes: nothing is copied; the views replace
 * the fused entries in the tensor map, so every later reader (LoRA targets) sees canonical names.
 */
import type { Heap } from '../../heap.ts';
import { rowBytes, type WeightTensor } from '../../kernels/types.ts';
import { modelError } from '../../../util/errors.ts';
import type { ModelConfig } from '../config.ts';

export interface Norm {
  w: Float32Array | null;
  b: Float32Array | null;
}

export interface LayerWeights {
  attnNorm: Norm;
  /** Falcon-40B: the parallel mlp's own input norm. */
  attnNorm2: Norm | null;
  ffnNorm: Norm | null;
  q: WeightTensor; k: WeightTensor; v: WeightTensor; o: WeightTensor;
  qb: Float32Array | null; kb: Float32Array | null; vb: Float32Array | null; ob: Float32Array | null;
  qNorm: Float32Array | null; kNorm: Float32Array | null;
  postAttnNorm: Float32Array | null; postFfnNorm: Float32Array | null;
  gate: WeightTensor | null; up: WeightTensor; down: WeightTensor;
  gateB: Float32Array | null; upB: Float32Array | null; downB: Float32Array | null;
  /** Canonical weight names, the keys LoRA adapters use. */
  names: { q: string; k: string; v: string; o: string; gate: string; up: string; down: string };
}

export interface ModelWeights {
  tokEmbd: WeightTensor;
  posEmbd: WeightTensor | null;
  embdNorm: Norm | null;
  outNorm: Norm;
  output: WeightTensor;
  ropeFreqs: Float32Array | null;
  layers: LayerWeights[];
}

type TensorMap = Map<string, WeightTensor | Float32Array>;

const isMatrix = (t: unknown): t is WeightTensor => !!t && !(t instanceof Float32Array) && typeof (t as WeightTensor).dtype === 'string';

/** Rows [r0, r1) of W as a view. */
export function rowSlice(w: WeightTensor, r0: number, r1: number): WeightTensor {
  const rb = rowBytes(w.dtype, w.cols);
  return { dtype: w.dtype, rows: r1 - r0, cols: w.cols, data: w.data.subarray(r0 * rb, r1 * rb) };
}

export function resolveWeights(cfg: ModelConfig, tensors: TensorMap, heap: Heap, path = 'model'): ModelWeights {
  const C = cfg.dModel, H = cfg.nHeads, Hkv = cfg.nKvHeads, D = cfg.headDim, F = cfg.ffnDim, V = cfg.vocabSize;
  const err = (msg: string) => modelError(`${path}: ${msg}`, { code: 'weights_mismatch', hint: 'the config does not match the weights: check config.json / GGUF metadata against the tensors (maybe a different model\'s file?)' });

  const mat = (name: string, rows: number | null, cols: number | null, required = true): WeightTensor | null => {
    const t = tensors.get(name);
    if (t === undefined) {
      if (required) throw err(`missing tensor ${name}`);
      return null;
    }
    if (!isMatrix(t)) throw err(`tensor ${name} should be a 2-D weight`);
    if ((rows !== null && t.rows !== rows) || (cols !== null && t.cols !== cols)) {
      throw err(`tensor ${name} is ${t.rows}×${t.cols}, config expects ${rows ?? '?'}×${cols ?? '?'}`);
    }
    return t;
  };
  const offset = cfg.normWeightOffset;
  const vec = (name: string, n: number, required: boolean, norm = false): Float32Array | null => {
    const t = tensors.get(name);
    if (t === undefined) {
      if (required) throw err(`missing tensor ${name}`);
      return null;
    }
    if (!(t instanceof Float32Array)) throw err(`tensor ${name} should be 1-D`);
    if (t.length !== n) throw err(`tensor ${name} has ${t.length} values, config expects ${n}`);
    if (norm && offset !== 0) {
      const o = heap.f32(n);
      for (let i = 0; i < n; i++) o[i] = t[i] + offset;
      return o;
    }
    return t;
  };
  const norm = (base: string, n: number, required: boolean): Norm | null => {
    const w = vec(`${base}.weight`, n, required, true);
    if (!w) return null;
    return { w, b: vec(`${base}.bias`, n, false) };
  };

  const tokEmbd = mat('token_embd.weight', V, C)!;
  const output = mat('output.weight', V, C, !cfg.tiedEmbeddings) ?? tokEmbd;
  const layers: LayerWeights[] = [];
  for (let il = 0; il < cfg.nLayers; il++) {
    const p = `blk.${il}`;
    let q = mat(`${p}.attn_q.weight`, H * D, C, false);
    let k: WeightTensor | null, v: WeightTensor | null;
    let qb: Float32Array | null = null, kb: Float32Array | null = null, vb: Float32Array | null = null;
    if (q) {
      k = mat(`${p}.attn_k.weight`, Hkv * D, C)!;
      v = mat(`${p}.attn_v.weight`, Hkv * D, C)!;
      qb = vec(`${p}.attn_q.bias`, H * D, cfg.qkvBias);
      kb = vec(`${p}.attn_k.bias`, Hkv * D, cfg.qkvBias);
      vb = vec(`${p}.attn_v.bias`, Hkv * D, cfg.qkvBias);
    } else {
      const qkv = mat(`${p}.attn_qkv.weight`, (H + 2 * Hkv) * D, C);
      if (!qkv) throw err(`missing tensor ${p}.attn_q.weight`);
      q = rowSlice(qkv, 0, H * D);
      k = rowSlice(qkv, H * D, (H + Hkv) * D);
      v = rowSlice(qkv, (H + Hkv) * D, (H + 2 * Hkv) * D);
      const b = vec(`${p}.attn_qkv.bias`, (H + 2 * Hkv) * D, cfg.qkvBias);
      if (b) {
        qb = b.subarray(0, H * D);
        kb = b.subarray(H * D, (H + Hkv) * D);
        vb = b.subarray((H + Hkv) * D);
      }
      // From here on the map holds the split views under canonical names (what LoRA targets).
      tensors.delete(`${p}.attn_qkv.weight`);
      tensors.delete(`${p}.attn_qkv.bias`);
      tensors.set(`${p}.attn_q.weight`, q); tensors.set(`${p}.attn_k.weight`, k); tensors.set(`${p}.attn_v.weight`, v);
      if (qb && kb && vb) { tensors.set(`${p}.attn_q.bias`, qb); tensors.set(`${p}.attn_k.bias`, kb); tensors.set(`${p}.attn_v.bias`, vb); }
    }
    let gate = cfg.gatedFfn ? mat(`${p}.ffn_gate.weight`, F, C, false) : null;
    let up = mat(`${p}.ffn_up.weight`, null, C)!;
    let upB = vec(`${p}.ffn_up.bias`, up.rows, cfg.ffnBias);
    let gateB: Float32Array | null = null;
    if (cfg.gatedFfn && !gate) {
      if (up.rows !== 2 * F) throw err(`missing tensor ${p}.ffn_gate.weight`);
      gate = rowSlice(up, 0, F);
      up = rowSlice(up, F, 2 * F);
      if (upB) { gateB = upB.subarray(0, F); upB = upB.subarray(F); }
      tensors.set(`${p}.ffn_gate.weight`, gate); tensors.set(`${p}.ffn_up.weight`, up);
      if (gateB && upB) { tensors.set(`${p}.ffn_gate.bias`, gateB); tensors.set(`${p}.ffn_up.bias`, upB); }
    } else if (up.rows !== F) throw err(`tensor ${p}.ffn_up.weight has ${up.rows} rows, config expects ${F}`);
    if (gate && !gateB) gateB = vec(`${p}.ffn_gate.bias`, F, false);
    layers.push({
      attnNorm: norm(`${p}.attn_norm`, C, true)!,
      attnNorm2: cfg.parallelBlockTwoNorms ? norm(`${p}.attn_norm_2`, C, true) : null,
      ffnNorm: norm(`${p}.ffn_norm`, C, !cfg.parallelBlock),
      q, k, v, o: mat(`${p}.attn_output.weight`, C, H * D)!,
      qb, kb, vb, ob: vec(`${p}.attn_output.bias`, C, cfg.outBias),
      qNorm: cfg.qkNorm ? vec(`${p}.attn_q_norm.weight`, D, true, true) : null,
      kNorm: cfg.qkNorm ? vec(`${p}.attn_k_norm.weight`, D, true, true) : null,
      postAttnNorm: cfg.postNorms ? vec(`${p}.post_attention_norm.weight`, C, true, true) : null,
      postFfnNorm: cfg.postNorms ? vec(`${p}.post_ffw_norm.weight`, C, true, true) : null,
      gate, up, down: mat(`${p}.ffn_down.weight`, C, F)!,
      gateB, upB, downB: vec(`${p}.ffn_down.bias`, C, cfg.ffnBias),
      names: {
        q: `${p}.attn_q.weight`, k: `${p}.attn_k.weight`, v: `${p}.attn_v.weight`, o: `${p}.attn_output.weight`,
        gate: `${p}.ffn_gate.weight`, up: `${p}.ffn_up.weight`, down: `${p}.ffn_down.weight`,
      },
    });
  }
  const rf = tensors.get('rope_freqs.weight');
  return {
    tokEmbd,
    posEmbd: cfg.positionEmbeddings ? mat('position_embd.weight', null, C)! : null,
    embdNorm: cfg.embedNorm ? norm('token_embd_norm', C, true) : null,
    outNorm: norm('output_norm', C, true)!,
    output,
    ropeFreqs: rf instanceof Float32Array ? rf : null,
    layers,
  };
}
