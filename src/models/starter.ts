/**
 * The starter base model shipped in `models/starter/` (recipe: scripts/starter/, card: its
 * README.md and recipe.json). A node registers it in its catalog on start, by path and weight
 * hash (the weights are not copied), unless the user removed it on purpose; the Model Factory
 * and `openledger run` use it when no model is named, so fine-tuning, serving and attribution
 * work offline. `writeStarterGguf` converts it to GGUF (llama.cpp) on demand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sha256Files } from '../engine/model/load.ts';
import { modelError } from '../util/errors.ts';
import type { ModelCatalog, ModelEntry } from './catalog.ts';

import { STARTER_DIR, STARTER_NAME, starterShipped } from './starter-files.ts';
export { STARTER_DIR, STARTER_NAME, starterShipped };

/** What the model card (recipe.json) records about the shipped weights. */
export interface StarterCard {
  weights: { file: string; sha256: string };
  steps: number;
  heldOut: { init: number; final: number };
  corpus: { sha256: string };
}

export function readStarterCard(dir = STARTER_DIR): StarterCard {
  const path = join(dir, 'recipe.json');
  if (!existsSync(path)) throw modelError(`the starter model's card ${path} is missing`, { code: 'starter_missing', hint: 'restore models/starter/ from git, or rebuild it with `npm run train:starter`' });
  return JSON.parse(readFileSync(path, 'utf8')) as StarterCard;
}

/** sha256 of the shipped weight file, checked against the card (a corrupted or swapped file is refused). */
export async function verifyStarter(dir = STARTER_DIR): Promise<string> {
  const card = readStarterCard(dir);
  const sha = await sha256Files([join(dir, card.weights.file)]);
  if (sha !== card.weights.sha256) {
    throw modelError(`models/starter/${card.weights.file} has sha256 ${sha}, but its model card records ${card.weights.sha256}`, {
      code: 'starter_hash_mismatch', hint: 'restore the file from git (git checkout -- models/starter), or rebuild it with `npm run train:starter`',
    });
  }
  return sha;
}

export type StarterRegistration =
  | { status: 'added' | 'present'; entry: ModelEntry }
  /** The user removed `starter` (`openledger models remove starter`), or named another model so: left alone. */
  | { status: 'removed' | 'taken'; entry?: ModelEntry }
  | { status: 'not_shipped' };

/**
 * Make sure the catalog lists the starter model: added on a fresh data dir, refreshed when the
 * checkout moved or shipped new weights, left alone when the user removed it or registered
 * another model under that name.
 */
export async function ensureStarterModel(catalog: ModelCatalog, dir = STARTER_DIR): Promise<StarterRegistration> {
  if (!starterShipped(dir)) return { status: 'not_shipped' };
  if (catalog.wasRemoved(STARTER_NAME)) return { status: 'removed' };
  const existing = catalog.get(STARTER_NAME);
  const sha = await verifyStarter(dir);
  if (existing) {
    const ours = existing.path === resolve(dir);
    if (ours && existing.sha256 === sha) return { status: 'present', entry: existing };
    if (!ours && existing.sha256 !== sha) return { status: 'taken', entry: existing };
    // Ours with new weights (a newer starter in this checkout), or the same weights at a new path: refresh.
  }
  return { status: 'added', entry: await catalog.add(dir, STARTER_NAME, { replace: true }) };
}

/**
 * The starter as a GGUF file (what llama.cpp's convert_hf_to_gguf.py writes for a LLaMA with a
 * GPT-2 BPE vocab): tensors from our loader (canonical llama.cpp names, q/k rows already in
 * llama.cpp's order), the tied output head left out (llama.cpp then uses token_embd), the vocab
 * and merges from tokenizer.json, the ChatML template. f32 keeps it bit-comparable to the HF folder.
 */
export async function writeStarterGguf(path: string, opts: { dir?: string; dtype?: 'f32' | 'f16' } = {}): Promise<string> {
  const dir = opts.dir ?? STARTER_DIR;
  const dtype = opts.dtype ?? 'f32';
  const { loadModel } = await import('../engine/model/load.ts');
  const { gg, writeGguf } = await import('../engine/formats/gguf-write.ts');
  const m = await loadModel(dir, { dtype: 'f32' });
  const c = m.config;
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number>; merges: Array<string | [string, string]> };
    added_tokens: Array<{ id: number; content: string; special: boolean }>;
  };
  const tokens: string[] = new Array(c.vocabSize);
  const types: number[] = new Array(c.vocabSize).fill(1); // 1 normal, 3 control
  for (const [t, id] of Object.entries(tok.model.vocab)) tokens[id] = t;
  for (const a of tok.added_tokens) { tokens[a.id] = a.content; if (a.special) types[a.id] = 3; }
  if (tokens.some((t) => t === undefined)) throw modelError(`${dir}/tokenizer.json does not cover ids 0…${c.vocabSize - 1}`, { code: 'invalid_tokenizer' });
  const id = (s: string) => tok.added_tokens.find((a) => a.content === s)?.id;
  const eos = id('<|im_end|>'), pad = id('<|endoftext|>');
  if (eos === undefined || pad === undefined) throw modelError(`${dir}/tokenizer.json lacks <|im_end|> or <|endoftext|>`, { code: 'invalid_tokenizer' });
  const cfgJson = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { rope_theta: number; rms_norm_eps: number };
  const tensors = [...m.tensors].filter(([name]) => name !== 'output.weight' || !c.tiedEmbeddings).map(([name, t]) => {
    if (t instanceof Float32Array) return { name, shape: [t.length], dtype: 'f32' as const, data: t };
    return { name, shape: [t.cols, t.rows], dtype, data: new Float32Array(t.data.buffer, t.data.byteOffset, t.rows * t.cols) };
  });
  const k = (key: string) => `llama.${key}`;
  writeGguf(path, {
    metadata: [
      ['general.architecture', 'llama'], ['general.type', 'model'], ['general.name', 'openledger-starter'],
      ['general.file_type', gg.u32(dtype === 'f32' ? 0 : 1)], ['general.license', 'Apache-2.0'],
      [k('block_count'), gg.u32(c.nLayers)], [k('context_length'), gg.u32(c.contextLength)], [k('embedding_length'), gg.u32(c.dModel)],
      [k('feed_forward_length'), gg.u32(c.ffnDim)], [k('attention.head_count'), gg.u32(c.nHeads)], [k('attention.head_count_kv'), gg.u32(c.nKvHeads)],
      [k('rope.freq_base'), gg.f32(cfgJson.rope_theta)], [k('attention.layer_norm_rms_epsilon'), gg.f32(cfgJson.rms_norm_eps)],
      [k('attention.key_length'), gg.u32(c.headDim)], [k('attention.value_length'), gg.u32(c.headDim)],
      [k('vocab_size'), gg.u32(c.vocabSize)], [k('rope.dimension_count'), gg.u32(c.headDim)],
      ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.pre', 'gpt-2'],
      ['tokenizer.ggml.tokens', gg.arr('string', tokens)], ['tokenizer.ggml.token_type', gg.arr('i32', types)],
      ['tokenizer.ggml.merges', gg.arr('string', tok.model.merges.map((x) => (Array.isArray(x) ? x.join(' ') : x)))],
      ['tokenizer.ggml.eos_token_id', gg.u32(eos)], ['tokenizer.ggml.padding_token_id', gg.u32(pad)],
      ['tokenizer.ggml.add_bos_token', gg.bool(false)], ['tokenizer.ggml.add_eos_token', gg.bool(false)],
      ['tokenizer.chat_template', m.chatTemplate ?? ''],
    ],
    tensors,
  });
  return path;
}
