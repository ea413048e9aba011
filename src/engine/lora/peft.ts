/**
 * PEFT LoRA folders: adapter_config.json + adapter_model.safetensors, keys
 * `base_model.model.<module path>.lora_A.weight` (R, in) and `.lora_B.weight` (out, R).
 * Scale α/R, or α/√R with use_rslora; rank_pattern / alpha_pattern override per module.
 * GPT-2 Conv1D adapters (fan_in_fan_out) keep A/B in the Linear orientation, so nothing is
 * transposed. Everything is checked against the base: architecture, module names, shapes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedModel } from '../model/load.ts';
import type { LoraAdapter, LoraPair } from './adapter.ts';
import { openSafetensors, readSafetensorsTensor, type SafetensorsTensorInfo } from '../formats/safetensors.ts';
import { bf16ToF32, f16ToF32 } from '../tensor/half.ts';
import { peftTarget, wrongBase } from './targets.ts';
import { buildPairs } from './build.ts';
import { modelError } from '../../util/errors.ts';

export interface AdapterLoadOptions {
  /** Extra multiplier on every module's scale (default 1). */
  scale?: number;
  /** Display name (default: the folder / file name). */
  name?: string;
}

interface PeftConfig {
  peft_type?: string;
  r?: number;
  lora_alpha?: number;
  use_rslora?: boolean;
  use_dora?: boolean;
  target_modules?: string[] | string;
  fan_in_fan_out?: boolean;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  base_model_name_or_path?: string;
}

function tensorF32(t: SafetensorsTensorInfo, path: string): Float32Array {
  const raw = new Uint8Array(t.nbytes);
  readSafetensorsTensor(t, raw);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.dtype === 'F32') return new Float32Array(raw.buffer, 0, n);
  const out = new Float32Array(n);
  if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(raw[2 * i] | (raw[2 * i + 1] << 8));
  else if (t.dtype === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToF32(raw[2 * i] | (raw[2 * i + 1] << 8));
  else throw modelError(`${path}: tensor ${t.name} has dtype ${t.dtype}; LoRA factors must be F32, F16 or BF16`, { code: 'unsupported_adapter', param: 'adapter' });
  return out;
}

/** The pattern value for a module: exact key, or a key the module path ends with. */
function patternFor(p: Record<string, number> | undefined, module: string): number | undefined {
  if (!p) return undefined;
  for (const [k, v] of Object.entries(p)) if (module === k || module.endsWith(`.${k}`) || new RegExp(`^(?:${k})$`).test(module)) return v;
  return undefined;
}

export function loadPeftAdapter(dir: string, base: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, opts: AdapterLoadOptions = {}): Omit<LoraAdapter, 'id'> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw modelError(`${dir} is not a PEFT adapter folder`, { code: 'adapter_not_found', param: 'adapter', hint: 'pass a folder with adapter_config.json and adapter_model.safetensors, or a GGUF LoRA file' });
  }
  const cfgPath = join(dir, 'adapter_config.json');
  let pc: PeftConfig;
  try {
    pc = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw modelError(`${cfgPath}: cannot read the adapter config (${(e as Error).message})`, { code: 'invalid_adapter', param: 'adapter', hint: 'a PEFT adapter folder needs a valid adapter_config.json' });
  }
  if ((pc.peft_type ?? 'LORA').toUpperCase() !== 'LORA') throw modelError(`${cfgPath}: peft_type ${pc.peft_type} is not LORA`, { code: 'unsupported_adapter', param: 'adapter', hint: 'only LoRA adapters are supported' });
  if (pc.use_dora) throw modelError(`${cfgPath}: DoRA adapters are not supported`, { code: 'unsupported_adapter', param: 'adapter', hint: 'retrain without use_dora' });
  const r0 = pc.r ?? 8, alpha0 = pc.lora_alpha ?? 8;
  if (!(Number.isInteger(r0) && r0 > 0)) throw modelError(`${cfgPath}: r must be a positive integer, got ${pc.r}`, { code: 'invalid_adapter', param: 'adapter' });
  const weights = join(dir, 'adapter_model.safetensors');
  if (!existsSync(weights)) throw modelError(`${dir}: no adapter_model.safetensors`, { code: 'invalid_adapter', param: 'adapter', hint: 'PyTorch adapter_model.bin files are not supported; save with safe_serialization=True' });
  const st = openSafetensors(weights);

  // Group tensors by module: base_model.model.<module>.lora_{A,B}[.<adapter name>].weight
  const modules = new Map<string, { a?: SafetensorsTensorInfo; b?: SafetensorsTensorInfo }>();
  const unknown: string[] = [];
  for (const [name, t] of st.tensors) {
    const m = /^(?:base_model\.model\.)?(.+)\.lora_(A|B)(?:\.[^.]+)?\.weight$/.exec(name);
    if (!m) { unknown.push(name); continue; }
    const e = modules.get(m[1]) ?? {};
    if (m[2] === 'A') e.a = t; else e.b = t;
    modules.set(m[1], e);
  }
  if (unknown.length) {
    throw modelError(`${weights}: tensors that are not LoRA factors: ${unknown.slice(0, 4).join(', ')}${unknown.length > 4 ? ', …' : ''}`, {
      code: 'unsupported_adapter', param: 'adapter', hint: 'embedding LoRA, modules_to_save and bias training are not supported',
    });
  }
  if (!modules.size) throw modelError(`${weights}: no LoRA tensors`, { code: 'invalid_adapter', param: 'adapter' });

  const out = new Map<string, LoraPair>();
  const views: ArrayBufferView[] = [];
  let bytes = 0, maxRank = 0;
  try {
  for (const [module, { a, b }] of modules) {
    if (!a || !b) throw modelError(`${weights}: module ${module} has lora_${a ? 'A' : 'B'} but no lora_${a ? 'B' : 'A'}`, { code: 'invalid_adapter', param: 'adapter' });
    if (a.shape.length !== 2 || b.shape.length !== 2) throw wrongBase(`${module}: LoRA factors must be 2-D`, weights, { module });
    const R = a.shape[0];
    if (b.shape[1] !== R) throw wrongBase(`${module}: lora_A is ${a.shape.join('×')} but lora_B is ${b.shape.join('×')} (ranks differ)`, weights, { module });
    const expectR = patternFor(pc.rank_pattern, module) ?? r0;
    if (R !== expectR) throw modelError(`${weights}: ${module} has rank ${R}, adapter_config.json says ${expectR}`, { code: 'invalid_adapter', param: 'adapter' });
    const alpha = patternFor(pc.alpha_pattern, module) ?? alpha0;
    const scale = (pc.use_rslora ? alpha / Math.sqrt(R) : alpha / R) * (opts.scale ?? 1);
    const target = peftTarget(base.config, base.tensors, module, weights);
    const built = buildPairs(base.heap, base.tensors, target, tensorF32(a, weights), tensorF32(b, weights), R, scale, weights, module);
    for (const [n, p] of built.pairs) {
      if (out.has(n)) throw modelError(`${weights}: two modules map to ${n}`, { code: 'invalid_adapter', param: 'adapter' });
      out.set(n, p);
    }
    views.push(...built.views);
    bytes += built.bytes;
    maxRank = Math.max(maxRank, R);
  }
  } catch (e) {
    for (const v of views) base.heap.free(v);
    throw e;
  }
  return {
    name: opts.name ?? dir.replace(/\/+$/, '').split('/').pop()!, source: { format: 'peft', path: dir },
    rank: maxRank, alpha: alpha0, modules: out, bytes, heapViews: views,
  };
}
