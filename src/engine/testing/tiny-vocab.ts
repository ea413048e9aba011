/**
 * A tiny byte-level BPE vocabulary for test models: 256 byte tokens (GPT-2's byte→unicode
 * alphabet), merges learned from a small built-in corpus, then special tokens. It is written both
 * as a Hugging Face `tokenizer.json` and as GGUF `tokenizer.ggml.*` metadata (model "gpt2"), so the
 * HF-folder path and the GGUF path of our loader, and llama.cpp, all tokenize the same way.
 *
 * The pre-tokenizer is one llama.cpp knows by name (`tokenizer.ggml.pre`): 'gpt-2' (GPT-2's
 * regex, ByteLevel with use_regex), 'llama-bpe' (Llama 3's split regex) or 'qwen2' (Qwen2's);
 * tokenizer.json carries the same regex.
 */

export type TinyPre = 'gpt-2' | 'llama-bpe' | 'qwen2' | 'deepseek-r1-qwen';

/** Specials appended after the merges, in this order. */
export const TINY_SPECIALS = [
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<bos>', '<|user|>', '<|assistant|>', '[gMASK]', '<sop>',
] as const;

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The regex each pre-tokenizer splits with (HF syntax; `(?i:…)` is not JS syntax). */
export function preRegex(pre: TinyPre): string {
  return pre === 'gpt-2' ? GPT2_REGEX : pre === 'llama-bpe' ? LLAMA3_REGEX : QWEN2_REGEX;
}

/** GPT-2's reversible byte → printable unicode char map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map: string[] = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}

const CORPUS = `The quick brown fox jumps over the lazy dog. OpenLedger turns community data into models:
datanets hold the rows, the Model Factory fine-tunes, OpenLoRA serves many adapters at once, and
Proof of Attribution pays the people whose data shaped each answer. Hello world! hello, world?
function add(a, b) { return a + b; } // 12345 67890 3.14159 2025-01-01
It's what we'll do; they're here, I'm there, you've seen it, he'd know.
Ça va? Déjà vu — naïve café. 中文测试 日本語 한국어 🙂🚀 the the the and and of of to in is that for`;

export interface TinyVocab {
  pre: TinyPre;
  /** Token strings in id order (byte-level unicode, then merges, then specials). */
  tokens: string[];
  /** Merges as "left right", by rank. */
  merges: string[];
  /** Index of the first special token. */
  specialStart: number;
  /** id of each special by text. */
  special: Record<(typeof TINY_SPECIALS)[number], number>;
}

function toJsRegex(re: string): RegExp {
  // JS has no inline (?i:...) group: expand the contractions into explicit case classes.
  const src = re.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])");
  return new RegExp(src, 'gu');
}

/** Split `text` the way the pre-tokenizer does, mapping each piece to byte-level unicode. */
export function preTokenize(text: string, pre: TinyPre): string[] {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  return (text.match(toJsRegex(preRegex(pre))) ?? []).map((w) => Array.from(enc.encode(w), (b) => b2u[b]).join(''));
}

/** Learn `nMerges` BPE merges from the built-in corpus (deterministic: ties break by pair text). */
export function buildTinyVocab(opts: { pre?: TinyPre; nMerges?: number } = {}): TinyVocab {
  const pre = opts.pre ?? 'gpt-2';
  const nMerges = opts.nMerges ?? 112;
  const counts = new Map<string, number>();
  for (const w of preTokenize(CORPUS, pre)) counts.set(w, (counts.get(w) ?? 0) + 1);
  // Each distinct word as its current list of symbols (code points; byte-level chars are single code points).
  const words = [...counts.entries()].map(([w, c]) => ({ syms: Array.from(w), c }));
  const merges: string[] = [];
  const merged: string[] = [];
  while (merges.length < nMerges) {
    const pairs = new Map<string, number>();
    for (const { syms, c } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] + ' ' + syms[i + 1];
        pairs.set(k, (pairs.get(k) ?? 0) + c);
      }
    }
    let best = '';
    let bestN = 0;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && k < best)) [best, bestN] = [k, n];
    if (bestN < 1) break;
    const [a, b] = best.split(' ');
    merges.push(best);
    merged.push(a + b);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  const tokens = [...bytesToUnicode(), ...merged];
  const specialStart = tokens.length;
  tokens.push(...TINY_SPECIALS);
  const special = Object.fromEntries(TINY_SPECIALS.map((s, i) => [s, specialStart + i])) as TinyVocab['special'];
  return { pre, tokens, merges, specialStart, special };
}

/** `tokenizer.json` for the vocab; `bos` (if given) is prepended by the post-processor. */
export function tokenizerJson(v: TinyVocab, bos: string | null): object {
  const vocab: Record<string, number> = {};
  for (let i = 0; i < v.specialStart; i++) vocab[v.tokens[i]] = i;
  const preTokenizer = v.pre === 'gpt-2'
    ? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
    : {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: preRegex(v.pre) }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
        ],
      };
  const postProcessor = bos === null
    ? { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }
    : {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { [bos]: { id: bos, ids: [v.special[bos as keyof TinyVocab['special']]], tokens: [bos] } },
      };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: TINY_SPECIALS.map((s) => ({
      id: v.special[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false,
      // llama.cpp sets ignore_merges for 'llama-bpe' (as Llama 3's tokenizer.json does).
      ignore_merges: v.pre === 'llama-bpe', vocab, merges: v.merges,
    },
  };
}
