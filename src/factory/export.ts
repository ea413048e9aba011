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
 * Only un-fused targets are exported (one canonical weight per HF module); families whose HF
 * checkpoints fuse QKV (GPT-2, BLOOM, Falcon, ChatGLM) share one A across q/k/v in PEFT, which
 * separately trained q/k/v factors cannot express — a clear error says so.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedModel, LoraFactors } from '../engine/index.ts';
import { canonicalHfName, planHf } from '../engine/model/names.ts';
import { writeSafetensors } from '../engine/formats/safetensors-write.ts';
import { gg, writeGguf, type GgufTensorInput } from '../engine/formats/gguf-write.ts';
import { invalid } from '../util/errors.ts';

/** HF module leaf names tried for each layer (LLaMA-like checkpoints, which all the un-fused families use). */
const HF_LEAVES = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];

/** Canonical weight name → HF module path and the loader's row permutation (null = identity). */
function hfModuleOf(model: Pick<LoadedModel, 'config'>, canonical: string): { module: string; perm: Int32Array | null } {
  const m = /^blk\.(\d+)\./.exec(canonical);
  if (m) {
    for (const leaf of HF_LEAVES) {
      const hf = `model.layers.${m[1]}.${leaf}.weight`;
      if (canonicalHfName(model.config.family, hf) === canonical) {
        const plan = planHf(model.config, [hf], 'export')[0];
        if (!plan.split) return { module: hf.slice(0, -'.weight'.length), perm: plan.perm ?? null };
      }
    }
  }
  throw invalid(`PEFT export of ${canonical} is not supported for ${model.config.family} models`, {
    param: 'export', code: 'unsupported_export', hint: 'this family fuses the module in its HF checkpoint; use the GGUF LoRA export, or train on q, v, o, gate, up, down of a LLaMA-like model',
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
  const st: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const modules = new Set<string>();
  for (const [name, f] of entries) {
    if (f.rank !== rank || f.alpha !== alpha) throw invalid('PEFT export needs one rank and alpha for every module', { code: 'unsupported_export' });
    const { module, perm } = hfModuleOf(model, name);
    const K = f.a.length / rank, N = f.b.length / rank;
    let b = f.b;
    if (perm) {
      b = new Float32Array(f.b.length);
      for (let r = 0; r < N; r++) b.set(f.b.subarray(r * rank, (r + 1) * rank), perm[r] * rank);
    }
    st[`base_model.model.${module}.lora_A.weight`] = { dtype: 'F32', shape: [rank, K], data: f.a };
    st[`base_model.model.${module}.lora_B.weight`] = { dtype: 'F32', shape: [N, rank], data: b };
    modules.add(module.split('.').pop()!);
  }
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'adapter_model.safetensors'), st, { format: 'pt' });
  const cfg = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: opts.baseModel, r: rank, lora_alpha: alpha, lora_dropout: 0,
    bias: 'none', fan_in_fan_out: false, use_rslora: !!rsLora, target_modules: [...modules].sort(), modules_to_save: null,
    init_lora_weights: true, inference_mode: true, rank_pattern: {}, alpha_pattern: {},
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
