/**
 * The engine's one tokenizer implementation: @huggingface/tokenizers over a tokenizer.json
 * object. HF folders pass their tokenizer.json; GGUF files pass the equivalent object built by
 * gguf-vocab.ts. The chat template is rendered by chat-template.ts.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { invalid, modelError } from '../../util/errors.ts';
import { pickChatTemplate, renderChatTemplate } from '../chat-template.ts';
import type { ChatMessage, Tokenizer } from './types.ts';

export interface TokenizerOptions {
  /** Where the JSON came from, for error messages. */
  source?: string;
  /** Overrides of the ids read from tokenizer_config.json (the model config knows best). */
  bosTokenId?: number | null;
  eosTokenIds?: number[];
  /** Chat template (jinja). Default: tokenizer_config.chat_template. */
  chatTemplate?: string | null;
}

/** A token string from tokenizer_config.json: either "…" or { content: "…" }. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** Check the shape of a tokenizer.json before handing it to the library (whose errors are cryptic). */
function checkTokenizerJson(json: unknown, source: string): asserts json is Record<string, unknown> {
  const fail = (why: string) =>
    modelError(`${source} is not a tokenizer.json: ${why}`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'use the tokenizer.json saved by Hugging Face `tokenizers` (PreTrainedTokenizerFast.save_pretrained)',
    });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail('not a JSON object');
  const model = (json as { model?: unknown }).model;
  if (typeof model !== 'object' || model === null) throw fail('no "model" section');
  const m = model as { type?: unknown; vocab?: unknown };
  const type = m.type ?? ((m as { merges?: unknown }).merges ? 'BPE' : undefined);
  if (!['BPE', 'WordPiece', 'Unigram', 'WordLevel'].includes(String(type))) throw fail(`unknown model type ${JSON.stringify(m.type)}`);
  if (typeof m.vocab !== 'object' || m.vocab === null) throw fail('the model has no vocab');
  const added = (json as { added_tokens?: unknown }).added_tokens;
  if (added !== undefined && !Array.isArray(added)) throw fail('"added_tokens" is not a list');
}

export function createTokenizer(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown> = {}, opts: TokenizerOptions = {}): Tokenizer {
  const source = opts.source ?? 'tokenizer.json';
  checkTokenizerJson(tokenizerJson, source);
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
  } catch (e) {
    throw modelError(`${source} could not be loaded: ${(e as Error).message}`, {
      code: 'invalid_tokenizer', param: 'tokenizer', hint: 'the tokenizer.json uses a component this engine does not support, or is corrupt', cause: e,
    });
  }
  const vocab = hf.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const special = new Set<number>();
  for (const [id, t] of hf.get_added_tokens_decoder()) if (t.special) special.add(id);

  const idOf = (v: unknown): number | null => {
    const s = tokenString(v);
    if (s === null) return null;
    return hf.token_to_id(s) ?? null;
  };
  const bosTokenId = opts.bosTokenId !== undefined ? opts.bosTokenId : idOf(tokenizerConfig.bos_token);
  const eosTokenIds = opts.eosTokenIds?.length ? [...opts.eosTokenIds] : (() => {
    const id = idOf(tokenizerConfig.eos_token);
    return id === null ? [] : [id];
  })();
  const chatTemplate = opts.chatTemplate !== undefined ? opts.chatTemplate : pickChatTemplate(tokenizerConfig.chat_template);
  const bosToken = bosTokenId !== null ? hf.id_to_token(bosTokenId) ?? null : null;
  const eosToken = eosTokenIds.length ? hf.id_to_token(eosTokenIds[0]) ?? null : null;
  const cleanUp = tokenizerConfig.clean_up_tokenization_spaces === true;

  const decode = (ids: number[], skipSpecial: boolean, clean: boolean): string => {
    if (ids.length === 0) return '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id > maxId) {
        throw invalid(`token id ${id} is outside the vocabulary (0..${maxId})`, { code: 'invalid_token_id', param: 'ids' });
      }
    }
    return hf.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: clean });
  };

  return {
    vocabSize: maxId + 1,
    bosTokenId,
    eosTokenIds,
    chatTemplate,
    encode(text, o = {}) {
      if (typeof text !== 'string') throw invalid('encode: text must be a string', { code: 'invalid_text' });
      return hf.encode(text, { add_special_tokens: o.addSpecial ?? true }).ids;
    },
    decode(ids, o = {}) {
      return decode(ids, o.skipSpecial ?? false, cleanUp);
    },
    decodeIncremental(o = {}) {
      // The text-generation-inference scheme: decode a short window of recent ids twice (with and
      // without the newest), emit the difference once it no longer ends in a partial UTF-8
      // sequence (U+FFFD). Windowing keeps each step O(window), and decoding from a token
      // boundary keeps decoders that strip a leading space consistent between the two calls.
      const skip = o.skipSpecial ?? false;
      const ids: number[] = [];
      let prefixOffset = 0;
      let readOffset = 0;
      return (id: number) => {
        ids.push(id);
        const prefix = decode(ids.slice(prefixOffset, readOffset), skip, false);
        const full = decode(ids.slice(prefixOffset), skip, false);
        if (full.length > prefix.length && !full.endsWith('\uFFFD')) {
          const out = full.slice(prefix.length);
          prefixOffset = readOffset;
          readOffset = ids.length;
          return out;
        }
        return '';
      };
    },
    tokenToString(id) {
      const s = hf.id_to_token(id);
      if (s === undefined) throw invalid(`token id ${id} is outside the vocabulary`, { code: 'invalid_token_id' });
      return s;
    },
    tokenToId(token) {
      return hf.token_to_id(token) ?? null;
    },
    isSpecial(id) {
      return special.has(id);
    },
    applyChatTemplate(messages: ChatMessage[], o = {}) {
      if (!chatTemplate) {
        throw invalid('this model has no chat template', {
          code: 'no_chat_template', hint: 'send a plain prompt (completions) instead of chat messages',
        });
      }
      return renderChatTemplate(chatTemplate, messages, { addGenerationPrompt: o.addGenerationPrompt ?? true, bosToken, eosToken });
    },
  };
}
