/**
 * A random LoRA adapter for a tiny model, written in both formats people use:
 *
 * - a PEFT folder: adapter_config.json + adapter_model.safetensors with keys
 *   `base_model.model.<module>.lora_A.weight` (R, in) and `.lora_B.weight` (out, R);
 * - a GGUF LoRA (what llama.cpp's convert_lora_to_gguf.py writes): general.type 'adapter',
 *   adapter.type 'lora', adapter.lora.alpha, tensors `<base gguf name>.lora_a` (ne [in, R]) and
 *   `.lora_b` (ne [R, out]). The converter pushes B through the same row transforms as the base
 *   weight (LLaMA q/k permutation, BLOOM/Falcon QKV regrouping); A is unchanged.
 *
 * GPT-2's Conv1D modules: PEFT keeps A (R, in) and B (out, R) (fan_in_fan_out only changes the
 * merge), so the GGUF factors are the same as for a Linear. (llama.cpp's converter transposes the
 * factors of Conv1D modules as if they were the base weight, which gives wrong shapes; we write
 * what llama.cpp's runtime expects.)
 *
 * `mergeTinyLora` folds an adapter into a copy of the base's HF tensors (W' = W + scale·B·A),
 * so a test can check "base + adapter" against a merged model in any engine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../kernels/types.ts';
import { BLOCK } from '../kernels/types.ts';
import { gg, writeGguf, type GgufTensorInput } from '../formats/gguf-write.ts';
import { writeSafetensors } from '../formats/safetensors-write.ts';
import { Rng } from './rng.ts';
import { bloomQkvToGguf, falconQkvToGguf, hfToGguf, permuteRope, type HfTensor, type TinyModel } from './tiny-models.ts';

export interface TinyLoraOptions {
  rank?: number; // R, default 4
  alpha?: number; // default 8 (scale α/R = 2)
  seed?: number;
  /** PEFT target_modules (module leaf names). Default: every linear layer of the family. */
  targets?: string[];
  /** Storage type of the GGUF factors (f32, f16, bf16 or q8_0 — what the converter offers). Default f32. */
  dtype?: DType;
  /** Only layers with these indices (default all). */
  layers?: number[];
}

export interface TinyLoraModule {
  /** HF module path (`model.layers.0.self_attn.q_proj`). */
  hfModule: string;
  /** Canonical base tensor name (`blk.0.attn_q.weight`). */
  ggufName: string;
  /** A (R, in) and B (out, R) in HF orientation and row order. */
  a: Float32Array;
  b: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

export interface TinyLora {
  rank: number;
  alpha: number;
  /** α/R: the multiplier of B·A. */
  scale: number;
  peftDir: string;
  ggufPath: string;
  modules: TinyLoraModule[];
}

/** Default targets: all linear layers (PEFT's "all-linear", minus the head). */
function defaultTargets(family: TinyModel['family']): string[] {
  switch (family) {
    case 'gpt2': return ['c_attn', 'c_proj', 'c_fc'];
    case 'bloom': case 'falcon': case 'chatglm': return ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'];
    default: return ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  }
}

/** The B rows in GGUF order: the base weight's row transform applied to B (out, R). */
function bToGguf(m: TinyModel, mod: TinyLoraModule): Float32Array {
  const { nHeads: H, nKvHeads: KV, headDim: D } = m.dims;
  const R = mod.b.length / mod.outFeatures;
  const leaf = mod.hfModule.split('.').pop()!;
  if (m.arch === 'llama' && leaf === 'q_proj') return permuteRope(mod.b, mod.outFeatures, R, H);
  if (m.arch === 'llama' && leaf === 'k_proj') return permuteRope(mod.b, mod.outFeatures, R, KV);
  if (m.family === 'bloom' && leaf === 'query_key_value') return bloomQkvToGguf(mod.b, H, D, R);
  if (m.family === 'falcon' && leaf === 'query_key_value') return falconQkvToGguf(mod.b, H, KV, D, R);
  return mod.b;
}

export function buildTinyLora(base: TinyModel, dir: string, opts: TinyLoraOptions = {}): TinyLora {
  const rank = opts.rank ?? 4;
  const alpha = opts.alpha ?? 8;
  const targets = opts.targets ?? defaultTargets(base.family);
  const rng = new Rng(opts.seed ?? 7);
  const conv = base.family === 'gpt2';
  const modules: TinyLoraModule[] = [];
  for (const [name, t] of base.hf) {
    if (!name.endsWith('.weight') || t.shape.length !== 2) continue;
    const hfModule = name.slice(0, -'.weight'.length);
    const leaf = hfModule.split('.').pop()!;
    if (!targets.includes(leaf)) continue;
    const layer = hfModule.match(/\.(\d+)\./);
    if (!layer) continue; // embeddings / head are not LoRA targets here
    if (opts.layers && !opts.layers.includes(Number(layer[1]))) continue;
    const g = hfToGguf(base.family, base.dims, name, t);
    if (!g) continue;
    const [inFeatures, outFeatures] = conv ? [t.shape[0], t.shape[1]] : [t.shape[1], t.shape[0]];
    modules.push({
      hfModule, ggufName: g.name, inFeatures, outFeatures,
      a: rng.normal(rank * inFeatures, 1 / Math.sqrt(inFeatures)),
      b: rng.normal(outFeatures * rank, 0.5 / Math.sqrt(rank)),
    });
  }

  mkdirSync(dir, { recursive: true });
  const peftDir = join(dir, 'peft');
  mkdirSync(peftDir, { recursive: true });
  writeFileSync(join(peftDir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: base.hfDir ?? `tiny-${base.family}`,
    r: rank, lora_alpha: alpha, lora_dropout: 0, bias: 'none', fan_in_fan_out: conv, use_rslora: false,
    target_modules: targets, modules_to_save: null, init_lora_weights: true, inference_mode: true,
    rank_pattern: {}, alpha_pattern: {},
  }, null, 2));
  const st: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const m of modules) {
    st[`base_model.model.${m.hfModule}.lora_A.weight`] = { dtype: 'F32', shape: [rank, m.inFeatures], data: m.a };
    st[`base_model.model.${m.hfModule}.lora_B.weight`] = { dtype: 'F32', shape: [m.outFeatures, rank], data: m.b };
  }
  writeSafetensors(join(peftDir, 'adapter_model.safetensors'), st, { format: 'pt' });

  const dtype = opts.dtype ?? 'f32';
  const tensors: GgufTensorInput[] = [];
  const store = (cols: number): DType => (cols % BLOCK[dtype].elems === 0 ? dtype : 'f32');
  for (const m of modules) {
    tensors.push({ name: `${m.ggufName}.lora_a`, shape: [m.inFeatures, rank], dtype: store(m.inFeatures), data: m.a });
    tensors.push({ name: `${m.ggufName}.lora_b`, shape: [rank, m.outFeatures], dtype: store(rank), data: bToGguf(base, m) });
  }
  const ggufPath = join(dir, `adapter-${dtype}.gguf`);
  writeGguf(ggufPath, {
    metadata: [
      ['general.architecture', base.arch],
      ['general.type', 'adapter'],
      ['general.name', `tiny-${base.family}-lora`],
      ['adapter.type', 'lora'],
      ['adapter.lora.alpha', gg.f32(alpha)],
    ],
    tensors,
  });
  return { rank, alpha, scale: alpha / rank, peftDir, ggufPath, modules };
}

/** A copy of the base's HF tensors with the adapter merged: W' = W + s·B·A (Conv1D: W' = W + s·(B·A)ᵀ). */
export function mergeTinyLora(base: TinyModel, lora: TinyLora, userScale = 1): Map<string, HfTensor> {
  const out = new Map<string, HfTensor>();
  for (const [n, t] of base.hf) out.set(n, { shape: t.shape, data: t.data.slice() });
  const s = lora.scale * userScale;
  const R = lora.rank;
  for (const m of lora.modules) {
    const w = out.get(`${m.hfModule}.weight`)!.data;
    const conv = base.family === 'gpt2';
    for (let o = 0; o < m.outFeatures; o++) {
      for (let i = 0; i < m.inFeatures; i++) {
        let acc = 0;
        for (let r = 0; r < R; r++) acc += m.b[o * R + r] * m.a[r * m.inFeatures + i];
        if (conv) w[i * m.outFeatures + o] += s * acc;
        else w[o * m.inFeatures + i] += s * acc;
      }
    }
  }
  return out;
}
