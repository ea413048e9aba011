/**
 * Tensor names: HF checkpoint names → canonical GGUF names (llama.cpp's naming), with the
 * transforms llama.cpp's convert_hf_to_gguf.py applies per family, so an HF folder and the same
 * model converted to GGUF load to identical tensors and one forward pass serves both:
 *
 * - LLaMA/Mistral (rope 'normal'): q/k rows permuted, LlamaModel.permute —
 *   (H, 2, D/2, C) → (H, D/2, 2, C), i.e. the HF "rotate halves" layout becomes adjacent pairs.
 * - GPT-2: Conv1D weights are stored (in, out); transposed to (out, in).
 * - BLOOM: query_key_value rows are interleaved per head (H, 3, D); reordered to [q; k; v].
 * - Falcon: query_key_value rows are grouped per kv head (Hkv, H/Hkv + 2, D) — the group's
 *   queries, then its k, then its v; reordered to [q; k; v] (llama.cpp's "jploski" layout).
 * - Gemma 1/2/3: every *norm.weight gets +1 (HF stores w-1; GGUF stores the scale itself).
 * - Fused tensors are split by rows after that: attn_qkv → attn_q/attn_k/attn_v (GPT-2, BLOOM,
 *   Falcon, ChatGLM; also in GGUF files), ChatGLM's dense_h_to_4h / GGUF ffn_up (2F rows) →
 *   ffn_gate (first F rows, silu side) and ffn_up (last F rows), as ggml_swiglu splits it.
 *
 * All transforms are row permutations, transposes, row splits or a +1 on a vector, so they
 * work on raw bytes of any dtype (rows of quantized GGUF weights are never touched except split).
 */
import { modelError } from '../../util/errors.ts';
import type { Family, ModelConfig } from './config.ts';

/** How one tensor in a file becomes one or more canonical tensors. */
export interface TensorPlan {
  /** Name in the file. */
  source: string;
  /** Canonical name of the whole tensor after transforms (e.g. blk.0.attn_qkv.weight). */
  target: string;
  /** Conv1D: stored (in, out), transpose to (out, in). */
  transpose?: boolean;
  /** Row permutation: new row r is old row perm[r] (applied after transpose). */
  perm?: Int32Array;
  /** Add this to every value (Gemma norms). Vectors only. */
  addOne?: boolean;
  /** Split by rows (after the above) into consecutive canonical tensors. */
  split?: Array<{ name: string; rows: number }>;
}

type Rule = [RegExp, string];

/** Shared by the LLaMA-like families (HF `model.layers.N.*`). */
const LLAMA_LIKE: Rule[] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, 'blk.$1.attn_q.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, 'blk.$1.attn_k.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, 'blk.$1.attn_v.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.q_norm\.weight$/, 'blk.$1.attn_q_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_norm\.weight$/, 'blk.$1.attn_k_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.(weight|bias)$/, 'blk.$1.ffn_gate.$2'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.(weight|bias)$/, 'blk.$1.ffn_up.$2'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
];
const LLAMA_FFN_NORM: Rule[] = [[/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight']];
const GEMMA2_NORMS: Rule[] = [
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.post_attention_norm.weight'],
  [/^model\.layers\.(\d+)\.pre_feedforward_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_feedforward_layernorm\.weight$/, 'blk.$1.post_ffw_norm.weight'],
];

const RULES: Record<Family, Rule[]> = {
  llama: [...LLAMA_LIKE, ...LLAMA_FFN_NORM],
  mistral: [...LLAMA_LIKE, ...LLAMA_FFN_NORM],
  qwen2: [...LLAMA_LIKE, ...LLAMA_FFN_NORM],
  qwen3: [...LLAMA_LIKE, ...LLAMA_FFN_NORM],
  gemma: [...LLAMA_LIKE, ...LLAMA_FFN_NORM],
  gemma2: [...LLAMA_LIKE, ...GEMMA2_NORMS],
  gemma3: [...LLAMA_LIKE, ...GEMMA2_NORMS],
  gpt2: [
    [/^wte\.weight$/, 'token_embd.weight'],
    [/^wpe\.weight$/, 'position_embd.weight'],
    [/^ln_f\.(weight|bias)$/, 'output_norm.$1'],
    [/^lm_head\.weight$/, 'output.weight'],
    [/^h\.(\d+)\.ln_1\.(weight|bias)$/, 'blk.$1.attn_norm.$2'],
    [/^h\.(\d+)\.attn\.c_attn\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
    [/^h\.(\d+)\.attn\.c_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
    [/^h\.(\d+)\.ln_2\.(weight|bias)$/, 'blk.$1.ffn_norm.$2'],
    [/^h\.(\d+)\.mlp\.c_fc\.(weight|bias)$/, 'blk.$1.ffn_up.$2'],
    [/^h\.(\d+)\.mlp\.c_proj\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
  ],
  falcon: [
    [/^word_embeddings\.weight$/, 'token_embd.weight'],
    [/^ln_f\.(weight|bias)$/, 'output_norm.$1'],
    [/^lm_head\.weight$/, 'output.weight'],
    [/^h\.(\d+)\.input_layernorm\.(weight|bias)$/, 'blk.$1.attn_norm.$2'],
    [/^h\.(\d+)\.ln_mlp\.(weight|bias)$/, 'blk.$1.attn_norm.$2'],
    [/^h\.(\d+)\.ln_attn\.(weight|bias)$/, 'blk.$1.attn_norm_2.$2'],
    [/^h\.(\d+)\.self_attention\.query_key_value\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
    [/^h\.(\d+)\.self_attention\.dense\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
    [/^h\.(\d+)\.mlp\.dense_h_to_4h\.(weight|bias)$/, 'blk.$1.ffn_up.$2'],
    [/^h\.(\d+)\.mlp\.dense_4h_to_h\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
  ],
  bloom: [
    [/^word_embeddings\.weight$/, 'token_embd.weight'],
    [/^word_embeddings_layernorm\.(weight|bias)$/, 'token_embd_norm.$1'],
    [/^ln_f\.(weight|bias)$/, 'output_norm.$1'],
    [/^lm_head\.weight$/, 'output.weight'],
    [/^h\.(\d+)\.input_layernorm\.(weight|bias)$/, 'blk.$1.attn_norm.$2'],
    [/^h\.(\d+)\.self_attention\.query_key_value\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
    [/^h\.(\d+)\.self_attention\.dense\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
    [/^h\.(\d+)\.post_attention_layernorm\.(weight|bias)$/, 'blk.$1.ffn_norm.$2'],
    [/^h\.(\d+)\.mlp\.dense_h_to_4h\.(weight|bias)$/, 'blk.$1.ffn_up.$2'],
    [/^h\.(\d+)\.mlp\.dense_4h_to_h\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
  ],
  chatglm: [
    [/^embedding\.word_embeddings\.weight$/, 'token_embd.weight'],
    [/^encoder\.final_layernorm\.weight$/, 'output_norm.weight'],
    [/^output_layer\.weight$/, 'output.weight'],
    [/^encoder\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
    [/^encoder\.layers\.(\d+)\.self_attention\.query_key_value\.(weight|bias)$/, 'blk.$1.attn_qkv.$2'],
    [/^encoder\.layers\.(\d+)\.self_attention\.dense\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
    [/^encoder\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
    [/^encoder\.layers\.(\d+)\.mlp\.dense_h_to_4h\.(weight|bias)$/, 'blk.$1.ffn_up_gate.$2'],
    [/^encoder\.layers\.(\d+)\.mlp\.dense_4h_to_h\.(weight|bias)$/, 'blk.$1.ffn_down.$2'],
  ],
};

/** The families whose HF names are `model.layers.N.*` (LLaMA-like). */
const LLAMA_LIKE_FAMILIES = new Set<Family>(['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3']);

/** Prefix rewrites for checkpoints that nest the names above ([from, to], first match wins). */
const PREFIXES: Record<Family, Array<[string, string]>> = {
  llama: [], mistral: [], qwen2: [], qwen3: [], gemma: [], gemma2: [],
  // Gemma3ForConditionalGeneration: language_model.model.* (transformers < 4.52) or model.language_model.*.
  gemma3: [['language_model.', ''], ['model.language_model.', 'model.']],
  gpt2: [['transformer.', '']], falcon: [['transformer.', '']], bloom: [['transformer.', '']], chatglm: [['transformer.', '']],
};

/**
 * Tensors that are not language-model weights: rotary caches, attention-mask buffers, and the
 * vision tower of multimodal checkpoints (text-only here). Skipped silently.
 */
const IGNORED = [
  /rotary_emb\.inv_freq$/, /rotary_pos_emb\.inv_freq$/, /\.attn\.(masked_)?bias$/,
  /^(model\.)?(vision_tower|multi_modal_projector)\./,
];

/** HF name → canonical name before splitting, or null for names the family ignores. */
export function canonicalHfName(family: Family, name: string): string | null | undefined {
  if (IGNORED.some((r) => r.test(name))) return null;
  let n = name;
  for (const [from, to] of PREFIXES[family]) {
    if (n.startsWith(from)) {
      n = to + n.slice(from.length);
      break;
    }
  }
  for (const [re, tpl] of RULES[family]) {
    const m = re.exec(n);
    if (m) return n.replace(re, tpl);
  }
  // Base-model checkpoints (LlamaModel, Qwen2Model, Qwen3Model — e.g. embedding models) drop the
  // 'model.' prefix, as llama.cpp's converter notes for Qwen2Model.
  if (!n.startsWith('model.') && LLAMA_LIKE_FAMILIES.has(family)) {
    const withPrefix = `model.${n}`;
    for (const [re, tpl] of RULES[family]) if (re.test(withPrefix)) return withPrefix.replace(re, tpl);
  }
  return undefined;
}

/** LlamaModel.permute as a row map: rows (nHead, 2, half) → (nHead, half, 2). */
export function llamaPermutation(rows: number, nHead: number): Int32Array {
  const half = rows / nHead / 2;
  const perm = new Int32Array(rows);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) perm[h * 2 * half + i * 2 + j] = h * 2 * half + j * half + i;
    }
  }
  return perm;
}

/** A plan's row permutation undone (canonical → file order): file row perm[r] gets canonical row r, rows of `cols` values. */
export function unpermuteRows(data: Float32Array, cols: number, perm: Int32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < perm.length; r++) out.set(data.subarray(r * cols, (r + 1) * cols), perm[r] * cols);
  return out;
}

/** BLOOM's per-head interleaved qkv (H, 3, D) → [q; k; v]. */
export function bloomQkvPermutation(nHead: number, headDim: number): Int32Array {
  const perm = new Int32Array(3 * nHead * headDim);
  let r = 0;
  for (let s = 0; s < 3; s++) for (let h = 0; h < nHead; h++) for (let d = 0; d < headDim; d++) perm[r++] = (h * 3 + s) * headDim + d;
  return perm;
}

/** Falcon's grouped qkv (Hkv, H/Hkv + 2, D) → [q; k; v]. */
export function falconQkvPermutation(nHead: number, nKv: number, headDim: number): Int32Array {
  const g = nHead / nKv;
  const perm = new Int32Array((nHead + 2 * nKv) * headDim);
  let r = 0;
  for (let kv = 0; kv < nKv; kv++) for (let q = 0; q < g; q++) for (let d = 0; d < headDim; d++) perm[r++] = (kv * (g + 2) + q) * headDim + d;
  for (const slot of [g, g + 1]) for (let kv = 0; kv < nKv; kv++) for (let d = 0; d < headDim; d++) perm[r++] = (kv * (g + 2) + slot) * headDim + d;
  return perm;
}

function qkvSplit(cfg: ModelConfig, layerPrefix: string, suffix: string) {
  const q = cfg.nHeads * cfg.headDim;
  const kv = cfg.nKvHeads * cfg.headDim;
  return [
    { name: `${layerPrefix}.attn_q.${suffix}`, rows: q },
    { name: `${layerPrefix}.attn_k.${suffix}`, rows: kv },
    { name: `${layerPrefix}.attn_v.${suffix}`, rows: kv },
  ];
}

function gateUpSplit(cfg: ModelConfig, layerPrefix: string, suffix: string) {
  return [
    { name: `${layerPrefix}.ffn_gate.${suffix}`, rows: cfg.ffnDim },
    { name: `${layerPrefix}.ffn_up.${suffix}`, rows: cfg.ffnDim },
  ];
}

/**
 * Plan every tensor of an HF checkpoint. Unknown names are an error (a weight we would silently
 * ignore means wrong outputs); a tied lm_head is skipped as llama.cpp's converter skips it.
 */
export function planHf(cfg: ModelConfig, names: string[], path: string): TensorPlan[] {
  const plans: TensorPlan[] = [];
  const unknown: string[] = [];
  const gemma = cfg.family === 'gemma' || cfg.family === 'gemma2' || cfg.family === 'gemma3';
  for (const source of names) {
    const target = canonicalHfName(cfg.family, source);
    if (target === null) continue;
    if (target === undefined) {
      unknown.push(source);
      continue;
    }
    if (target === 'output.weight' && cfg.tiedEmbeddings) continue;
    const plan: TensorPlan = { source, target };
    const m = /^blk\.(\d+)\.([a-z_0-9]+)\.(weight|bias)$/.exec(target);
    const layer = m ? `blk.${m[1]}` : '';
    const kind = m?.[2];
    const suffix = m?.[3] ?? 'weight';
    if (gemma && target.endsWith('norm.weight')) plan.addOne = true;
    switch (cfg.family) {
      case 'llama':
      case 'mistral':
        if (kind === 'attn_q') plan.perm = llamaPermutation(cfg.nHeads * cfg.headDim, cfg.nHeads);
        if (kind === 'attn_k') plan.perm = llamaPermutation(cfg.nKvHeads * cfg.headDim, cfg.nKvHeads);
        break;
      case 'gpt2':
        if (suffix === 'weight' && (kind === 'attn_qkv' || kind === 'attn_output' || kind === 'ffn_up' || kind === 'ffn_down')) plan.transpose = true;
        break;
      case 'bloom':
        if (kind === 'attn_qkv') plan.perm = bloomQkvPermutation(cfg.nHeads, cfg.headDim);
        break;
      case 'falcon':
        if (kind === 'attn_qkv') plan.perm = falconQkvPermutation(cfg.nHeads, cfg.nKvHeads, cfg.headDim);
        break;
      case 'chatglm':
        if (kind === 'ffn_up_gate') {
          plan.target = `${layer}.ffn_up.${suffix}`; // llama.cpp's name for the fused tensor
          plan.split = gateUpSplit(cfg, layer, suffix);
        }
        break;
    }
    if (kind === 'attn_qkv') plan.split = qkvSplit(cfg, layer, suffix);
    plans.push(plan);
  }
  if (unknown.length) {
    throw modelError(`${path}: ${unknown.length} tensor(s) not used by a ${cfg.family} model: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`, {
      code: 'unexpected_tensor', param: 'file', hint: 'config.json does not match the weights (wrong architecture?)', details: { tensors: unknown },
    });
  }
  return plans;
}

/** Plan a GGUF file's tensors: names are canonical already; fused tensors are split. */
export function planGguf(cfg: ModelConfig, names: string[]): TensorPlan[] {
  const plans: TensorPlan[] = [];
  for (const source of names) {
    const plan: TensorPlan = { source, target: source };
    const m = /^blk\.(\d+)\.([a-z_0-9]+)\.(weight|bias)$/.exec(source);
    if (m) {
      const layer = `blk.${m[1]}`;
      if (m[2] === 'attn_qkv') plan.split = qkvSplit(cfg, layer, m[3]);
      // ChatGLM's fused swiglu input: ffn_up has 2F rows and there is no ffn_gate.
      if (m[2] === 'ffn_up' && cfg.family === 'chatglm' && !names.includes(`${layer}.ffn_gate.${m[3]}`)) plan.split = gateUpSplit(cfg, layer, m[3]);
      // llama.cpp stores rope_freqs once, and per layer only as duplicates.
    }
    plans.push(plan);
  }
  return plans;
}

/** Per-pair rope divisors for 'llama3' scaling, exactly as convert_hf_to_gguf.py computes them. */
export function llama3RopeFreqs(cfg: ModelConfig): Float32Array {
  const rope = cfg.rope!;
  const s = rope.scaling!;
  const dim = cfg.headDim;
  const factor = s.factor;
  const low = s.lowFreqFactor ?? 1;
  const high = s.highFreqFactor ?? 4;
  const old = s.originalContext ?? 8192;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const out = new Float32Array(dim / 2);
  // torch does all of this in float32 (freq is a 0-d float32 tensor), so round after every op.
  const f = Math.fround;
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(Math.pow(rope.theta, f((2 * i) / dim))));
    const wavelen = f(f(2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = f(f(f(old / wavelen) - low) / (high - low));
      out[i] = f(1 / f(f(f(1 - smooth) / factor) + smooth));
    }
  }
  return out;
}
