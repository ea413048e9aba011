/**
 * SentencePiece `tokenizer.model` files (HF folders that ship no tokenizer.json, e.g. original
 * Llama 2 exports and ChatGLM3) → the same tokenizer.json object a GGUF 'llama' vocab becomes, so
 * they tokenize through the one @huggingface/tokenizers path.
 *
 * The file is a protobuf ModelProto (sentencepiece_model.proto); only these fields are read:
 *   ModelProto     { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2; NormalizerSpec normalizer_spec = 3 }
 *   SentencePiece  { string piece = 1; float score = 2; Type type = 3 (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6) }
 *   TrainerSpec    { ModelType model_type = 3 (UNIGRAM 1, BPE 2); bool byte_fallback = 35; int32 unk_id = 40, bos_id = 41, eos_id = 42 }
 *   NormalizerSpec { bytes precompiled_charsmap = 2; bool add_dummy_prefix = 3 }
 * Every read is bounds-checked; a truncated or foreign file is an invalid_tokenizer error.
 * Only BPE models are supported (the LLaMA family); Unigram models (T5) are refused by name.
 */
import { modelError } from '../../util/errors.ts';
import { spmTokenizerJson, templateProcessing } from './gguf-vocab.ts';

export interface SentencePieceModel {
  pieces: string[];
  scores: number[];
  types: number[];
  /** 1 = UNIGRAM, 2 = BPE, 3 = WORD, 4 = CHAR. */
  modelType: number;
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  addDummyPrefix: boolean;
  precompiledCharsmap: Uint8Array | null;
}

class Reader {
  pos: number;
  constructor(private buf: Uint8Array, start: number, readonly end: number, private source: string) {
    this.pos = start;
  }
  fail(why: string): never {
    throw modelError(`${this.source} is not a valid SentencePiece model: ${why} (at byte ${this.pos})`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'the tokenizer.model file is corrupt; download it again or provide tokenizer.json',
    });
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    this.fail('varint longer than 10 bytes');
  }
  /** A length-delimited field: returns [start, end) inside the buffer. */
  bytes(): [number, number] {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`field of ${n} bytes runs past its message`);
    const start = this.pos;
    this.pos += n;
    return [start, this.pos];
  }
  fixed32(): number {
    if (this.pos + 4 > this.end) this.fail('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    switch (wire) {
      case 0: this.varint(); return;
      case 1: if ((this.pos += 8) > this.end) this.fail('truncated fixed64'); return;
      case 2: this.bytes(); return;
      case 5: if ((this.pos += 4) > this.end) this.fail('truncated fixed32'); return;
      default: this.fail(`unknown wire type ${wire}`);
    }
  }
  key(): [number, number] {
    const k = this.varint();
    return [Math.floor(k / 8), k & 7];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseSentencePieceModel(buf: Uint8Array, source = 'tokenizer.model'): SentencePieceModel {
  const m: SentencePieceModel = {
    pieces: [], scores: [], types: [], modelType: 1, byteFallback: false, unkId: 0, bosId: 1, eosId: 2, addDummyPrefix: true, precompiledCharsmap: null,
  };
  const r = new Reader(buf, 0, buf.length, source);
  while (!r.done) {
    const [field, wire] = r.key();
    if (field === 1 && wire === 2) {
      const [s, e] = r.bytes();
      const p = new Reader(buf, s, e, source);
      let piece: string | null = null;
      let score = 0;
      let type = 1;
      while (!p.done) {
        const [f, w] = p.key();
        if (f === 1 && w === 2) {
          const [a, b] = p.bytes();
          try {
            piece = utf8.decode(buf.subarray(a, b));
          } catch {
            p.fail(`piece ${m.pieces.length} is not UTF-8`);
          }
        } else if (f === 2 && w === 5) score = p.fixed32();
        else if (f === 3 && w === 0) type = p.varint();
        else p.skip(w);
      }
      if (piece === null) return p.fail(`piece ${m.pieces.length} has no text`);
      m.pieces.push(piece);
      m.scores.push(score);
      m.types.push(type);
    } else if (field === 2 && wire === 2) {
      const [s, e] = r.bytes();
      const t = new Reader(buf, s, e, source);
      while (!t.done) {
        const [f, w] = t.key();
        if (f === 3 && w === 0) m.modelType = t.varint();
        else if (f === 35 && w === 0) m.byteFallback = t.varint() !== 0;
        else if (f === 40 && w === 0) m.unkId = t.varint();
        else if (f === 41 && w === 0) m.bosId = t.varint();
        else if (f === 42 && w === 0) m.eosId = t.varint();
        else t.skip(w);
      }
    } else if (field === 3 && wire === 2) {
      const [s, e] = r.bytes();
      const n = new Reader(buf, s, e, source);
      while (!n.done) {
        const [f, w] = n.key();
        if (f === 2 && w === 2) {
          const [a, b] = n.bytes();
          m.precompiledCharsmap = b > a ? buf.slice(a, b) : null;
        } else if (f === 3 && w === 0) m.addDummyPrefix = n.varint() !== 0;
        else n.skip(w);
      }
    } else r.skip(wire);
  }
  if (m.pieces.length === 0) r.fail('no pieces');
  return m;
}

/**
 * tokenizer.model (+ tokenizer_config.json) → { tokenizerJson, tokenizerConfig } for createTokenizer.
 * BOS/EOS come from tokenizer_config (add_bos_token defaults to true, add_eos_token to false, as
 * LlamaTokenizer), and its added_tokens_decoder entries join the vocab.
 */
export function tokenizerJsonFromSentencePiece(
  buf: Uint8Array, tokenizerConfig: Record<string, unknown>, source = 'tokenizer.model',
): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const m = parseSentencePieceModel(buf, source);
  if (m.modelType !== 2) {
    throw modelError(`${source} is a SentencePiece ${['', 'Unigram', 'BPE', 'Word', 'Char'][m.modelType] ?? `type ${m.modelType}`} model; only BPE models are supported`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'provide the tokenizer.json that Hugging Face transformers saves for this model',
    });
  }
  const tokens = [...m.pieces];
  const types = [...m.types];
  const scores = [...m.scores];
  // Tokens that tokenizer_config adds beyond (or over) the SentencePiece vocab.
  const decoderMap = tokenizerConfig.added_tokens_decoder as Record<string, { content?: string; special?: boolean }> | undefined;
  if (decoderMap && typeof decoderMap === 'object') {
    for (const [idText, t] of Object.entries(decoderMap)) {
      const id = Number(idText);
      if (!Number.isInteger(id) || id < 0 || typeof t?.content !== 'string') continue;
      while (tokens.length <= id) {
        tokens.push(`<unused_${tokens.length}>`);
        types.push(5);
        scores.push(0);
      }
      tokens[id] = t.content;
      types[id] = t.special === false ? 4 : 3;
    }
  }
  const json = spmTokenizerJson({
    tokens, scores, types, unkId: m.unkId >= 0 && m.unkId < tokens.length ? m.unkId : null,
    addSpacePrefix: m.addDummyPrefix, precompiledCharsmap: m.precompiledCharsmap,
  });
  const idOf = (v: unknown, fallback: number): number | null => {
    const s = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as { content?: string }).content : undefined;
    if (typeof s === 'string') {
      const i = tokens.indexOf(s);
      return i >= 0 ? i : null;
    }
    return fallback >= 0 && fallback < tokens.length ? fallback : null;
  };
  const bos = idOf(tokenizerConfig.bos_token, m.bosId);
  const eos = idOf(tokenizerConfig.eos_token, m.eosId);
  const addBos = tokenizerConfig.add_bos_token !== false;
  const addEos = tokenizerConfig.add_eos_token === true;
  json.post_processor = templateProcessing(tokens, addBos ? bos : null, addEos ? eos : null);
  return {
    tokenizerJson: json,
    tokenizerConfig: {
      clean_up_tokenization_spaces: false,
      ...tokenizerConfig,
      ...(bos !== null ? { bos_token: tokens[bos] } : {}),
      ...(eos !== null ? { eos_token: tokens[eos] } : {}),
    },
  };
}
