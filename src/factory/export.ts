/**
 * Export a trained adapter (factors keyed by canonical weight name, B rows in the base's canonical
 * row order) in the two layouts people load:
 *
 * - PEFT: adapter_config.json + adapter_model.safetensors, keys
 *   `base_model.model.<HF module>.lora_A.weight` (R, in) and `.lora_B.weight` (out, R). B rows go
 *   back to HF order: the loader permuted the base rows (LLaMA q/k rope permutation), so
 *   hf[perm[r]] = canonical[r].
 * - GGUF LoRA (llama.cpp): general.type=adapter, adapter.type=lora, adapter.lora.alpha;
 *   `<canonical name>.lora_a` (ne [in, R]) and `.lora_b` (ne [R, out]) in canonical order —
 *   exactly what llama.cpp's runtime applies as scale·B·(A·x).
 *
 * Fused HF modules (GPT-2 `c_attn`, BLOOM/Falcon/ChatGLM `query_key_value`, ChatGLM's gate+up
 * `dense_h_to_4h`) hold several canonical weights, each trained with its own A (R, in) and B. PEFT
 * has one A and one B per module, so the parts are exported exactly as a rank-P·R factor pair:
 * A = [A_1; …; A_P] and B block-diagonal (part p's B rows in its own rows and rank columns), so
 * B·A·x = [B_1·A_1·x; …; B_P·A_P·x]; `rank_pattern` / `alpha_pattern` give the module its rank
 * and the alpha that keeps the trained scale.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedModel, LoraFactors } from '../engine/index.ts';
import { canonicalHfName, planHf, unpermuteRows } from '../engine/model/names.ts';
import { writeSafetensors } from '../engine/formats/safetensors-write.ts';
import { gg, writeGguf, type GgufTensorInput } from '../engine/formats/gguf-write.ts';
import { invalid } from '../util/errors.ts';

/** PEFT module paths of layer i, as transformers names them, for every family the engine loads. */
const hfModules = (i: string) => [
  ...['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'].map((l) => `model.layers.${i}.${l}`),
  ...['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'].map((l) => `transformer.h.${i}.${l}`), // GPT-2
  ...['self_attention.query_key_value', 'self_attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h'].map((l) => `transformer.h.${i}.${l}`), // BLOOM, Falcon
  ...['self_attention.query_key_value', 'self_attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h'].map((l) => `transformer.encoder.layers.${i}.${l}`), // ChatGLM
];

/** Where a canonical weight lives in the HF checkpoint: the module, the loader's row permutation of it, and its rows there (a split part of a fused module). */
interface HfPlace { module: string; perm: Int32Array | null; parts: Array<{ name: string; rows: number }> }

function hfPlaceOf(model: Pick<LoadedModel, 'config'>, canonical: string): HfPlace {
  const m = /^blk\.(\d+)\./.exec(canonical);
  if (m) {
    for (const module of hfModules(m[1])) {
      const hf = `${module}.weight`;
      const target = canonicalHfName(model.config.family, hf);
      if (!target) continue;
      const plan = planHf(model.config, [hf], 'export')[0];
      const parts = plan.split ?? [{ name: plan.target, rows: -1 }];
      if (parts.some((p) => p.name === canonical)) return { module, perm: plan.perm ?? null, parts };
    }
  }
  throw invalid(`PEFT export of ${canonical} is not supported for ${model.config.family} models`, {
    param: 'export', code: 'unsupported_export', hint: 'LoRA on embeddings, norms and the output head is not exported; use the GGUF LoRA export',
  });
}

export interface ExportResult {
  peftDir: string;
  ggufPath: string;
  /** 0x sha256 of adapter_model.safetensors. */
  adapterHash: `0x${string}`;
  ggufHash: `0x${string}`;
}

const fileHash = (p: string) => `0x${createHash('sha256').update(readFileSync(p)).digest('hex')}` as `0x${string}`;

export function exportPeft(dir: string, model: Pick<LoadedModel, 'config'>, factors: Record<string, LoraFactors>, opts: { baseModel: string; targets: string[] }): string {
  const entries = Object.entries(factors);
  if (!entries.length) throw invalid('the adapter has no modules to export', { code: 'empty_adapter' });
  const { rank, alpha, rsLora } = entries[0][1];
  const scale = rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
  // group the canonical factors by HF module (a fused module collects its parts)
  const byModule = new Map<string, { place: HfPlace; factors: Map<string, LoraFactors> }>();
  for (const [name, f] of entries) {
    if (f.rank !== rank || f.alpha !== alpha || !!f.rsLora !== !!rsLora) throw invalid('PEFT export needs one rank and alpha for every module', { code: 'unsupported_export' });
    const place = hfPlaceOf(model, name);
    const g = byModule.get(place.module) ?? { place, factors: new Map() };
    g.factors.set(name, f);
    byModule.set(place.module, g);
  }
  const st: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const leaves = new Set<string>();
  const rankPattern: Record<string, number> = {}, alphaPattern: Record<string, number> = {};
  for (const [module, { place, factors: fs }] of byModule) {
    const fused = place.parts.length > 1;
    // the parts trained, in the module's row order; untrained parts of a fused module get no rank
    const parts = place.parts.map((p, i) => ({ ...p, offset: place.parts.slice(0, i).reduce((s, q) => s + q.rows, 0), f: fs.get(p.name) })).filter((p) => p.f);
    const K = parts[0].f!.a.length / rank;
    const R = rank * parts.length;
    const N = fused ? place.parts.reduce((s, p) => s + p.rows, 0) : parts[0].f!.b.length / rank;
    const a = new Float32Array(R * K);
    const bc = new Float32Array(N * R); // canonical row order, block-diagonal over the parts
    parts.forEach((p, j) => {
      a.set(p.f!.a, j * rank * K);
      const rows = p.f!.b.length / rank, off = fused ? p.offset : 0;
      for (let r = 0; r < rows; r++) bc.set(p.f!.b.subarray(r * rank, (r + 1) * rank), (off + r) * R + j * rank);
    });
    // back to HF row order: the loader's new row r is HF row perm[r]
    const b = place.perm ? unpermuteRows(bc, R, place.perm) : bc;
    st[`base_model.model.${module}.lora_A.weight`] = { dtype: 'F32', shape: [R, K], data: a };
    st[`base_model.model.${module}.lora_B.weight`] = { dtype: 'F32', shape: [N, R], data: b };
    leaves.add(module.split('.').pop()!);
    if (R !== rank) {
      rankPattern[module] = R;
      alphaPattern[module] = rsLora ? scale * Math.sqrt(R) : scale * R; // the same scale at rank R
    }
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), st, { format: 'pt' });
  const cfg = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: opts.baseModel, r: rank, lora_alpha: alpha, lora_dropout: 0,
    bias: 'none', fan_in_fan_out: model.config.family === 'gpt2', use_rslora: !!rsLora, target_modules: [...leaves].sort(), modules_to_save: null,
    init_lora_weights: true, inference_mode: true, rank_pattern: rankPattern, alpha_pattern: alphaPattern,
  };
  writeJsonAtomic(join(dir, 'adapter_config.json'), cfg);
  return dir;
}

/**
 * GGUF LoRA. llama.cpp scales by adapter.lora.alpha / rank; for rsLoRA (α/√R) we store the alpha
 * that gives the same scale (α·√R), so both engines apply the trained scale.
 */
export function exportGguf(path: string, model: Pick<LoadedModel, 'config'>, factors: Record<string, LoraFactors>, opts: { name: string }): string {
  const entries = Object.entries(factors);
  if (!entries.length) throw invalid('the adapter has no modules to export', { code: 'empty_adapter' });
  const { rank, alpha, rsLora } = entries[0][1];
  const tensors: GgufTensorInput[] = [];
  for (const [name, f] of entries) {
    if (f.rank !== rank || f.alpha !== alpha) throw invalid('GGUF LoRA export needs one rank and alpha for every module', { code: 'unsupported_export' });
    const K = f.a.length / rank, N = f.b.length / rank;
    tensors.push({ name: `${name}.lora_a`, shape: [K, rank], dtype: 'f32', data: f.a });
    tensors.push({ name: `${name}.lora_b`, shape: [rank, N], dtype: 'f32', data: f.b });
  }
  writeGguf(path, {
    metadata: [
      ['general.architecture', model.config.arch],
      ['general.type', 'adapter'],
      ['general.name', opts.name],
      ['adapter.type', 'lora'],
      ['adapter.lora.alpha', gg.f32(rsLora ? alpha * Math.sqrt(rank) : alpha)],
    ],
    tensors,
  });
  return path;
}

/** Both exports into `dir` (peft/ and adapter.gguf) with their hashes. */
export function exportAdapter(dir: string, model: Pick<LoadedModel, 'config'>, factors: Record<string, LoraFactors>, opts: { baseModel: string; name: string }): ExportResult {
  const peftDir = exportPeft(join(dir, 'peft'), model, factors, { baseModel: opts.baseModel, targets: [] });
  const ggufPath = exportGguf(join(dir, 'adapter.gguf'), model, factors, { name: opts.name });
  return { peftDir, ggufPath, adapterHash: fileHash(join(peftDir, 'adapter_model.safetensors')), ggufHash: fileHash(ggufPath) };
}

function writeJsonAtomic(path: string, v: unknown) {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(v, null, 2));
  renameSync(tmp, path);
}
