/**
 * GGUF LoRA files (llama.cpp's convert_lora_to_gguf.py): general.type = "adapter",
 * general.architecture = the base's, adapter.type = "lora", adapter.lora.alpha; tensors
 * `<base weight>.lora_a` with ggml ne = [in, R] (row-major (R, in) = PEFT's A) and `.lora_b` with
 * ne = [R, out] ((out, R) = B). Factors keep their file dtype (f32/f16/bf16/q8_0) on the heap.
 * Scale as llama.cpp: alpha ? alpha/R : 1 (R = ne[0] of lora_b), times the user scale.
 * Names are canonical; fused attn_qkv (GPT-2, BLOOM, Falcon…) and ChatGLM's 2F-row ffn_up are
 * split over the base's split weights by rows of B.
 */
import { closeSync, openSync } from 'node:fs';
import type { LoadedModel } from '../model/load.ts';
import type { WeightTensor } from '../kernels/types.ts';
import type { LoraAdapter, LoraPair } from './adapter.ts';
import type { AdapterLoadOptions } from './peft.ts';
import { readGgufHeader, readBytesInto, ggufRowsCols, dtypeBytes, metaNumber, metaString, ggmlTypeName, type GgufTensorInfo } from '../formats/gguf.ts';
import { rowBytes } from '../kernels/types.ts';
import { rowSlice } from '../model/blocks/weights.ts';
import { ggufTarget, wrongBase } from './targets.ts';
import { modelError } from '../../util/errors.ts';

export function loadGgufAdapter(path: string, base: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, opts: AdapterLoadOptions = {}): Omit<LoraAdapter, 'id'> {
  const f = readGgufHeader(path);
  const type = metaString(f, 'general.type');
  if (type !== 'adapter') {
    throw modelError(`${path}: general.type is ${type === undefined ? 'missing' : `"${type}"`}, expected "adapter"`, {
      code: 'not_an_adapter', param: 'adapter', hint: 'this looks like a model file, not a LoRA adapter; load it with loadModel',
    });
  }
  const aType = metaString(f, 'adapter.type');
  if (aType !== undefined && aType !== 'lora') throw modelError(`${path}: adapter.type "${aType}" is not supported (only lora)`, { code: 'unsupported_adapter', param: 'adapter' });
  const arch = metaString(f, 'general.architecture');
  if (arch !== base.config.arch) throw wrongBase(`adapter architecture "${arch}" does not match the base model's "${base.config.arch}"`, path, { adapterArch: arch, baseArch: base.config.arch });
  const alpha = metaNumber(f, 'adapter.lora.alpha') ?? 0;

  const pairsByBase = new Map<string, { a?: GgufTensorInfo; b?: GgufTensorInfo }>();
  for (const t of f.tensors) {
    const m = /^(.+)\.lora_(a|b)$/.exec(t.name);
    if (!m) throw modelError(`${path}: tensor ${t.name} is not a LoRA factor`, { code: 'invalid_adapter', param: 'adapter', hint: 'a GGUF LoRA holds only <weight>.lora_a / .lora_b tensors' });
    const e = pairsByBase.get(m[1]) ?? {};
    if (m[2] === 'a') e.a = t; else e.b = t;
    pairsByBase.set(m[1], e);
  }
  if (!pairsByBase.size) throw modelError(`${path}: no LoRA tensors`, { code: 'invalid_adapter', param: 'adapter' });

  const modules = new Map<string, LoraPair>();
  const views: ArrayBufferView[] = [];
  let bytes = 0, maxRank = 0;
  const fd = openSync(path, 'r');
  try {
    const read = (t: GgufTensorInfo): WeightTensor => {
      if (!t.dtype) throw modelError(`${path}: tensor ${t.name} has unsupported type ${ggmlTypeName(t.ggmlType)}`, { code: 'unsupported_adapter', param: 'adapter' });
      const { rows, cols } = ggufRowsCols(t);
      try { rowBytes(t.dtype, cols); } catch { throw modelError(`${path}: tensor ${t.name} (${t.dtype}) has ${cols} columns, not a whole number of blocks`, { code: 'invalid_adapter', param: 'adapter' }); }
      const n = dtypeBytes(t.dtype, rows * cols);
      const data = base.heap.u8(n);
      views.push(data);
      bytes += n;
      readBytesInto(path, fd, t.offset, data, t.name);
      return { dtype: t.dtype, rows, cols, data };
    };
    for (const [name, { a, b }] of pairsByBase) {
      if (!a || !b) throw modelError(`${path}: ${name} has lora_${a ? 'a' : 'b'} but no lora_${a ? 'b' : 'a'}`, { code: 'invalid_adapter', param: 'adapter' });
      const target = ggufTarget(base.config, base.tensors, name, path, b.ne[1]);
      const K = (base.tensors.get(target.parts[0].name) as WeightTensor).cols;
      const N = target.parts.reduce((s, p) => s + p.rows, 0);
      // lora_a ne = [in, R], lora_b ne = [R, out]
      const R = b.ne[0];
      if (a.ne[0] !== K && a.ne[1] === K) throw wrongBase(`${a.name}: lora_a tensor is not transposed (ne = [${a.ne}], expected [${K}, ${R}])`, path);
      if (a.ne[0] !== K || a.ne[1] !== R) throw wrongBase(`${a.name} has ne = [${a.ne}], expected [${K}, ${R}] for base ${name}`, path, { tensor: a.name });
      if (b.ne[1] !== N) throw wrongBase(`${b.name} has ne = [${b.ne}], expected [${R}, ${N}] for base ${name}`, path, { tensor: b.name });
      const scale = (alpha ? alpha / R : 1) * (opts.scale ?? 1);
      const A = read(a), B = read(b);
      let row = 0;
      for (const p of target.parts) {
        modules.set(p.name, { a: A, b: rowSlice(B, row, row + p.rows), scale });
        row += p.rows;
      }
      maxRank = Math.max(maxRank, R);
    }
  } catch (e) {
    for (const v of views) base.heap.free(v);
    throw e;
  } finally {
    closeSync(fd);
  }
  return {
    name: opts.name ?? path.split('/').pop()!.replace(/\.gguf$/i, ''), source: { format: 'gguf', path },
    rank: maxRank, alpha, modules, bytes, heapViews: views,
  };
}
