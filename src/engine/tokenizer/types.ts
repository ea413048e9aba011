/**
 * The engine's tokenizer contract. One implementation (tokenizer.ts) wraps @huggingface/tokenizers;
 * GGUF's embedded vocab is first turned into an equivalent tokenizer.json object (gguf-vocab.ts),
 * so both model formats share one tokenization path.
 */

export interface ChatMessage {
  role: string; // 'system' | 'user' | 'assistant' | 'tool' | …
  content: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: number[];
  /** Text → ids. addSpecial (default true) adds what the tokenizer's post-processor adds (e.g. BOS). */
  encode(text: string, opts?: { addSpecial?: boolean }): number[];
  /** ids → text. skipSpecial (default false) drops special/control tokens. */
  decode(ids: number[], opts?: { skipSpecial?: boolean }): string;
  /**
   * Streaming decode: returns a stateful function that takes the next token id and returns the
   * newly completed text (possibly ''), never emitting half of a multi-byte UTF-8 character.
   */
  decodeIncremental(opts?: { skipSpecial?: boolean }): (id: number) => string;
  /** The vocab string of one token (raw piece, e.g. 'Ġthe' or '▁the'). */
  tokenToString(id: number): string;
  /** Id of an exact vocab piece or special token, or null. */
  tokenToId(token: string): number | null;
  /** True for control/special tokens (BOS, EOS, <|im_start|>…). */
  isSpecial(id: number): boolean;
  /** The chat template (jinja source) this tokenizer renders with, or null. */
  readonly chatTemplate: string | null;
  /** Render messages with the chat template (no tokenization). Throws when there is no template. */
  applyChatTemplate(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean }): string;
}
