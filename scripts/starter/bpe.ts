/**
 * A small byte-level BPE trainer (GPT-2 style) for the starter model, and the tokenizer files it
 * writes: `tokenizer.json` (read by @huggingface/tokenizers, the engine's tokenizer) and
 * `tokenizer_config.json` (ChatML template, special tokens).
 *
 *   ids    0…255 the bytes (GPT-2's byte→unicode alphabet), then one id per merge in rank order,
 *          then the special tokens — the layout llama.cpp's "gpt2" vocab expects (tokens + merges),
 *          so the same vocab converts to GGUF unchanged.
 *   train  documents are split at special tokens (never merged into), pre-tokenized with GPT-2's
 *          regex, counted as distinct words; each round merges the most frequent adjacent pair
 *          (ties: the smaller pair text), until `vocabSize` ids are taken. Pair counts are kept
 *          incrementally (only the words that contain the merged pair are revisited).
 */
import { bytesToUnicode, CHATML_TEMPLATE, preTokenize } from '../../src/engine/testing/tiny-vocab.ts';

export { CHATML_TEMPLATE };
export const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export interface BpeVocab {
  /** Token strings by id (byte-level unicode, then merges, then specials). */
  tokens: string[];
  /** "left right" by rank. */
  merges: string[];
  specialStart: number;
}

export function trainBpe(docs: readonly string[], vocabSize: number): BpeVocab {
  const nMerges = vocabSize - 256 - SPECIALS.length;
  if (nMerges < 0) throw new Error(`vocabSize ${vocabSize} is smaller than 256 bytes + ${SPECIALS.length} specials`);
  const splitRe = new RegExp(SPECIALS.map((s) => s.replace(/[|]/g, '\\|')).join('|'), 'g');
  const counts = new Map<string, number>();
  for (const d of docs) for (const part of d.split(splitRe)) for (const w of preTokenize(part, 'gpt-2')) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts.entries()].map(([w, c]) => ({ syms: Array.from(w), c }));

  // pair → count, and pair → indices of the words containing it.
  const pairN = new Map<string, number>();
  const where = new Map<string, Set<number>>();
  const addWord = (wi: number, sign: 1 | -1) => {
    const { syms, c } = words[wi];
    for (let i = 0; i + 1 < syms.length; i++) {
      const k = syms[i] + ' ' + syms[i + 1];
      pairN.set(k, (pairN.get(k) ?? 0) + sign * c);
      if (sign > 0) { let s = where.get(k); if (!s) where.set(k, (s = new Set())); s.add(wi); }
    }
  };
  words.forEach((_, i) => addWord(i, 1));

  const merges: string[] = [], merged: string[] = [];
  while (merges.length < nMerges) {
    let best = '', bestN = 0;
    for (const [k, n] of pairN) if (n > bestN || (n === bestN && n > 0 && k < best)) [best, bestN] = [k, n];
    if (bestN < 2) break; // nothing left worth a token
    const [a, b] = best.split(' ');
    merges.push(best);
    merged.push(a + b);
    for (const wi of where.get(best) ?? []) {
      const w = words[wi];
      addWord(wi, -1);
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) { out.push(a + b); i++; } else out.push(w.syms[i]);
      }
      w.syms = out;
      addWord(wi, 1);
    }
    pairN.delete(best);
    where.delete(best);
  }
  const tokens = [...bytesToUnicode(), ...merged];
  const specialStart = tokens.length;
  tokens.push(...SPECIALS);
  return { tokens, merges, specialStart };
}

/** Hugging Face `tokenizer.json`: ByteLevel BPE, GPT-2 pre-tokenizer, no BOS, specials as added tokens. */
export function tokenizerJson(v: BpeVocab): object {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < v.specialStart; i++) vocab[v.tokens[i]] = i;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: SPECIALS.map((s, i) => ({ id: v.specialStart + i, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: v.merges,
    },
  };
}

export function tokenizerConfig(v: BpeVocab, contextLength: number): object {
  return {
    add_bos_token: false, add_eos_token: false, bos_token: null, eos_token: '<|im_end|>', pad_token: '<|endoftext|>', unk_token: null,
    chat_template: CHATML_TEMPLATE, clean_up_tokenization_spaces: false, model_max_length: contextLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
    added_tokens_decoder: Object.fromEntries(SPECIALS.map((s, i) => [String(v.specialStart + i), {
      content: s, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
    }])),
  };
}

export { GPT2_REGEX };
