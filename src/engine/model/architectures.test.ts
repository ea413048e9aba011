// The architecture table against the config.json files of real released models (copied from
// their Hugging Face repositories): each family's traits, and the tensors the config implies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpenLedgerError } from '../../util/errors.ts';
import { isSlidingLayer } from './config.ts';
import { configFromHf, expectedTensors } from './architectures.ts';
import { bloomQkvPermutation, canonicalHfName, falconQkvPermutation, llama3RopeFreqs, llamaPermutation } from './names.ts';

const LLAMA_31_8B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009],
  hidden_act: 'silu', hidden_size: 4096, intermediate_size: 14336, max_position_embeddings: 131072, model_type: 'llama',
  num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5,
  rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: false, vocab_size: 128256,
};
const MISTRAL_7B = {
  architectures: ['MistralForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_size: 4096, intermediate_size: 14336,
  max_position_embeddings: 32768, model_type: 'mistral', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8,
  rms_norm_eps: 1e-5, rope_theta: 10000.0, sliding_window: 4096, tie_word_embeddings: false, vocab_size: 32000,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], bos_token_id: 151643, eos_token_id: 151643, hidden_size: 896, intermediate_size: 4864,
  max_position_embeddings: 32768, max_window_layers: 24, model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24,
  num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true,
  use_sliding_window: false, vocab_size: 151936,
};
const R1_DISTILL_QWEN_15B = {
  architectures: ['Qwen2ForCausalLM'], bos_token_id: 151643, eos_token_id: 151643, hidden_size: 1536, intermediate_size: 8960,
  max_position_embeddings: 131072, model_type: 'qwen2', num_attention_heads: 12, num_hidden_layers: 28, num_key_value_heads: 2,
  rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 4096, tie_word_embeddings: false, use_sliding_window: false, vocab_size: 151936,
};
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'], attention_bias: false, head_dim: 128, hidden_size: 1024, intermediate_size: 3072,
  max_position_embeddings: 40960, model_type: 'qwen3', num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8,
  rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, vocab_size: 151936, bos_token_id: 151643, eos_token_id: 151645,
};
const GEMMA_2B = {
  architectures: ['GemmaForCausalLM'], bos_token_id: 2, eos_token_id: 1, head_dim: 256, hidden_act: 'gelu', hidden_size: 2048,
  intermediate_size: 16384, max_position_embeddings: 8192, model_type: 'gemma', num_attention_heads: 8, num_hidden_layers: 18,
  num_key_value_heads: 1, rms_norm_eps: 1e-6, rope_theta: 10000.0, vocab_size: 256000,
};
const GEMMA2_2B = {
  architectures: ['Gemma2ForCausalLM'], attn_logit_softcapping: 50.0, bos_token_id: 2, eos_token_id: 1, final_logit_softcapping: 30.0,
  head_dim: 256, hidden_activation: 'gelu_pytorch_tanh', hidden_size: 2304, intermediate_size: 9216, max_position_embeddings: 8192,
  model_type: 'gemma2', num_attention_heads: 8, num_hidden_layers: 26, num_key_value_heads: 4, query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 4096, vocab_size: 256000,
};
const GEMMA3_1B = {
  architectures: ['Gemma3ForCausalLM'], head_dim: 256, hidden_size: 1152, intermediate_size: 6912, max_position_embeddings: 32768,
  model_type: 'gemma3_text', num_attention_heads: 4, num_hidden_layers: 26, num_key_value_heads: 1, query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6, rope_local_base_freq: 10000, rope_scaling: null, rope_theta: 1000000, sliding_window: 512,
  sliding_window_pattern: 6, vocab_size: 262144, final_logit_softcapping: null, bos_token_id: 2, eos_token_id: [1, 106],
};
const GPT2 = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], bos_token_id: 50256, eos_token_id: 50256,
  layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024, vocab_size: 50257,
};
const FALCON_7B = {
  alibi: false, architectures: ['FalconForCausalLM'], bias: false, bos_token_id: 11, eos_token_id: 11, hidden_size: 4544,
  layer_norm_epsilon: 1e-5, model_type: 'falcon', multi_query: true, new_decoder_architecture: false, num_attention_heads: 71,
  num_hidden_layers: 32, parallel_attn: true, vocab_size: 65024,
};
const FALCON_40B = {
  alibi: false, architectures: ['FalconForCausalLM'], bias: false, hidden_size: 8192, layer_norm_epsilon: 1e-5, model_type: 'falcon',
  new_decoder_architecture: true, num_attention_heads: 128, num_hidden_layers: 60, num_kv_heads: 8, parallel_attn: true, vocab_size: 65024,
};
const BLOOM_560M = {
  architectures: ['BloomForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_size: 1024, layer_norm_epsilon: 1e-5,
  model_type: 'bloom', n_head: 16, n_layer: 24, vocab_size: 250880,
};
const CHATGLM3_6B = {
  architectures: ['ChatGLMModel'], model_type: 'chatglm', add_bias_linear: false, add_qkv_bias: true, ffn_hidden_size: 13696,
  hidden_size: 4096, kv_channels: 128, layernorm_epsilon: 1e-5, multi_query_attention: true, multi_query_group_num: 2,
  num_attention_heads: 32, num_layers: 28, padded_vocab_size: 65024, rmsnorm: true, seq_length: 8192, eos_token_id: 2, tie_word_embeddings: false,
};

const shapes = (cfg: ReturnType<typeof configFromHf>) => new Map(expectedTensors(cfg).map((t) => [t.name, t.shape]));

describe('architecture table: real configs', () => {
  it('Llama 3.1 8B: GQA, llama3 rope scaling, untied', () => {
    const c = configFromHf(LLAMA_31_8B);
    assert.equal(c.family, 'llama');
    assert.equal(c.arch, 'llama');
    assert.deepEqual([c.dModel, c.nLayers, c.nHeads, c.nKvHeads, c.headDim, c.ffnDim, c.vocabSize], [4096, 32, 32, 8, 128, 14336, 128256]);
    assert.deepEqual(c.rope, { theta: 500000, dims: 128, style: 'normal', scaling: { type: 'llama3', factor: 8, originalContext: 8192, lowFreqFactor: 1, highFreqFactor: 4 } });
    assert.equal(c.normEps, Math.fround(1e-5));
    assert.equal(c.tiedEmbeddings, false);
    assert.deepEqual(c.eosTokenIds, [128001, 128008, 128009]);
    const s = shapes(c);
    assert.deepEqual(s.get('blk.31.attn_k.weight'), [1024, 4096]);
    assert.deepEqual(s.get('output.weight'), [128256, 4096]);
    assert.deepEqual(s.get('rope_freqs.weight'), [64]);
    assert.equal(s.size, 2 + 1 + 1 + 32 * 9); // embd, output_norm, output, rope_freqs, 9 per layer
    // Llama 3's published rope factors: 1 for high frequencies, 8 for low, smooth between.
    const f = llama3RopeFreqs(c);
    assert.equal(f[0], 1);
    assert.equal(f[63], 8);
    assert.ok(f.some((v) => v > 1 && v < 8));
  });

  it('Mistral 7B: sliding window on every layer, GGUF arch llama', () => {
    const c = configFromHf(MISTRAL_7B);
    assert.equal(c.family, 'mistral');
    assert.equal(c.arch, 'llama');
    assert.equal(c.slidingWindow, 4096);
    assert.equal(c.slidingWindowPattern, null);
    assert.ok(isSlidingLayer(c, 0) && isSlidingLayer(c, 31));
  });

  it('Qwen2.5 0.5B and DeepSeek-R1-Distill-Qwen: neox rope, qkv bias, tied or not', () => {
    const q = configFromHf(QWEN25_05B);
    assert.equal(q.family, 'qwen2');
    assert.equal(q.rope!.style, 'neox');
    assert.equal(q.qkvBias, true);
    assert.equal(q.outBias, false);
    assert.equal(q.tiedEmbeddings, true);
    assert.equal(q.headDim, 64);
    assert.equal(q.slidingWindow, null, 'use_sliding_window false');
    assert.deepEqual(shapes(q).get('blk.0.attn_k.bias'), [128]);
    assert.ok(!shapes(q).has('output.weight'));
    const d = configFromHf(R1_DISTILL_QWEN_15B);
    assert.equal(d.family, 'qwen2');
    assert.equal(d.tiedEmbeddings, false);
    assert.deepEqual([d.nHeads, d.nKvHeads, d.headDim], [12, 2, 128]);
  });

  it('Qwen3: q/k norms and an explicit head_dim', () => {
    const c = configFromHf(QWEN3_06B);
    assert.equal(c.qkNorm, true);
    assert.equal(c.qkvBias, false);
    assert.equal(c.headDim, 128);
    assert.deepEqual(shapes(c).get('blk.0.attn_q.weight'), [2048, 1024]);
    assert.deepEqual(shapes(c).get('blk.0.attn_output.weight'), [1024, 2048]);
    assert.deepEqual(shapes(c).get('blk.0.attn_q_norm.weight'), [128]);
  });

  it('Gemma 1/2/3: gelu_tanh, sqrt(C) embedding scale, tied, softcaps, alternating windows', () => {
    const g = configFromHf(GEMMA_2B);
    assert.deepEqual([g.activation, g.tiedEmbeddings, g.embedScale, g.nKvHeads], ['gelu_tanh', true, Math.sqrt(2048), 1]);
    assert.equal(g.normWeightOffset, 0, 'the +1 is folded into the weights at load');
    const g2 = configFromHf(GEMMA2_2B);
    assert.deepEqual([g2.attnLogitSoftcap, g2.finalLogitSoftcap, g2.slidingWindow, g2.slidingWindowPattern, g2.postNorms], [50, 30, 4096, 2, true]);
    assert.equal(g2.attnScale, null, 'query_pre_attn_scalar = head_dim → 1/sqrt(D)');
    assert.deepEqual([0, 1, 2, 3].map((l) => isSlidingLayer(g2, l)), [true, false, true, false]);
    assert.ok(shapes(g2).has('blk.0.post_ffw_norm.weight'));
    const g3 = configFromHf(GEMMA3_1B);
    assert.equal(g3.family, 'gemma3');
    assert.deepEqual([g3.qkNorm, g3.slidingWindow, g3.slidingWindowPattern, g3.ropeLocalTheta, g3.rope!.theta, g3.finalLogitSoftcap], [true, 512, 6, 10000, 1000000, null]);
    assert.deepEqual([0, 4, 5, 11].map((l) => isSlidingLayer(g3, l)), [true, true, false, false]);
    assert.deepEqual(g3.eosTokenIds, [1, 106]);
  });

  it('GPT-2: learned positions, layernorm with biases, ungated gelu_tanh', () => {
    const c = configFromHf(GPT2);
    assert.deepEqual([c.norm, c.activation, c.gatedFfn, c.rope, c.positionEmbeddings, c.tiedEmbeddings, c.ffnDim, c.contextLength],
      ['layer', 'gelu_tanh', false, null, true, true, 3072, 1024]);
    const s = shapes(c);
    assert.deepEqual(s.get('position_embd.weight'), [1024, 768]);
    assert.ok(s.has('blk.0.attn_norm.bias') && s.has('blk.0.ffn_up.bias') && s.has('blk.0.attn_output.bias') && !s.has('blk.0.ffn_gate.weight'));
  });

  it('Falcon 7B (MQA) and 40B (grouped kv, two norms): parallel block', () => {
    const c = configFromHf(FALCON_7B);
    assert.deepEqual([c.nHeads, c.nKvHeads, c.headDim, c.parallelBlock, c.parallelBlockTwoNorms, c.qkvBias, c.ffnDim], [71, 1, 64, true, false, false, 4 * 4544]);
    assert.ok(!shapes(c).has('blk.0.ffn_norm.weight'), 'the mlp reads the attention norm');
    const c40 = configFromHf(FALCON_40B);
    assert.deepEqual([c40.nKvHeads, c40.parallelBlockTwoNorms], [8, true]);
    assert.ok(shapes(c40).has('blk.0.attn_norm_2.bias'));
    assert.throws(() => configFromHf({ ...FALCON_7B, alibi: true }), (e: OpenLedgerError) => e.code === 'unsupported_config');
  });

  it('BLOOM: ALiBi, embedding layernorm, biases everywhere', () => {
    const c = configFromHf(BLOOM_560M);
    assert.deepEqual([c.alibi, c.alibiMaxBias, c.embedNorm, c.rope, c.nKvHeads, c.ffnDim, c.tiedEmbeddings], [true, 8, true, null, 16, 4096, true]);
    assert.ok(shapes(c).has('token_embd_norm.bias'));
  });

  it('ChatGLM3: partial rope, MQA groups, qkv bias, padded vocab', () => {
    const c = configFromHf(CHATGLM3_6B);
    assert.deepEqual([c.family, c.nLayers, c.nKvHeads, c.headDim, c.ffnDim, c.vocabSize, c.qkvBias, c.outBias, c.contextLength],
      ['chatglm', 28, 2, 128, 13696, 65024, true, false, 8192]);
    assert.deepEqual(c.rope, { theta: 10000, dims: 64, style: 'normal', scaling: null });
    assert.deepEqual(shapes(c).get('blk.0.attn_k.weight'), [256, 4096]);
    assert.equal(canonicalHfName('chatglm', 'transformer.encoder.layers.3.mlp.dense_h_to_4h.weight'), 'blk.3.ffn_up_gate.weight');
    assert.equal(canonicalHfName('chatglm', 'transformer.rotary_pos_emb.inv_freq'), null);
  });

  it('HF names of the checkpoint layouts people download', () => {
    assert.equal(canonicalHfName('gpt2', 'h.11.mlp.c_proj.weight'), 'blk.11.ffn_down.weight'); // openai-community/gpt2
    assert.equal(canonicalHfName('gpt2', 'transformer.wpe.weight'), 'position_embd.weight');
    assert.equal(canonicalHfName('gpt2', 'h.0.attn.bias'), null); // the causal-mask buffer
    assert.equal(canonicalHfName('bloom', 'word_embeddings_layernorm.bias'), 'token_embd_norm.bias'); // bigscience/bloom-560m
    assert.equal(canonicalHfName('falcon', 'transformer.h.3.ln_attn.weight'), 'blk.3.attn_norm_2.weight');
    assert.equal(canonicalHfName('falcon', 'transformer.h.3.ln_mlp.weight'), 'blk.3.attn_norm.weight');
    assert.equal(canonicalHfName('gemma2', 'model.layers.2.pre_feedforward_layernorm.weight'), 'blk.2.ffn_norm.weight');
    assert.equal(canonicalHfName('gemma2', 'model.layers.2.post_attention_layernorm.weight'), 'blk.2.post_attention_norm.weight');
    assert.equal(canonicalHfName('llama', 'model.layers.2.post_attention_layernorm.weight'), 'blk.2.ffn_norm.weight');
    assert.equal(canonicalHfName('gemma3', 'language_model.model.layers.0.self_attn.q_norm.weight'), 'blk.0.attn_q_norm.weight');
    assert.equal(canonicalHfName('gemma3', 'model.language_model.embed_tokens.weight'), 'token_embd.weight');
    assert.equal(canonicalHfName('gemma3', 'model.vision_tower.vision_model.embeddings.patch_embedding.weight'), null);
    assert.equal(canonicalHfName('llama', 'model.layers.0.self_attn.rotary_emb.inv_freq'), null);
    assert.equal(canonicalHfName('qwen3', 'layers.5.self_attn.k_norm.weight'), 'blk.5.attn_k_norm.weight'); // Qwen3Model (embedding checkpoints)
    assert.equal(canonicalHfName('qwen3', 'embed_tokens.weight'), 'token_embd.weight');
    assert.equal(canonicalHfName('gpt2', 'layers.5.self_attn.k_norm.weight'), undefined);
    assert.equal(canonicalHfName('llama', 'model.layers.0.block_sparse_moe.gate.weight'), undefined); // not a dense llama: planHf refuses it
  });
});

describe('architecture table: errors', () => {
  it('an unknown architecture lists the supported ones', () => {
    assert.throws(() => configFromHf({ architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 8 }, '/m/config.json'),
      (e: OpenLedgerError) => e.code === 'unsupported_architecture' && /\/m\/config\.json/.test(e.message) && /MambaForCausalLM/.test(e.message)
        && /BloomForCausalLM/.test(e.hint!) && /ChatGLMModel/.test(e.hint!));
  });
  it('an inconsistent config is refused with the field named', () => {
    assert.throws(() => configFromHf({ ...QWEN25_05B, num_attention_heads: 13 }), (e: OpenLedgerError) => e.code === 'invalid_config' && e.param === 'head_dim');
    assert.throws(() => configFromHf({ ...QWEN25_05B, num_key_value_heads: 3 }), (e: OpenLedgerError) => e.code === 'invalid_config' && e.param === 'num_key_value_heads');
    assert.throws(() => configFromHf({ ...QWEN25_05B, hidden_size: undefined }), (e: OpenLedgerError) => e.code === 'invalid_config' && e.param === 'hidden_size');
    assert.throws(() => configFromHf({ ...LLAMA_31_8B, rope_scaling: { rope_type: 'dynamic', factor: 2 } }), (e: OpenLedgerError) => e.code === 'unsupported_config');
  });
});

describe('weight layout transforms (as convert_hf_to_gguf.py)', () => {
  it('LlamaModel.permute interleaves the two rotary halves of each head', () => {
    // One head of 8 rows: HF order [x0..x3 | y0..y3] → GGUF [x0 y0 x1 y1 …].
    assert.deepEqual([...llamaPermutation(8, 1)], [0, 4, 1, 5, 2, 6, 3, 7]);
    assert.deepEqual([...llamaPermutation(8, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
  });
  it('BLOOM per-head [q k v] → [q…; k…; v…]', () => {
    // 2 heads of dim 1: rows q0 k0 v0 q1 k1 v1 → q0 q1 k0 k1 v0 v1.
    assert.deepEqual([...bloomQkvPermutation(2, 1)], [0, 3, 1, 4, 2, 5]);
  });
  it('Falcon grouped [q.. k v] per kv head → [q…; k…; v…]', () => {
    // 4 heads, 2 kv groups, dim 1: rows q0 q1 k0 v0 q2 q3 k1 v1 → q0 q1 q2 q3 k0 k1 v0 v1.
    assert.deepEqual([...falconQkvPermutation(4, 2, 1)], [0, 1, 4, 5, 2, 6, 3, 7]);
    // MQA: q0..q3 k v.
    assert.deepEqual([...falconQkvPermutation(4, 1, 1)], [0, 1, 2, 3, 4, 5]);
  });
});
