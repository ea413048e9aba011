/**
 * Chat templates: the model's jinja template (tokenizer_config.json `chat_template`, a
 * `chat_template.jinja` file, or GGUF `tokenizer.chat_template`) rendered with
 * @huggingface/jinja. The rendered text is then encoded with addSpecial false, since the
 * template already writes BOS and the role markers itself.
 */
import { Template } from '@huggingface/jinja';
import { invalid, modelError } from '../util/errors.ts';
import type { ChatMessage } from './tokenizer/types.ts';

export interface ChatTemplateContext {
  bosToken?: string | null;
  eosToken?: string | null;
  /** Extra variables some templates read (tools, documents, enable_thinking, …). */
  extra?: Record<string, unknown>;
}

/** Compiled templates by source (templates are re-rendered for every request). */
const cache = new Map<string, Template>();

export function compileChatTemplate(source: string, where = 'chat template'): Template {
  let t = cache.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (e) {
      throw modelError(`${where} does not parse: ${(e as Error).message}`, {
        code: 'invalid_chat_template', hint: 'fix the template in tokenizer_config.json, or pass a prompt without a chat template', cause: e,
      });
    }
    if (cache.size > 64) cache.clear();
    cache.set(source, t);
  }
  return t;
}

export function renderChatTemplate(
  source: string,
  messages: ChatMessage[],
  opts: { addGenerationPrompt?: boolean } & ChatTemplateContext = {},
): string {
  if (!Array.isArray(messages) || messages.some((m) => typeof m?.role !== 'string' || typeof m?.content !== 'string')) {
    throw invalid('messages must be an array of { role, content } strings', { param: 'messages', code: 'invalid_messages' });
  }
  const t = compileChatTemplate(source);
  try {
    return t.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
      ...(opts.extra ?? {}),
    });
  } catch (e) {
    // Templates raise_exception on unsupported conversations (e.g. roles not alternating).
    throw invalid(`the model's chat template rejected the messages: ${(e as Error).message}`, {
      param: 'messages', code: 'chat_template_error', hint: 'check the roles and order of the messages', cause: e,
    });
  }
}

/** Pick the template from tokenizer_config.json's `chat_template` (a string, or a list of named ones). */
export function pickChatTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as Array<{ name?: string; template?: string }>;
    const d = named.find((t) => t?.name === 'default') ?? named[0];
    return typeof d?.template === 'string' ? d.template : null;
  }
  return null;
}
