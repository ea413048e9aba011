export type { ChatMessage, Tokenizer } from './types.ts';
export { createTokenizer, type TokenizerOptions } from './tokenizer.ts';
export { tokenizerJsonFromGguf, type GgufTokenizerFiles } from './gguf-vocab.ts';
export { parseSentencePieceModel, tokenizerJsonFromSentencePiece, type SentencePieceModel } from './sentencepiece.ts';
