/**
 * GGUF embedded vocab (tokenizer.ggml.*) → an equivalent tokenizer.json object, so GGUF models
 * tokenize through the same @huggingface/tokenizers path as HF folders.
 *
 * - model 'gpt2': byte-level BPE. Tokens are already in the byte-to-unicode alphabet ('Ġthe'),
 *   merges are 'a b' strings. The pre-tokenizer is chosen by tokenizer.ggml.pre with the same
 *   split regexes llama.cpp uses (llama-vocab.cpp), followed by ByteLevel without its own regex.
 * - model 'llama': SentencePiece BPE with scores and byte fallback (<0xXX> tokens). The merges a
 *   BPE model needs are derived from the scores the way transformers' SentencePieceExtractor
 *   does it: every split of a piece into two vocab pieces, ranked by the piece's score.
 *   ' ' → '▁', and a '▁' prefix when tokenizer.ggml.add_space_prefix (default true), applied per
 *   text segment between special tokens, as llama.cpp does.
 *
 * Control (type 3) and user-defined (type 4) tokens become added_tokens, so they are matched
 * whole in the input; control ones are 'special' (skipped by decode with skipSpecial).
 */
import { modelError } from '../../util/errors.ts';
import type { GgufFile } from '../formats/gguf.ts';
import { metaBool, metaNumber, metaString } from '../formats/gguf.ts';

const enum TokenType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

const LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

/** tokenizer.ggml.pre → the split regexes llama.cpp applies in sequence, and its BPE flags. */
const PRE: Record<string, { regexes: string[]; ignoreMerges?: boolean; addBos?: boolean }> = {
  llama3: { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  'llama-v3': { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  'llama-bpe': { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  dbrx: { regexes: [LLAMA3] },
  'smaug-bpe': { regexes: [LLAMA3] },
  'chatglm-bpe': { regexes: [LLAMA3] },
  glm4: { regexes: [LLAMA3] },
  qwen2: { regexes: [QWEN2] },
  'deepseek-r1-qwen': { regexes: [QWEN2] },
  stablelm2: { regexes: [QWEN2] },
  'gpt-2': { regexes: [GPT2] },
  'phi-2': { regexes: [GPT2] },
  mpt: { regexes: [GPT2] },
  olmo: { regexes: [GPT2] },
  starcoder: { regexes: ['\\p{N}', GPT2] },
  refact: { regexes: ['\\p{N}', GPT2] },
  smollm: { regexes: ['\\p{N}', GPT2] },
  'command-r': { regexes: ['\\p{N}', GPT2] },
  falcon: { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]'] },
  bloom: { regexes: [' ?[^(\\s|.,!?…。，、।۔،)]+'] },
  'deepseek-llm': { regexes: ['[\r\n]', '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+', '\\s?[!-/:-~！-／：-～‘-‟　-。]+', '\\s+$', '[一-龥ࠀ-一가-퟿]+', '\\p{N}+'] },
  'deepseek-coder': { regexes: ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'] },
  default: { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'] },
};

function arr<T>(f: GgufFile, key: string, required: boolean): T[] | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) {
    if (!required) return undefined;
    throw modelError(`${f.path}: no ${key} in the GGUF metadata (the file has no embedded vocab)`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'convert the model with a current llama.cpp, which embeds the vocab',
    });
  }
  if (!Array.isArray(v)) throw modelError(`${f.path}: ${key} is not an array`, { code: 'invalid_tokenizer', param: 'tokenizer' });
  return v as T[];
}

export interface GgufTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export function tokenizerJsonFromGguf(f: GgufFile): GgufTokenizerFiles {
  const model = metaString(f, 'tokenizer.ggml.model');
  const tokens = arr<string>(f, 'tokenizer.ggml.tokens', true)!;
  const types = arr<number>(f, 'tokenizer.ggml.token_type', false) ?? tokens.map(() => TokenType.Normal);
  if (types.length !== tokens.length) throw modelError(`${f.path}: tokenizer.ggml.token_type has ${types.length} entries for ${tokens.length} tokens`, { code: 'invalid_tokenizer' });
  const bos = metaNumber(f, 'tokenizer.ggml.bos_token_id');
  const eos = metaNumber(f, 'tokenizer.ggml.eos_token_id');
  const unk = metaNumber(f, 'tokenizer.ggml.unknown_token_id');
  const pre = metaString(f, 'tokenizer.ggml.pre') ?? 'default';

  const added = addedTokens(tokens, types);
  const vocab = vocabOf(tokens);

  let json: Record<string, unknown>;
  let addBos: boolean;
  if (model === 'gpt2') {
    const p = PRE[pre] ?? PRE.default;
    const merges = arr<string>(f, 'tokenizer.ggml.merges', true)!;
    json = {
      version: '1.0',
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          ...p.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: p.ignoreMerges ?? false, vocab, merges,
      },
    };
    addBos = metaBool(f, 'tokenizer.ggml.add_bos_token') ?? p.addBos ?? false;
  } else if (model === 'llama') {
    const scores = arr<number>(f, 'tokenizer.ggml.scores', false) ?? tokens.map((_, i) => -i);
    json = spmTokenizerJson({
      tokens, scores, types, unkId: unk ?? null, addSpacePrefix: metaBool(f, 'tokenizer.ggml.add_space_prefix') ?? true,
    });
    addBos = metaBool(f, 'tokenizer.ggml.add_bos_token') ?? true;
  } else {
    throw modelError(`${f.path}: GGUF tokenizer model '${model ?? 'missing'}' is not supported (supported: gpt2 byte-level BPE, llama SentencePiece)`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'use a model with a BPE or SentencePiece-BPE vocab',
    });
  }
  const addEos = metaBool(f, 'tokenizer.ggml.add_eos_token') ?? false;
  json.post_processor = templateProcessing(tokens, addBos ? bos ?? null : null, addEos ? eos ?? null : null);
  const chat = metaString(f, 'tokenizer.chat_template');
  const tokenizerConfig: Record<string, unknown> = {
    clean_up_tokenization_spaces: false,
    ...(bos !== undefined ? { bos_token: tokens[bos] } : {}),
    ...(eos !== undefined ? { eos_token: tokens[eos] } : {}),
    ...(chat ? { chat_template: chat } : {}),
  };
  return { tokenizerJson: json, tokenizerConfig };
}

/** Control and user-defined tokens as tokenizer.json added_tokens (matched whole in the input). */
export function addedTokens(tokens: string[], types: number[]): Array<Record<string, unknown>> {
  const added: Array<Record<string, unknown>> = [];
  for (let id = 0; id < tokens.length; id++) {
    const t = types[id];
    if (t === TokenType.Control || t === TokenType.UserDefined) {
      added.push({ id, content: tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: t === TokenType.Control });
    }
  }
  return added;
}

/** First id of each token string (a vocab may repeat a string; the first wins, as in llama.cpp). */
function vocabOf(tokens: string[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tokens.length; id++) if (!(tokens[id] in vocab)) vocab[tokens[id]] = id;
  return vocab;
}

/**
 * A SentencePiece-BPE vocab (pieces, scores, types as in SentencePiece / GGUF) → tokenizer.json
 * (without post_processor). Shared by GGUF 'llama' vocabs and tokenizer.model files.
 */
export function spmTokenizerJson(v: {
  tokens: string[]; scores: number[]; types: number[]; unkId: number | null; addSpacePrefix: boolean;
  /** SentencePiece's NFKC-like normalization table (tokenizer.model normalizer_spec), if any. */
  precompiledCharsmap?: Uint8Array | null;
}): Record<string, unknown> {
  const vocab = vocabOf(v.tokens);
  return {
    version: '1.0',
    added_tokens: addedTokens(v.tokens, v.types),
    normalizer: {
      type: 'Sequence',
      normalizers: [
        ...(v.precompiledCharsmap?.length ? [{ type: 'Precompiled', precompiled_charsmap: Buffer.from(v.precompiledCharsmap).toString('base64') }] : []),
        ...(v.addSpacePrefix ? [{ type: 'Prepend', prepend: '▁' }] : []),
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(v.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: v.unkId !== null ? v.tokens[v.unkId] : null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: spmMerges(v.tokens, v.scores, v.types, vocab),
    },
  };
}

/** The post-processor that adds BOS and/or EOS around each encoded text. */
export function templateProcessing(tokens: string[], bos: number | null, eos: number | null): Record<string, unknown> {
  const single: unknown[] = [];
  const special: Record<string, unknown> = {};
  if (bos !== null) {
    single.push({ SpecialToken: { id: tokens[bos], type_id: 0 } });
    special[tokens[bos]] = { id: tokens[bos], ids: [bos], tokens: [tokens[bos]] };
  }
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos !== null) {
    single.push({ SpecialToken: { id: tokens[eos], type_id: 0 } });
    special[tokens[eos]] = { id: tokens[eos], ids: [eos], tokens: [tokens[eos]] };
  }
  return { type: 'TemplateProcessing', single, pair: single, special_tokens: special };
}

/** Merges for a SentencePiece-BPE vocab, ranked by the merged piece's score (highest first). */
function spmMerges(tokens: string[], scores: number[], types: number[], vocab: Record<string, number>): Array<[string, string]> {
  const merges: Array<{ l: string; r: string; score: number; order: number; li: number; ri: number }> = [];
  let order = 0;
  for (let id = 0; id < tokens.length; id++) {
    if (types[id] !== TokenType.Normal && types[id] !== TokenType.UserDefined) continue;
    const chars = Array.from(tokens[id]);
    if (chars.length < 2) continue;
    const local: typeof merges = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = vocab[l];
      const ri = vocab[r];
      if (li !== undefined && ri !== undefined) local.push({ l, r, score: scores[id], order: 0, li, ri });
    }
    local.sort((a, b) => a.li - b.li || a.ri - b.ri);
    for (const m of local) {
      m.order = order++;
      merges.push(m);
    }
  }
  merges.sort((a, b) => b.score - a.score || a.order - b.order);
  // Pairs, not 'a b' strings: user-defined pieces may contain spaces.
  return merges.map((m) => [m.l, m.r]);
}
