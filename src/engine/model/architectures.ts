/**
 * The architecture table: for each family, how an HF config.json and GGUF metadata become a
 * ModelConfig, and which tensors (canonical GGUF names, shapes) that config implies.
 *
 * Adding an architecture is mostly one FAMILY_SPECS entry: the HF class names that select it,
 * its GGUF general.architecture, the fixed traits of the family (norm, activation, rope style,
 * biases…), and, only where the family is unusual, a `hf` hook that reads its own config keys.
 * HF weight names and their transforms live in names.ts.
 *
 * Where HF and llama.cpp disagree on a detail, the values match what llama.cpp computes, because
 * that is what parity is measured against (each such place says so).
 */
import { modelError } from '../../util/errors.ts';
import type { GgufFile } from '../formats/gguf.ts';
import { metaNumber, metaString } from '../formats/gguf.ts';
import { FAMILIES, type Family, type ModelConfig, type RopeConfig } from './config.ts';

/** A parsed config.json (a loose bag of keys; each family reads what it needs). */
export type HfConfig = Record<string, unknown>;

interface FamilySpec {
  family: Family;
  /** GGUF general.architecture written for this family. */
  ggufArch: string;
  /** config.json "architectures" entries and "model_type" values that select this family. */
  hfArchitectures: string[];
  hfModelTypes: string[];
  norm: 'rms' | 'layer';
  activation: ModelConfig['activation'];
  gatedFfn: boolean;
  rope: 'normal' | 'neox' | null;
  /** Family-specific reading of config.json on top of the common keys. */
  hf?: (c: HfConfig, base: ModelConfig) => Partial<ModelConfig>;
  /** Family-specific reading of GGUF metadata on top of the common keys. */
  gguf?: (f: GgufFile, base: ModelConfig, tensorNames: Set<string>) => Partial<ModelConfig>;
}

const num = (c: HfConfig, keys: string[], fallback?: number): number | undefined => {
  for (const k of keys) {
    const v = c[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return fallback;
};
const bool = (c: HfConfig, key: string, fallback: boolean): boolean => (typeof c[key] === 'boolean' ? (c[key] as boolean) : fallback);

/** The `rope_scaling` / `rope_parameters` object of an HF config → our RopeConfig scaling. */
function hfRopeScaling(c: HfConfig, path: string): RopeConfig['scaling'] {
  const rs = (c.rope_scaling ?? c.rope_parameters) as Record<string, unknown> | null | undefined;
  if (!rs || typeof rs !== 'object') return null;
  const type = String(rs.rope_type ?? rs.type ?? 'default').toLowerCase();
  const factor = typeof rs.factor === 'number' ? rs.factor : 1;
  const orig = typeof rs.original_max_position_embeddings === 'number' ? rs.original_max_position_embeddings : undefined;
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return factor === 1 ? null : { type: 'linear', factor };
    case 'llama3':
      return {
        type: 'llama3', factor,
        originalContext: orig ?? 8192,
        lowFreqFactor: typeof rs.low_freq_factor === 'number' ? rs.low_freq_factor : 1,
        highFreqFactor: typeof rs.high_freq_factor === 'number' ? rs.high_freq_factor : 4,
      };
    case 'yarn':
      return {
        type: 'yarn', factor, originalContext: orig ?? num(c, ['max_position_embeddings']),
        betaFast: typeof rs.beta_fast === 'number' ? rs.beta_fast : 32,
        betaSlow: typeof rs.beta_slow === 'number' ? rs.beta_slow : 1,
        attnFactor: typeof rs.attention_factor === 'number' ? rs.attention_factor : typeof rs.attn_factor === 'number' ? rs.attn_factor : undefined,
      };
    default:
      throw modelError(`${path}: rope scaling type '${type}' is not supported (supported: linear, llama3, yarn)`, {
        code: 'unsupported_config', param: 'rope_scaling', hint: 'use a model without this rope scaling, or add it to engine/model/architectures.ts',
      });
  }
}

function gemmaAttnScale(c: HfConfig, headDim: number): number | null {
  const q = num(c, ['query_pre_attn_scalar']);
  return q !== undefined && q !== headDim ? 1 / Math.sqrt(q) : null;
}

export const FAMILY_SPECS: Record<Family, FamilySpec> = {
  llama: {
    family: 'llama', ggufArch: 'llama',
    // DeepSeek-R1-Distill-Llama and Llama 2/3.x all use LlamaForCausalLM.
    hfArchitectures: ['LlamaForCausalLM'], hfModelTypes: ['llama'],
    norm: 'rms', activation: 'silu', gatedFfn: true, rope: 'normal',
    hf: (c) => ({ qkvBias: bool(c, 'attention_bias', false), outBias: bool(c, 'attention_bias', false), ffnBias: bool(c, 'mlp_bias', false) }),
  },
  mistral: {
    // llama.cpp converts Mistral to general.architecture 'llama' (its GGUF loads as family 'llama').
    family: 'mistral', ggufArch: 'llama',
    hfArchitectures: ['MistralForCausalLM'], hfModelTypes: ['mistral'],
    norm: 'rms', activation: 'silu', gatedFfn: true, rope: 'normal',
    hf: (c) => ({ slidingWindow: num(c, ['sliding_window']) ?? null }),
  },
  qwen2: {
    // DeepSeek-R1-Distill-Qwen uses Qwen2ForCausalLM.
    family: 'qwen2', ggufArch: 'qwen2',
    hfArchitectures: ['Qwen2ForCausalLM'], hfModelTypes: ['qwen2'],
    norm: 'rms', activation: 'silu', gatedFfn: true, rope: 'neox',
    // use_sliding_window is false in every released Qwen2/2.5 and llama.cpp ignores it.
    hf: () => ({ qkvBias: true }),
  },
  qwen3: {
    family: 'qwen3', ggufArch: 'qwen3',
    hfArchitectures: ['Qwen3ForCausalLM'], hfModelTypes: ['qwen3'],
    norm: 'rms', activation: 'silu', gatedFfn: true, rope: 'neox',
    hf: (c) => ({ qkNorm: true, qkvBias: bool(c, 'attention_bias', false), outBias: bool(c, 'attention_bias', false) }),
  },
  gemma: {
    family: 'gemma', ggufArch: 'gemma',
    hfArchitectures: ['GemmaForCausalLM'], hfModelTypes: ['gemma'],
    // HF Gemma forces the tanh approximation whatever hidden_act says.
    norm: 'rms', activation: 'gelu_tanh', gatedFfn: true, rope: 'neox',
    hf: (_c, b) => ({ tiedEmbeddings: true, embedScale: Math.sqrt(b.dModel) }),
    gguf: (_f, b) => ({ embedScale: Math.sqrt(b.dModel) }),
  },
  gemma2: {
    family: 'gemma2', ggufArch: 'gemma2',
    hfArchitectures: ['Gemma2ForCausalLM'], hfModelTypes: ['gemma2'],
    norm: 'rms', activation: 'gelu_tanh', gatedFfn: true, rope: 'neox',
    hf: (c, b) => ({
      tiedEmbeddings: true, embedScale: Math.sqrt(b.dModel), postNorms: true,
      slidingWindow: num(c, ['sliding_window'], 4096)!, slidingWindowPattern: 2,
      attnLogitSoftcap: num(c, ['attn_logit_softcapping']) ?? null,
      finalLogitSoftcap: num(c, ['final_logit_softcapping']) ?? null,
      attnScale: gemmaAttnScale(c, b.headDim),
    }),
    gguf: (f, b) => ({
      embedScale: Math.sqrt(b.dModel), postNorms: true,
      slidingWindow: metaNumber(f, 'gemma2.attention.sliding_window') ?? 4096,
      slidingWindowPattern: metaNumber(f, 'gemma2.attention.sliding_window_pattern') ?? 2,
      // llama.cpp's defaults when the keys are absent.
      attnLogitSoftcap: metaNumber(f, 'gemma2.attn_logit_softcapping') ?? 50,
      finalLogitSoftcap: metaNumber(f, 'gemma2.final_logit_softcapping') ?? 30,
      // llama.cpp: 27B (46 layers) scales by 1/sqrt(C/H), the others by 1/sqrt(D).
      attnScale: b.nLayers === 46 ? 1 / Math.sqrt(b.dModel / b.nHeads) : null,
    }),
  },
  gemma3: {
    family: 'gemma3', ggufArch: 'gemma3',
    hfArchitectures: ['Gemma3ForCausalLM', 'Gemma3ForConditionalGeneration'], hfModelTypes: ['gemma3', 'gemma3_text'],
    norm: 'rms', activation: 'gelu_tanh', gatedFfn: true, rope: 'neox',
    hf: (c, b) => {
      const pattern = num(c, ['sliding_window_pattern'], 6)!;
      const window = num(c, ['sliding_window']);
      return {
        tiedEmbeddings: true, embedScale: Math.sqrt(b.dModel), postNorms: true, qkNorm: true,
        slidingWindow: pattern !== 1 && window ? window : null, slidingWindowPattern: pattern !== 1 && window ? pattern : null,
        ropeLocalTheta: num(c, ['rope_local_base_freq'], 10000)!,
        finalLogitSoftcap: num(c, ['final_logit_softcapping']) ?? null,
        attnScale: gemmaAttnScale(c, b.headDim),
      };
    },
    gguf: (f, b) => {
      const window = metaNumber(f, 'gemma3.attention.sliding_window');
      const pat = f.metadata.get('gemma3.attention.sliding_window_pattern');
      return {
        embedScale: Math.sqrt(b.dModel), postNorms: true,
        slidingWindow: window && window > 0 ? window : null,
        slidingWindowPattern: window && window > 0 ? (typeof pat === 'number' ? pat : 6) : null,
        ropeLocalTheta: window && window > 0 ? metaNumber(f, 'gemma3.rope.freq_base_swa') ?? 10000 : null,
        finalLogitSoftcap: metaNumber(f, 'gemma3.final_logit_softcapping') || null,
        attnScale: b.nLayers === 62 ? 1 / Math.sqrt(b.dModel / b.nHeads) : null,
      };
    },
  },
  gpt2: {
    family: 'gpt2', ggufArch: 'gpt2',
    hfArchitectures: ['GPT2LMHeadModel', 'GPT2Model'], hfModelTypes: ['gpt2'],
    // gelu_new (the tanh form).
    norm: 'layer', activation: 'gelu_tanh', gatedFfn: false, rope: null,
    hf: (c, b) => ({
      positionEmbeddings: true, qkvBias: true, outBias: true, ffnBias: true, tiedEmbeddings: true,
      ffnDim: num(c, ['n_inner']) ?? 4 * b.dModel,
    }),
    gguf: () => ({ positionEmbeddings: true }),
  },
  falcon: {
    family: 'falcon', ggufArch: 'falcon',
    hfArchitectures: ['FalconForCausalLM', 'RWForCausalLM'], hfModelTypes: ['falcon', 'RefinedWeb', 'RefinedWebModel'],
    norm: 'layer', activation: 'gelu', gatedFfn: false, rope: 'neox',
    hf: (c, b) => {
      if (bool(c, 'alibi', false)) {
        throw modelError('Falcon with ALiBi (falcon-rw) is not supported (llama.cpp does not support it either)', {
          code: 'unsupported_config', param: 'alibi', hint: 'use Falcon-7B/40B-style models (rotary positions)',
        });
      }
      const newArch = bool(c, 'new_decoder_architecture', false);
      // As llama.cpp's converter: an explicit kv head count wins (40B/180B); otherwise MQA (7B)
      // unless multi_query is off, in which case every head has its own k/v.
      const kv = num(c, ['num_kv_heads', 'n_head_kv']) ?? (bool(c, 'multi_query', true) ? 1 : b.nHeads);
      const bias = bool(c, 'bias', false);
      return {
        nKvHeads: kv, parallelBlock: bool(c, 'parallel_attn', true),
        parallelBlockTwoNorms: newArch && num(c, ['num_ln_in_parallel_attn'], 2) === 2,
        qkvBias: bias, outBias: bias, ffnBias: bias,
        ffnDim: num(c, ['ffn_hidden_size']) ?? 4 * b.dModel,
        contextLength: num(c, ['max_position_embeddings'], 2048)!,
      };
    },
    gguf: (_f, _b, names) => ({ parallelBlock: true, parallelBlockTwoNorms: names.has('blk.0.attn_norm_2.weight') }),
  },
  bloom: {
    family: 'bloom', ggufArch: 'bloom',
    hfArchitectures: ['BloomForCausalLM', 'BloomModel'], hfModelTypes: ['bloom'],
    // bloom_gelu_forward is the tanh form.
    norm: 'layer', activation: 'gelu_tanh', gatedFfn: false, rope: null,
    hf: (c, b) => ({
      alibi: true, alibiMaxBias: 8, embedNorm: true, qkvBias: true, outBias: true, ffnBias: true, tiedEmbeddings: true,
      nKvHeads: b.nHeads, ffnDim: 4 * b.dModel, contextLength: num(c, ['seq_length'], 2048)!,
    }),
    // llama.cpp hard-codes max_alibi_bias 8 for BLOOM.
    gguf: () => ({ alibi: true, alibiMaxBias: 8, embedNorm: true }),
  },
  chatglm: {
    // ChatGLM2/3 and GLM-4 (THUDM/glm-4-9b-chat); llama.cpp arch 'chatglm'.
    family: 'chatglm', ggufArch: 'chatglm',
    hfArchitectures: ['ChatGLMModel', 'ChatGLMForConditionalGeneration'], hfModelTypes: ['chatglm'],
    norm: 'rms', activation: 'silu', gatedFfn: true, rope: 'normal',
    hf: (c, b) => {
      const headDim = num(c, ['kv_channels'], b.dModel / b.nHeads)!;
      const partial = num(c, ['partial_rotary_factor'], 0.5)!;
      return {
        headDim,
        nKvHeads: bool(c, 'multi_query_attention', false) ? num(c, ['multi_query_group_num'], b.nHeads)! : b.nHeads,
        qkvBias: bool(c, 'add_qkv_bias', false), outBias: bool(c, 'add_bias_linear', false), ffnBias: bool(c, 'add_bias_linear', false),
        rope: { theta: 10000 * num(c, ['rope_ratio'], 1)!, dims: Math.floor(headDim * partial), style: 'normal', scaling: null },
        contextLength: num(c, ['seq_length'], 2048)!,
        vocabSize: num(c, ['padded_vocab_size', 'vocab_size'])!,
        normEps: Math.fround(num(c, ['layernorm_epsilon'], 1e-5)!),
        norm: bool(c, 'rmsnorm', true) ? 'rms' : 'layer',
      };
    },
  },
};

/** Names of supported architectures, for error messages. */
export function supportedArchitectures(): string {
  return FAMILIES.map((f) => `${f} (${FAMILY_SPECS[f].hfArchitectures.join('/')})`).join(', ');
}

function familyOfHf(c: HfConfig, path: string): Family {
  const archs = Array.isArray(c.architectures) ? (c.architectures as string[]) : [];
  for (const a of archs) for (const f of FAMILIES) if (FAMILY_SPECS[f].hfArchitectures.includes(a)) return f;
  const mt = typeof c.model_type === 'string' ? c.model_type : '';
  for (const f of FAMILIES) if (FAMILY_SPECS[f].hfModelTypes.includes(mt)) return f;
  throw modelError(`${path}: unsupported architecture ${JSON.stringify(archs[0] ?? mt ?? 'unknown')}`, {
    code: 'unsupported_architecture', param: 'architectures',
    hint: `supported: ${supportedArchitectures()}`, details: { architectures: archs, model_type: mt },
  });
}

function baseConfig(family: Family): Omit<ModelConfig, 'vocabSize' | 'contextLength' | 'dModel' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'headDim' | 'ffnDim' | 'normEps' | 'rope'> {
  const s = FAMILY_SPECS[family];
  return {
    family, arch: s.ggufArch, norm: s.norm, normWeightOffset: 0, activation: s.activation, gatedFfn: s.gatedFfn,
    alibi: false, alibiMaxBias: 0, positionEmbeddings: false,
    qkvBias: false, outBias: false, ffnBias: false, qkNorm: false,
    tiedEmbeddings: false, embedScale: null, embedNorm: false,
    parallelBlock: false, parallelBlockTwoNorms: false,
    slidingWindow: null, slidingWindowPattern: null, ropeLocalTheta: null, postNorms: false,
    attnLogitSoftcap: null, finalLogitSoftcap: null, attnScale: null,
    bosTokenId: null, eosTokenIds: [],
  };
}

function need(v: number | undefined, key: string, path: string): number {
  if (v === undefined || !Number.isFinite(v) || v <= 0) {
    throw modelError(`${path}: missing or invalid ${key}`, { code: 'invalid_config', param: key, hint: 'the model config is incomplete' });
  }
  return v;
}

/** config.json → ModelConfig (vocab size is checked against the weights later). */
export function configFromHf(raw: HfConfig, path = 'config.json'): ModelConfig {
  // Multimodal wrappers (Gemma3ForConditionalGeneration) keep the LM config in text_config.
  const c: HfConfig = raw.text_config && typeof raw.text_config === 'object'
    ? { ...raw, ...(raw.text_config as HfConfig), architectures: raw.architectures } : raw;
  const family = familyOfHf(c, path);
  const spec = FAMILY_SPECS[family];
  const dModel = need(num(c, ['hidden_size', 'n_embd', 'd_model', 'n_embed']), 'hidden_size', path);
  const nHeads = need(num(c, ['num_attention_heads', 'n_head', 'num_heads']), 'num_attention_heads', path);
  const headDim = num(c, ['head_dim']) ?? dModel / nHeads;
  const base = {
    ...baseConfig(family),
    vocabSize: num(c, ['vocab_size', 'padded_vocab_size']) ?? 0,
    contextLength: num(c, ['max_position_embeddings', 'n_positions', 'n_ctx', 'seq_length'], 2048)!,
    dModel,
    nLayers: need(num(c, ['num_hidden_layers', 'n_layer', 'num_layers']), 'num_hidden_layers', path),
    nHeads,
    nKvHeads: num(c, ['num_key_value_heads'], nHeads)!,
    headDim,
    ffnDim: num(c, ['intermediate_size', 'ffn_hidden_size', 'n_inner']) ?? 4 * dModel,
    // GGUF stores eps as f32 and llama.cpp computes with that; round so both formats agree.
    normEps: Math.fround(num(c, ['rms_norm_eps', 'layer_norm_epsilon', 'layer_norm_eps', 'layernorm_epsilon'], 1e-5)!),
    rope: spec.rope ? {
      theta: num(c, ['rope_theta', 'rotary_emb_base'], 10000)!,
      dims: Math.floor(headDim * num(c, ['partial_rotary_factor'], 1)!),
      style: spec.rope,
      scaling: hfRopeScaling(c, path),
    } : null,
    tiedEmbeddings: bool(c, 'tie_word_embeddings', false),
  } satisfies ModelConfig;
  const cfg: ModelConfig = { ...base, ...(spec.hf?.(c, base) ?? {}) };
  if (typeof c.tie_word_embeddings === 'boolean' && family !== 'gemma' && family !== 'gemma2' && family !== 'gemma3') cfg.tiedEmbeddings = c.tie_word_embeddings;
  cfg.bosTokenId = typeof c.bos_token_id === 'number' ? c.bos_token_id : null;
  const eos = c.eos_token_id;
  cfg.eosTokenIds = Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [];
  validate(cfg, path);
  return cfg;
}

/** GGUF general.architecture → family. 'llama' covers Llama 2/3, Mistral and DeepSeek-distill-Llama. */
const GGUF_ARCH_FAMILY: Record<string, Family> = {
  llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', gemma: 'gemma', gemma2: 'gemma2', gemma3: 'gemma3',
  gpt2: 'gpt2', falcon: 'falcon', bloom: 'bloom', chatglm: 'chatglm',
};

/** GGUF metadata (+ the file's tensor names, for presence-derived flags) → ModelConfig. */
export function configFromGguf(f: GgufFile): ModelConfig {
  const arch = metaString(f, 'general.architecture');
  const family = arch ? GGUF_ARCH_FAMILY[arch] : undefined;
  if (!arch || !family) {
    throw modelError(`${f.path}: unsupported architecture ${JSON.stringify(arch ?? 'missing')}`, {
      code: 'unsupported_architecture', param: 'general.architecture',
      hint: `supported GGUF architectures: ${Object.keys(GGUF_ARCH_FAMILY).join(', ')}`,
    });
  }
  const spec = FAMILY_SPECS[family];
  const k = (s: string) => `${arch}.${s}`;
  const names = new Set(f.tensors.map((t) => t.name));
  const emb = f.tensors.find((t) => t.name === 'token_embd.weight');
  if (!emb) throw modelError(`${f.path}: no token_embd.weight tensor`, { code: 'missing_tensor', param: 'file', hint: 'the GGUF is not a complete model' });
  const dModel = need(metaNumber(f, k('embedding_length')), k('embedding_length'), f.path);
  const nHeads = need(arrOrNum(f, k('attention.head_count')), k('attention.head_count'), f.path);
  const headDim = metaNumber(f, k('attention.key_length')) ?? dModel / nHeads;
  const scalingType = metaString(f, k('rope.scaling.type')) ?? 'none';
  const factor = metaNumber(f, k('rope.scaling.factor')) ?? (metaNumber(f, k('rope.scale_linear')) ? 1 / metaNumber(f, k('rope.scale_linear'))! : 1);
  let scaling: RopeConfig['scaling'] = null;
  if (names.has('rope_freqs.weight')) scaling = { type: 'llama3', factor };
  else if (scalingType === 'linear' && factor !== 1) scaling = { type: 'linear', factor };
  else if (scalingType === 'yarn') {
    scaling = {
      type: 'yarn', factor, originalContext: metaNumber(f, k('rope.scaling.original_context_length')),
      betaFast: metaNumber(f, k('rope.scaling.yarn_beta_fast')) ?? 32, betaSlow: metaNumber(f, k('rope.scaling.yarn_beta_slow')) ?? 1,
      attnFactor: metaNumber(f, k('rope.scaling.yarn_attn_factor')),
    };
  } else if (scalingType !== 'none' && scalingType !== 'linear') {
    throw modelError(`${f.path}: rope scaling type '${scalingType}' is not supported`, { code: 'unsupported_config', param: k('rope.scaling.type') });
  }
  const base: ModelConfig = {
    ...baseConfig(family),
    vocabSize: emb.ne[1],
    contextLength: metaNumber(f, k('context_length')) ?? 2048,
    dModel,
    nLayers: need(metaNumber(f, k('block_count')), k('block_count'), f.path),
    nHeads,
    nKvHeads: arrOrNum(f, k('attention.head_count_kv')) ?? nHeads,
    headDim,
    ffnDim: need(arrOrNum(f, k('feed_forward_length')), k('feed_forward_length'), f.path),
    normEps: metaNumber(f, k(spec.norm === 'rms' ? 'attention.layer_norm_rms_epsilon' : 'attention.layer_norm_epsilon')) ?? 1e-5,
    rope: spec.rope ? {
      theta: metaNumber(f, k('rope.freq_base')) ?? 10000,
      dims: metaNumber(f, k('rope.dimension_count')) ?? headDim,
      style: spec.rope,
      scaling,
    } : null,
    // Presence of the optional tensors decides the flags, as in llama.cpp (TENSOR_NOT_REQUIRED).
    tiedEmbeddings: !names.has('output.weight'),
    qkvBias: names.has('blk.0.attn_q.bias') || names.has('blk.0.attn_qkv.bias'),
    outBias: names.has('blk.0.attn_output.bias'),
    ffnBias: names.has('blk.0.ffn_up.bias'),
    qkNorm: names.has('blk.0.attn_q_norm.weight'),
  };
  const cfg: ModelConfig = { ...base, ...(spec.gguf?.(f, base, names) ?? {}) };
  const bos = metaNumber(f, 'tokenizer.ggml.bos_token_id');
  cfg.bosTokenId = bos ?? null;
  const eos = new Set<number>();
  for (const key of ['tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id']) {
    const v = metaNumber(f, key);
    if (v !== undefined) eos.add(v);
  }
  cfg.eosTokenIds = [...eos];
  validate(cfg, f.path);
  return cfg;
}

/** Per-layer arrays (some GGUFs store head counts per layer): all layers must agree. */
function arrOrNum(f: GgufFile, key: string): number | undefined {
  const v = f.metadata.get(key);
  if (Array.isArray(v)) {
    const set = new Set(v.map(Number));
    if (set.size !== 1) throw modelError(`${f.path}: ${key} varies per layer, which this engine does not support`, { code: 'unsupported_config', param: key });
    return [...set][0];
  }
  return metaNumber(f, key);
}

function validate(cfg: ModelConfig, path: string): void {
  const bad = (msg: string, param: string) =>
    modelError(`${path}: ${msg}`, { code: 'invalid_config', param, hint: 'the model config does not describe a valid model' });
  if (!Number.isInteger(cfg.headDim) || cfg.headDim <= 0) throw bad(`head dimension ${cfg.headDim} is not an integer (hidden size ${cfg.dModel} / ${cfg.nHeads} heads)`, 'head_dim');
  if (cfg.nHeads % cfg.nKvHeads !== 0) throw bad(`${cfg.nHeads} attention heads are not a multiple of ${cfg.nKvHeads} key/value heads`, 'num_key_value_heads');
  if (cfg.rope && (cfg.rope.dims > cfg.headDim || cfg.rope.dims % 2 !== 0)) throw bad(`rope dims ${cfg.rope.dims} must be even and ≤ head dim ${cfg.headDim}`, 'rope');
}

export interface ExpectedTensor {
  name: string;
  /** [rows, cols] for a matrix (PyTorch order), [n] for a vector. */
  shape: number[];
  optional?: boolean;
}

/** Every tensor a config implies, with shapes, in canonical GGUF names (after fused tensors are split). */
export function expectedTensors(cfg: ModelConfig): ExpectedTensor[] {
  const { dModel: C, vocabSize: V, nHeads: H, nKvHeads: Hkv, headDim: D, ffnDim: F } = cfg;
  const out: ExpectedTensor[] = [{ name: 'token_embd.weight', shape: [V, C] }];
  const layerBias = cfg.norm === 'layer';
  const norm = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [C] });
    if (layerBias) out.push({ name: `${name}.bias`, shape: [C] });
  };
  if (cfg.positionEmbeddings) out.push({ name: 'position_embd.weight', shape: [cfg.contextLength, C] });
  if (cfg.embedNorm) norm('token_embd_norm');
  norm('output_norm');
  if (!cfg.tiedEmbeddings) out.push({ name: 'output.weight', shape: [V, C] });
  if (cfg.rope?.scaling?.type === 'llama3') out.push({ name: 'rope_freqs.weight', shape: [cfg.rope.dims / 2] });
  for (let l = 0; l < cfg.nLayers; l++) {
    const b = `blk.${l}`;
    norm(`${b}.attn_norm`);
    if (cfg.parallelBlockTwoNorms) norm(`${b}.attn_norm_2`);
    out.push({ name: `${b}.attn_q.weight`, shape: [H * D, C] });
    out.push({ name: `${b}.attn_k.weight`, shape: [Hkv * D, C] });
    out.push({ name: `${b}.attn_v.weight`, shape: [Hkv * D, C] });
    if (cfg.qkvBias) {
      out.push({ name: `${b}.attn_q.bias`, shape: [H * D] });
      out.push({ name: `${b}.attn_k.bias`, shape: [Hkv * D] });
      out.push({ name: `${b}.attn_v.bias`, shape: [Hkv * D] });
    }
    out.push({ name: `${b}.attn_output.weight`, shape: [C, H * D] });
    if (cfg.outBias) out.push({ name: `${b}.attn_output.bias`, shape: [C] });
    if (cfg.qkNorm) {
      out.push({ name: `${b}.attn_q_norm.weight`, shape: [D] });
      out.push({ name: `${b}.attn_k_norm.weight`, shape: [D] });
    }
    if (cfg.postNorms) out.push({ name: `${b}.post_attention_norm.weight`, shape: [C] });
    if (!cfg.parallelBlock) norm(`${b}.ffn_norm`);
    if (cfg.gatedFfn) out.push({ name: `${b}.ffn_gate.weight`, shape: [F, C] });
    out.push({ name: `${b}.ffn_up.weight`, shape: [F, C] });
    out.push({ name: `${b}.ffn_down.weight`, shape: [C, F] });
    if (cfg.ffnBias) {
      if (cfg.gatedFfn) out.push({ name: `${b}.ffn_gate.bias`, shape: [F] });
      out.push({ name: `${b}.ffn_up.bias`, shape: [F] });
      out.push({ name: `${b}.ffn_down.bias`, shape: [C] });
    }
    if (cfg.postNorms) out.push({ name: `${b}.post_ffw_norm.weight`, shape: [C] });
  }
  return out;
}
