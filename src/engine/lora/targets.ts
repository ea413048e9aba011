/**
 * Where a LoRA module lands in the base model. Adapters name modules the way their source does
 * (PEFT: HF module paths; GGUF: canonical names, possibly fused), while the base model's weights
 * are canonical and already split (attn_q/k/v, ffn_gate/up). A target is therefore one or more
 * canonical weights, each taking a row slice of B (A is shared), after the same row permutation
 * the loader applied to the base weight (LLaMA q/k rope permutation, BLOOM/Falcon qkv reorder) —
 * so B·A lines up with the base rows exactly as llama.cpp's converters arrange it.
 */
import type { WeightTensor } from '../kernels/types.ts';
import type { ModelConfig } from '../model/config.ts';
import { canonicalHfName, planHf } from '../model/names.ts';
import { modelError } from '../../util/errors.ts';

export interface LoraTarget {
  /** Canonical name of the (possibly fused) weight, e.g. blk.0.attn_qkv.weight. */
  fused: string;
  /** New B row r = old B row perm[r] (null = identity). */
  perm: Int32Array | null;
  /** Consecutive row slices of B → canonical base weights. */
  parts: Array<{ name: string; rows: number }>;
}

type TensorMap = Map<string, WeightTensor | Float32Array>;

export const wrongBase = (what: string, path: string, details?: Record<string, unknown>) =>
  modelError(`${path}: ${what}`, { code: 'adapter_mismatch', param: 'adapter', hint: 'maybe wrong base model? The adapter must be trained on this exact base architecture and size', details });

/** A fused canonical name (attn_qkv; ChatGLM's 2F-row ffn_up) → the split weights the base holds. */
function partsOf(cfg: ModelConfig, tensors: TensorMap, name: string, bRows: number): Array<{ name: string; rows: number }> {
  const w = tensors.get(name);
  const m = /^(blk\.\d+)\.(attn_qkv|ffn_up)\.weight$/.exec(name);
  if (m && m[2] === 'attn_qkv') {
    const q = cfg.nHeads * cfg.headDim, kv = cfg.nKvHeads * cfg.headDim;
    return [{ name: `${m[1]}.attn_q.weight`, rows: q }, { name: `${m[1]}.attn_k.weight`, rows: kv }, { name: `${m[1]}.attn_v.weight`, rows: kv }];
  }
  if (m && cfg.gatedFfn && bRows === 2 * cfg.ffnDim) {
    return [{ name: `${m[1]}.ffn_gate.weight`, rows: cfg.ffnDim }, { name: `${m[1]}.ffn_up.weight`, rows: cfg.ffnDim }];
  }
  return [{ name, rows: w && !(w instanceof Float32Array) ? w.rows : bRows }];
}

/** A PEFT module path (e.g. `model.layers.3.self_attn.q_proj`) → its target in the base. */
export function peftTarget(cfg: ModelConfig, tensors: TensorMap, module: string, path: string): LoraTarget {
  const hfName = `${module}.weight`;
  const canon = canonicalHfName(cfg.family, hfName);
  if (!canon) throw wrongBase(`module ${module} is not a ${cfg.family} weight`, path, { module });
  if (canon === 'output.weight' || canon === 'token_embd.weight') {
    throw modelError(`${path}: LoRA on ${module} (embeddings / output head) is not supported`, { code: 'unsupported_adapter', param: 'adapter', hint: 'train the adapter on the attention and MLP projections only' });
  }
  const plan = planHf(cfg, [hfName], path)[0];
  const parts = plan.split ?? [{ name: canon, rows: (tensors.get(canon) as WeightTensor | undefined)?.rows ?? -1 }];
  return check(tensors, plan.split ? plan.target : canon, plan.perm ?? null, parts, path, module);
}

/** A canonical GGUF weight name (possibly fused) with B of `bRows` rows → its target in the base. */
export function ggufTarget(cfg: ModelConfig, tensors: TensorMap, name: string, path: string, bRows: number): LoraTarget {
  if (name === 'output.weight' || name === 'token_embd.weight') {
    throw modelError(`${path}: LoRA on ${name} is not supported`, { code: 'unsupported_adapter', param: 'adapter', hint: 'use an adapter without embedding / output-head LoRA' });
  }
  return check(tensors, name, null, partsOf(cfg, tensors, name, bRows), path, name);
}

function check(tensors: TensorMap, fused: string, perm: Int32Array | null, parts: Array<{ name: string; rows: number }>, path: string, module: string): LoraTarget {
  for (const p of parts) {
    const w = tensors.get(p.name);
    if (!w || w instanceof Float32Array) throw wrongBase(`module ${module} targets ${p.name}, which the base model does not have`, path, { module });
    if (w.rows !== p.rows) throw wrongBase(`module ${module}: ${p.name} has ${w.rows} rows, the adapter expects ${p.rows}`, path, { module });
  }
  return { fused, perm, parts };
}
