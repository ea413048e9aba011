/**
 * OpenAI's request and response shapes for /v1/chat/completions and /v1/completions: bodies are
 * checked field by field here (a bad value is a 400 naming the field) and turned into the
 * engine's GenerateRequest; results and stream chunks are turned back into OpenAI's objects.
 *
 * Supported: model, messages | prompt, max_tokens (max_completion_tokens), temperature, top_p,
 * top_k, min_p, seed, stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias,
 * logprobs (+ top_logprobs), n = 1, stream (+ stream_options.include_usage), ignore_eos.
 * Refused with a clear 400: n > 1, best_of > 1, echo, suffix, tools / functions, structured
 * response_format, non-text message parts. Unknown fields are ignored, as OpenAI SDKs send extras.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, GenerateRequest, GenerateResult, SampledToken, SamplingParams, Tokenizer } from '../engine/index.ts';
import { invalid } from '../util/errors.ts';

export type Endpoint = 'chat' | 'text';

export interface ParsedRequest {
  endpoint: Endpoint;
  model: string;
  generate: Omit<GenerateRequest, 'adapter' | 'signal'>;
  stream: boolean;
  includeUsage: boolean;
  /** null = no logprobs; otherwise how many alternatives per token. */
  logprobs: number | null;
}

type Body = Record<string, unknown>;

const bad = (param: string, what: string, v: unknown, hint?: string) =>
  invalid(`${param} ${what}, got ${JSON.stringify(v)?.slice(0, 80)}`, { param, code: 'invalid_parameter', ...(hint ? { hint } : {}) });

function number(b: Body, k: string, lo: number, hi: number, open: { lo?: boolean } = {}): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (open.lo ? v <= lo : v < lo) || v > hi) throw bad(k, `must be a number in ${open.lo ? '(' : '['}${lo}, ${hi}]`, v);
  return v;
}

function integer(b: Body, k: string, lo: number, hi = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw bad(k, `must be an integer ${hi === Number.MAX_SAFE_INTEGER ? `≥ ${lo}` : `in [${lo}, ${hi}]`}`, v);
  return v;
}

function boolean(b: Body, k: string): boolean | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(k, 'must be true or false', v);
  return v;
}

function unsupported(b: Body, k: string, ok: (v: unknown) => boolean, hint: string): void {
  const v = b[k];
  if (v === undefined || v === null || ok(v)) return;
  throw invalid(`${k} ${JSON.stringify(v)?.slice(0, 80)} is not supported by this node`, { param: k, code: 'unsupported_parameter', hint });
}

function stops(b: Body): string[] | undefined {
  const v = b.stop;
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length > 16 || list.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 256)) {
    throw bad('stop', 'must be a non-empty string or a list of up to 16 of them (each ≤ 256 characters)', v);
  }
  return list as string[];
}

function logitBias(b: Body): Record<number, number> | undefined {
  const v = b.logit_bias;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('logit_bias', 'must map token ids to biases', v, 'e.g. {"50256": -100}');
  const out: Record<number, number> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (!/^\d{1,9}$/.test(k)) throw bad(`logit_bias.${k}`, 'must be keyed by a token id', k);
    if (typeof x !== 'number' || !(x >= -100 && x <= 100)) throw bad(`logit_bias.${k}`, 'must be a number in [-100, 100]', x);
    out[Number(k)] = x;
  }
  return out;
}

function sampling(b: Body): SamplingParams {
  const topK = integer(b, 'top_k', -1);
  return {
    temperature: number(b, 'temperature', 0, 2),
    topP: number(b, 'top_p', 0, 1, { lo: true }),
    topK: topK === -1 ? 0 : topK, // -1 = off, as vLLM spells it
    minP: number(b, 'min_p', 0, 1),
    seed: integer(b, 'seed', Number.MIN_SAFE_INTEGER),
    frequencyPenalty: number(b, 'frequency_penalty', -2, 2),
    presencePenalty: number(b, 'presence_penalty', -2, 2),
    repetitionPenalty: number(b, 'repetition_penalty', 0, 10, { lo: true }),
    logitBias: logitBias(b),
  };
}

function common(b: Body, endpoint: Endpoint, defaultMaxTokens: number) {
  if (typeof b.model !== 'string' || !b.model) throw invalid('model is required', { param: 'model', code: 'model_required', hint: 'a name from GET /v1/models' });
  unsupported(b, 'n', (v) => v === 1, 'generate one completion per request (n = 1) and send several requests: they batch together');
  const stream = boolean(b, 'stream') ?? false;
  const so = b.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw bad('stream_options', 'must be an object', so);
  const inc = (so as Body | null | undefined)?.include_usage;
  if (inc !== undefined && typeof inc !== 'boolean') throw bad('stream_options.include_usage', 'must be true or false', inc);
  const maxTokens = integer(b, 'max_tokens', 1) ?? (endpoint === 'chat' ? integer(b, 'max_completion_tokens', 1) : undefined) ?? defaultMaxTokens;
  const ignoreEos = boolean(b, 'ignore_eos') ?? false;
  return { model: b.model, stream, includeUsage: inc === true, maxTokens, ignoreEos, stop: stops(b), sampling: sampling(b) };
}

/** POST /v1/chat/completions body → request. */
export function parseChatRequest(body: unknown, defaultMaxTokens: number): ParsedRequest {
  const b = object(body);
  const c = common(b, 'chat', defaultMaxTokens);
  for (const k of ['tools', 'functions']) unsupported(b, k, (v) => Array.isArray(v) && v.length === 0, 'tool calling is not supported yet: describe the tools in the system message');
  unsupported(b, 'tool_choice', (v) => v === 'none', 'tool calling is not supported yet');
  unsupported(b, 'response_format', (v) => (v as Body)?.type === 'text', 'only {"type": "text"} responses are supported');
  const logprobs = boolean(b, 'logprobs') ?? false;
  const top = integer(b, 'top_logprobs', 0, 20);
  if (top !== undefined && !logprobs) throw invalid('top_logprobs needs logprobs: true', { param: 'top_logprobs', code: 'invalid_parameter' });
  return {
    endpoint: 'chat', model: c.model, stream: c.stream, includeUsage: c.includeUsage, logprobs: logprobs ? top ?? 0 : null,
    generate: { messages: messages(b.messages), maxTokens: c.maxTokens, stop: c.stop, ignoreEos: c.ignoreEos, sampling: { ...c.sampling, ...(logprobs ? { logprobs: top ?? 0 } : {}) } },
  };
}

/** POST /v1/completions body → request. */
export function parseCompletionRequest(body: unknown, defaultMaxTokens: number): ParsedRequest {
  const b = object(body);
  const c = common(b, 'text', defaultMaxTokens);
  unsupported(b, 'best_of', (v) => v === 1, 'best_of must be 1');
  unsupported(b, 'echo', (v) => v === false, 'echo is not supported: the prompt is yours already');
  unsupported(b, 'suffix', (v) => v === '', 'suffix (fill-in-the-middle) is not supported');
  const lp = integer(b, 'logprobs', 0, 20);
  return {
    endpoint: 'text', model: c.model, stream: c.stream, includeUsage: c.includeUsage, logprobs: lp ?? null,
    generate: { prompt: prompt(b.prompt), maxTokens: c.maxTokens, stop: c.stop, ignoreEos: c.ignoreEos, sampling: { ...c.sampling, ...(lp !== undefined ? { logprobs: lp } : {}) } },
  };
}

function object(body: unknown): Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a JSON object', { param: null, code: 'invalid_request', hint: 'send Content-Type: application/json' });
  return body as Body;
}

function messages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad('messages', 'must be a non-empty list of {role, content}', v);
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (!m || typeof m !== 'object') throw bad(p, 'must be an object {role, content}', m);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !/^[a-z_]{1,32}$/.test(role)) throw bad(`${p}.role`, 'must be a role such as system, user or assistant', role);
    if (typeof content === 'string') return { role, content };
    if (content === null || content === undefined) {
      if (role === 'assistant') return { role, content: '' };
      throw bad(`${p}.content`, 'is required', content);
    }
    if (!Array.isArray(content)) throw bad(`${p}.content`, 'must be a string or a list of text parts', content);
    const parts = content.map((part, j) => {
      const t = (part as { type?: unknown; text?: unknown } | null);
      if (t?.type !== 'text' || typeof t.text !== 'string') {
        throw invalid(`${p}.content[${j}] of type ${JSON.stringify(t?.type)} is not supported`, { param: `${p}.content[${j}]`, code: 'unsupported_content', hint: 'only {"type": "text", "text": …} parts: these models read text' });
      }
      return t.text;
    });
    return { role, content: parts.join('') };
  });
}

function prompt(v: unknown): string | number[] {
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') v = v[0];
  if (v === '') throw invalid('the prompt is empty', { param: 'prompt', code: 'empty_prompt', hint: 'send some text to complete' });
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length === 1 && Array.isArray(v[0])) v = v[0];
  if (Array.isArray(v) && v.length > 0 && v.every((t) => Number.isSafeInteger(t) && t >= 0)) return v as number[];
  if (Array.isArray(v) && v.length > 1) throw invalid('one prompt per request', { param: 'prompt', code: 'unsupported_parameter', hint: 'send several requests: they batch together on the node' });
  throw bad('prompt', 'must be a string or a list of token ids', v);
}

// ---- responses ----

export const completionId = (endpoint: Endpoint) => `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;

export type OpenAiFinish = 'stop' | 'length';

export function usageOf(r: Pick<GenerateResult, 'promptTokens' | 'completionTokens'>) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

const tokenText = (tk: Tokenizer, id: number) => tk.decode([id]);
const bytesOf = (s: string) => [...new TextEncoder().encode(s)];

/** Chat logprobs: { content: [{ token, logprob, bytes, top_logprobs: [...] }] }. */
export function chatLogprobs(tk: Tokenizer, lps: readonly SampledToken[]) {
  return {
    content: lps.map((s) => {
      const token = tokenText(tk, s.token);
      return {
        token, logprob: s.logprob ?? 0, bytes: bytesOf(token),
        top_logprobs: (s.top ?? []).map((t) => { const tt = tokenText(tk, t.token); return { token: tt, logprob: t.logprob, bytes: bytesOf(tt) }; }),
      };
    }),
  };
}

/** Legacy completions logprobs: parallel arrays; offsets count characters from the start of the completion. */
export function textLogprobs(tk: Tokenizer, lps: readonly SampledToken[], offset0 = 0) {
  const tokens: string[] = [], tokenLogprobs: number[] = [], top: Array<Record<string, number>> = [], offsets: number[] = [];
  let off = offset0;
  for (const s of lps) {
    const t = tokenText(tk, s.token);
    tokens.push(t);
    tokenLogprobs.push(s.logprob ?? 0);
    top.push(Object.fromEntries((s.top ?? []).map((x) => [tokenText(tk, x.token), x.logprob])));
    offsets.push(off);
    off += t.length;
  }
  return { tokens, token_logprobs: tokenLogprobs, top_logprobs: top, text_offset: offsets };
}

export interface ResponseContext {
  id: string;
  created: number;
  model: string;
  tokenizer: Tokenizer;
}

export function completionResponse(p: ParsedRequest, ctx: ResponseContext, r: GenerateResult, finish: OpenAiFinish) {
  const lp = p.logprobs !== null ? r.logprobs ?? [] : null;
  if (p.endpoint === 'chat') {
    return {
      id: ctx.id, object: 'chat.completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content: r.text }, logprobs: lp ? chatLogprobs(ctx.tokenizer, lp) : null, finish_reason: finish }],
      usage: usageOf(r),
    };
  }
  return {
    id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
    choices: [{ index: 0, text: r.text, logprobs: lp ? textLogprobs(ctx.tokenizer, lp) : null, finish_reason: finish }],
    usage: usageOf(r),
  };
}

/** One streamed chunk (the first chat chunk carries the role; the last one the finish reason). */
export function streamChunk(p: ParsedRequest, ctx: ResponseContext, c: { text: string; logprobs?: SampledToken[]; first?: boolean; finish?: OpenAiFinish; offset?: number }) {
  const lp = p.logprobs !== null && c.logprobs?.length ? c.logprobs : null;
  const finish = c.finish ?? null;
  if (p.endpoint === 'chat') {
    const delta = finish && !c.text ? {} : { ...(c.first ? { role: 'assistant' } : {}), content: c.text };
    return {
      id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, system_fingerprint: null,
      choices: [{ index: 0, delta, logprobs: lp ? chatLogprobs(ctx.tokenizer, lp) : null, finish_reason: finish }],
    };
  }
  return {
    id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
    choices: [{ index: 0, text: c.text, logprobs: lp ? textLogprobs(ctx.tokenizer, lp, c.offset ?? 0) : null, finish_reason: finish }],
  };
}

/** The usage chunk OpenAI sends last when stream_options.include_usage is set. */
export function usageChunk(p: ParsedRequest, ctx: ResponseContext, r: Pick<GenerateResult, 'promptTokens' | 'completionTokens'>) {
  return { id: ctx.id, object: p.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null, choices: [], usage: usageOf(r) };
}
