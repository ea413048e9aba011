/**
 * The starter model's shape and its Hugging Face form: a LLaMA (RMSNorm, RoPE, SwiGLU, GQA, tied
 * embeddings) small enough to pre-train on one CPU thread in well under an hour.
 *
 * Parameters: V·C (tied embedding) + L·(C·(H+2·KV)·D + H·D·C + 3·C·F + 2·C) + C.
 */
export const STARTER_DIMS = {
  dModel: 256, // C
  nLayers: 4, // L
  nHeads: 8, // H
  nKvHeads: 4,
  headDim: 32, // D
  ffnDim: 768, // F
  /** Positions the model accepts (RoPE has no table limit; trained on documents ≤ trainContext + 1 tokens). */
  contextLength: 512,
  trainContext: 256,
};

export function hfConfig(V: number, eos: number[]) {
  const d = STARTER_DIMS;
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    hidden_size: d.dModel, intermediate_size: d.ffnDim, num_hidden_layers: d.nLayers, num_attention_heads: d.nHeads,
    num_key_value_heads: d.nKvHeads, head_dim: d.headDim, max_position_embeddings: d.contextLength, hidden_act: 'silu',
    rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, attention_bias: false, attention_dropout: 0, mlp_bias: false,
    tie_word_embeddings: true, vocab_size: V, bos_token_id: null, eos_token_id: eos, initializer_range: 0.02,
    torch_dtype: 'float32', use_cache: true, pretraining_tp: 1,
  };
}

/** Canonical (llama.cpp) tensor name → HF name; null for the tied output head. */
export function canonicalToHf(name: string): string | null {
  if (name === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (name === 'output_norm.weight') return 'model.norm.weight';
  if (name === 'output.weight') return null;
  const m = name.match(/^blk\.(\d+)\.(\w+)\.weight$/);
  const map: Record<string, string> = {
    attn_norm: 'input_layernorm', attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj', ffn_norm: 'post_attention_layernorm', ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj',
  };
  if (!m || !map[m[2]]) throw new Error(`the starter model has no tensor ${name}`);
  return `model.layers.${m[1]}.${map[m[2]]}.weight`;
}
