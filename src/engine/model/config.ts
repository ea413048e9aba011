/**
 * ModelConfig: everything the forward pass needs to know about a model, in one flat object.
 * It is filled by `architectures.ts` from either an HF `config.json` or GGUF metadata, so the
 * forward pass never looks at a file format. Each field says what it changes in the math.
 *
 * Shapes use the house letters: C = dModel, H = nHeads, Hkv = nKvHeads, D = headDim, F = ffnDim,
 * V = vocabSize, L = nLayers.
 */

export type Family =
  | 'llama'
  | 'mistral'
  | 'qwen2'
  | 'qwen3'
  | 'gemma'
  | 'gemma2'
  | 'gemma3'
  | 'gpt2'
  | 'falcon'
  | 'bloom'
  | 'chatglm';
// DeepSeek's dense distilled models are 'llama' or 'qwen2' by their config; Llama 2/3.x are 'llama'.

export interface RopeConfig {
  /** Base frequency θ: inv_freq[i] = θ^(-2i/dims). */
  theta: number;
  /** Rotated dimensions per head (≤ headDim). ChatGLM rotates only the first half ("partial rope"). */
  dims: number;
  /**
   * 'normal' (GGML rope type 0): rotate adjacent pairs (x[2i], x[2i+1]) — LLaMA/Mistral/ChatGLM after
   * llama.cpp's q/k permutation (HF safetensors q/k are permuted at load to match, see names.ts).
   * 'neox' (GGML rope type 2): rotate halves (x[i], x[i + dims/2]) — Qwen2/3, Gemma, Falcon, GPT-NeoX.
   */
  style: 'normal' | 'neox';
  /**
   * Scaling of the rotary frequencies. 'linear': positions divided by factor. 'llama3': per-pair
   * divisors are the tensor `rope_freqs.weight` (dims/2 floats; θ_i ← θ_i · f_i⁻¹, ggml's
   * freq_factors) — the loader always provides it, computing it from config.json for HF folders
   * exactly as llama.cpp's converter does. 'yarn': as ggml_rope_ext with ext_factor 1.
   * Gemma3: applies to global layers only; sliding layers use ropeLocalTheta unscaled.
   */
  scaling: null | {
    type: 'linear' | 'yarn' | 'llama3';
    factor: number;
    /** Context the model was trained with before scaling (yarn, llama3). */
    originalContext?: number;
    /** llama3: wavelengths above originalContext/lowFreqFactor are divided by factor. */
    lowFreqFactor?: number;
    /** llama3: wavelengths below originalContext/highFreqFactor are kept; in between interpolated. */
    highFreqFactor?: number;
    /** yarn ramp bounds (in rotations) and attention magnitude factor. */
    betaFast?: number;
    betaSlow?: number;
    attnFactor?: number;
  };
}

export interface ModelConfig {
  family: Family;
  /** GGUF general.architecture ('llama','qwen2','qwen3','gemma','gemma2','gemma3','gpt2','falcon','bloom','chatglm'). */
  arch: string;

  vocabSize: number; // V: rows of token_embd.weight
  contextLength: number; // maximum positions the model was configured for

  dModel: number; // C
  nLayers: number; // L
  nHeads: number; // H (query heads)
  nKvHeads: number; // Hkv: H/Hkv query heads share one k/v head (GQA; 1 = MQA as in Falcon-7B)
  headDim: number; // D: q is (H·D), k and v are (Hkv·D); usually C/H (Gemma and Qwen3 may differ)
  ffnDim: number; // F

  /** 'rms': x/rms(x)·w. 'layer': (x-mean)/std·w + b. */
  norm: 'rms' | 'layer';
  normEps: number;
  /**
   * Added to norm weights by the forward pass: scale = w + normWeightOffset. HF Gemma files store
   * w-1; the loader folds the +1 into the weights exactly as llama.cpp's converter does (so GGUF and
   * HF loads give identical tensors) and sets this to 0. Non-zero only for hand-built configs.
   */
  normWeightOffset: number;

  /** 'gelu' = exact erf GELU, 'gelu_tanh' = tanh approximation (llama.cpp's ggml_gelu uses the tanh form everywhere). */
  activation: 'silu' | 'gelu' | 'gelu_tanh';
  /** Gated FFN: down(act(gate(x)) · up(x)). Ungated: down(act(up(x))). */
  gatedFfn: boolean;

  /** Rotary position embedding, or null (GPT-2 learned positions, BLOOM ALiBi). */
  rope: RopeConfig | null;
  /** ALiBi: score[h][i][j] += slope_h · (j - i); slopes from alibiMaxBias as in ggml (max_bias 8). */
  alibi: boolean;
  alibiMaxBias: number;
  /** GPT-2: position_embd.weight (contextLength, C) added to the token embeddings. */
  positionEmbeddings: boolean;

  /** Biases on q/k/v projections (Qwen2, GPT-2, BLOOM, ChatGLM). */
  qkvBias: boolean;
  /** Bias on attn_output (GPT-2, BLOOM). */
  outBias: boolean;
  /** Biases on ffn_up/ffn_down (GPT-2, BLOOM). */
  ffnBias: boolean;
  /** RMS norm over each head's q and k (weights (D)) before rope: Qwen3, Gemma3. */
  qkNorm: boolean;

  /** No output.weight: logits use token_embd.weight. */
  tiedEmbeddings: boolean;
  /** Multiply embeddings by this (Gemma: sqrt(C)); null = none. */
  embedScale: number | null;
  /** BLOOM: layernorm (token_embd_norm) right after the embedding lookup. */
  embedNorm: boolean;

  /** Falcon: x + attn(n(x)) + mlp(n(x)) with one shared norm input (or attn_norm_2 for the mlp, see below). */
  parallelBlock: boolean;
  /**
   * Falcon-40B/180B ("new decoder architecture"), as llama.cpp builds it: attention reads
   * norm(x) with blk.N.attn_norm_2 (HF ln_attn), the mlp reads norm(x) with blk.N.attn_norm (HF ln_mlp).
   */
  parallelBlockTwoNorms: boolean;

  /**
   * Sliding-window attention: a query at position i sees keys j with i - W < j ≤ i (W keys,
   * itself included; llama.cpp's LLAMA_SWA_TYPE_STANDARD masks i - j ≥ W). null = full attention.
   */
  slidingWindow: number | null;
  /**
   * With slidingWindow: every Nth layer (layer % N == N-1) is global, the others use the window.
   * Gemma2: 2 (even layers local); Gemma3: 6. null = every layer uses the window (Mistral).
   */
  slidingWindowPattern: number | null;
  /** Gemma3: rope θ for the local (sliding) layers; global layers use rope.theta. null = same θ. */
  ropeLocalTheta: number | null;

  /** Gemma2/3: post_attention_norm and post_ffw_norm applied to each branch's output before the residual add. */
  postNorms: boolean;

  /** Gemma2: scores = cap·tanh(scores/cap) before the mask. */
  attnLogitSoftcap: number | null;
  /** Gemma2: logits = cap·tanh(logits/cap). */
  finalLogitSoftcap: number | null;
  /** Attention score scale; null = 1/sqrt(headDim). Gemma2/3: query_pre_attn_scalar^-0.5. */
  attnScale: number | null;

  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** Every family this engine implements (for error messages and tests). */
export const FAMILIES: readonly Family[] = [
  'llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'gpt2', 'falcon', 'bloom', 'chatglm',
];

/** True for layer `il` using the sliding window (vs global attention). */
export function isSlidingLayer(cfg: ModelConfig, il: number): boolean {
  if (cfg.slidingWindow === null) return false;
  if (cfg.slidingWindowPattern === null) return true;
  return il % cfg.slidingWindowPattern !== cfg.slidingWindowPattern - 1;
}
