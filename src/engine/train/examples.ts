/**
 * Text → TrainExample with the loss masked to what the model must learn to write:
 *
 *   instructionExample: [prompt tokens][response tokens][EOS]          loss on response + EOS
 *   chatExample:        the chat template applied; loss on each assistant turn, from the end of
 *                       the generation prompt to the end of the turn (its end-of-turn marker
 *                       included, so the tuned model learns to stop).
 *
 * Chat text is tokenized segment by segment at the turn boundaries (the rendered conversation
 * up to each generation prompt, then each assistant turn), which is exactly how inference sees
 * it: the prompt tokenized alone, the answer generated token by token after it.
 */
import type { ChatMessage, Tokenizer } from '../tokenizer/types.ts';
import { invalid } from '../../util/errors.ts';
import type { TrainExample } from './packing.ts';

export function instructionExample(tok: Tokenizer, prompt: string, response: string): TrainExample {
  const p = tok.encode(prompt);
  const r = tok.encode(response, { addSpecial: false });
  const eos = tok.eosTokenIds[0];
  const tokens = [...p, ...r, ...(eos !== undefined ? [eos] : [])];
  return { tokens, lossMask: tokens.map((_, i) => (i >= p.length ? 1 : 0)) };
}

export function chatExample(tok: Tokenizer, messages: ChatMessage[]): TrainExample {
  if (!messages.some((m) => m.role === 'assistant')) {
    throw invalid('a chat example needs at least one assistant message to learn from', { param: 'training_file', code: 'empty_loss_mask' });
  }
  const tokens: number[] = [], mask: number[] = [];
  let done = ''; // rendered text already tokenized
  const push = (text: string, learn: boolean) => {
    if (!text) return;
    const ids = tok.encode(text, { addSpecial: false });
    for (const id of ids) { tokens.push(id); mask.push(learn ? 1 : 0); }
  };
  const advance = (to: string, learn: boolean) => {
    if (!to.startsWith(done)) {
      throw invalid('the chat template renders a conversation that is not an extension of its prefix; cannot mask it turn by turn', {
        param: 'training_file', code: 'unsupported_chat_template', hint: 'use instruction (prompt/response) rows for this model, or a template without history rewriting',
      });
    }
    push(to.slice(done.length), learn);
    done = to;
  };
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    advance(tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true }), false);
    advance(tok.applyChatTemplate(messages.slice(0, i + 1), { addGenerationPrompt: false }), true);
  }
  advance(tok.applyChatTemplate(messages, { addGenerationPrompt: false }), false);
  // A template may put text after the last assistant turn (e.g. a trailing newline) that belongs to
  // the turn's end; masking it out is the conservative choice.
  return { tokens, lossMask: mask };
}
