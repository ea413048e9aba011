/**
 * OpenAI's request and response shapes for /v1/chat/completions, /v1/completions and
 * /v1/embeddings: bodies are checked field by field here (a bad value is a 400 naming the field)
 * and turned into the engine's request; results and stream chunks are turned back into OpenAI's
 * objects. Checks that need the model (token counts against the context, token ids against the
 * vocabulary) run on the engine thread (engine-worker.ts).
 *
 * Supported: model, messages (roles system, developer, user, assistant) | prompt, max_tokens
 * (max_completion_tokens; beyond the context a 400), temperature, top_p, top_k, min_p, seed,
 * stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, logprobs
 * (+ top_logprobs), n (1–16), stream (+ stream_options.include_usage), ignore_eos,
 * response_format text | json_object | json_schema (grammar-constrained, json-grammar.ts).
 * Refused with a clear 400: best_of > 1, echo, suffix, tools / functions, non-text message parts,
 * unknown roles. A prompt over the byte limit is a 413 before anything tokenizes it. Unknown
 * fields are ignored, as OpenAI SDKs send extras.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, GenerateRequest, GenerateResult, SampledToken, SamplingParams } from '../engine/index.ts';
import type { TokenTexts } from './scheduler.ts';
import { OpenLedgerError, invalid } from '../util/errors.ts';
import { compileSchema } from './json-grammar.ts';
import { MAX_MERGE, checkWeight, mergeSpelling } from './models.ts';

export type Endpoint = 'chat' | 'text';

export interface ParsedRequest {
  endpoint: Endpoint;
  /** As named; with the `adapters` field, the canonical merge spelling of those adapters (`ft:a*0.7+ft:b*0.3`). */
  model: string;
  /** With the `adapters` extension field: the `model` the request sent (must name the adapters' base, or be that spelling); else null. */
  mergeOf?: string | null;
  /** maxTokens undefined = the node's default (within the context). */
  generate: Omit<GenerateRequest, 'adapter' | 'signal' | 'prompt' | 'messages' | 'stop' | 'constraint'> & { prompt?: string | number[]; messages?: ChatMessage[]; stop?: string[] };
  /** Completions to generate for the prompt (OpenAI's n). */
  n: number;
  /** JSON mode: schema null = any object; otherwise the JSON schema (checked: compileSchema accepted it). */
  json: { schema: unknown } | null;
  stream: boolean;
  includeUsage: boolean;
  /** null = no logprobs; otherwise how many alternatives per token. */
  logprobs: number | null;
}

type Body = Record<string, unknown>;

/** Limits the node applies to request bodies (ServingConfig). */
export interface ParseLimits {
  defaultMaxTokens: number;
  /** Bytes of prompt text (all message contents, or the prompt) before anything tokenizes it. */
  maxPromptBytes: number;
  /** Most choices per request (n). */
  maxChoices: number;
}

const limitsOf = (l: number | Partial<ParseLimits>): ParseLimits =>
  typeof l === 'number' ? { defaultMaxTokens: l, maxPromptBytes: 1 << 20, maxChoices: 16 } : { defaultMaxTokens: 256, maxPromptBytes: 1 << 20, maxChoices: 16, ...l };

function checkBytes(texts: readonly string[], limit: number, param: string): void {
  let n = 0;
  for (const t of texts) n += Buffer.byteLength(t, 'utf8');
  if (n > limit) {
    throw new OpenLedgerError(`the prompt has ${n} bytes; this node accepts at most ${limit} bytes of prompt text`, {
      type: 'payload_too_large', param, code: 'prompt_too_large', hint: `shorten the prompt below ${limit} bytes (the context of these models is far smaller anyway)`, details: { bytes: n, limit },
    });
  }
}

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

function common(b: Body, endpoint: Endpoint, lim: ParseLimits) {
  if (typeof b.model !== 'string' || !b.model) throw invalid('model is required', { param: 'model', code: 'model_required', hint: 'a name from GET /v1/models' });
  const n = integer(b, 'n', 1, lim.maxChoices) ?? 1;
  const stream = boolean(b, 'stream') ?? false;
  const so = b.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw bad('stream_options', 'must be an object', so);
  const inc = (so as Body | null | undefined)?.include_usage;
  if (inc !== undefined && typeof inc !== 'boolean') throw bad('stream_options.include_usage', 'must be true or false', inc);
  const maxTokens = integer(b, 'max_tokens', 1) ?? (endpoint === 'chat' ? integer(b, 'max_completion_tokens', 1) : undefined);
  const ignoreEos = boolean(b, 'ignore_eos') ?? false;
  const merged = adapters(b);
  return { model: merged ?? b.model, mergeOf: merged ? b.model : null, n, stream, includeUsage: inc === true, maxTokens, ignoreEos, stop: stops(b), sampling: sampling(b) };
}

/**
 * The openledger extension field `adapters: [{model, weight}]` (weight default 1): a dynamic merge
 * of those adapters, the same as naming them `model: "ft:a*0.7+ft:b*0.3"`. Its canonical spelling, or null.
 */
function adapters(b: Body): string | null {
  const v = b.adapters;
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.length || v.length > MAX_MERGE) throw bad('adapters', `must be a list of 1–${MAX_MERGE} objects {model, weight}`, v, 'a dynamic merge: adapters: [{model: "ft:…", weight: 0.7}, {model: "ft:…", weight: 0.3}] with model = their base');
  const parts = v.map((x: unknown, i) => {
    if (!x || typeof x !== 'object' || Array.isArray(x)) throw bad(`adapters[${i}]`, 'must be an object {model, weight}', x, 'a dynamic merge: adapters: [{model: "ft:…", weight: 0.7}, {model: "ft:…", weight: 0.3}] with model = their base');
    const { model, weight = 1 } = x as Body;
    if (typeof model !== 'string' || !model || model.length > 200 || /[+*]/.test(model)) throw bad(`adapters[${i}].model`, 'must name one fine-tuned model (ft:… or model:<n>)', model, 'a dynamic merge: adapters: [{model: "ft:…", weight: 0.7}, {model: "ft:…", weight: 0.3}] with model = their base');
    checkWeight(model, weight as number, `adapters[${i}].weight`);
    return { model, weight: weight as number };
  });
  return mergeSpelling(parts);
}

/** response_format: text (default), json_object (any object), json_schema {name, schema, strict}. */
function responseFormat(b: Body): { schema: unknown } | null {
  const v = b.response_format;
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('response_format', 'must be an object {type: "text" | "json_object" | "json_schema"}', v);
  const f = v as Body;
  if (f.type === 'text') return null;
  if (f.type === 'json_object') return { schema: null };
  if (f.type === 'json_schema') {
    const js = f.json_schema as Body | undefined;
    if (!js || typeof js !== 'object' || Array.isArray(js)) throw bad('response_format.json_schema', 'must be an object {name, schema, strict}', js);
    if (js.name !== undefined && (typeof js.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name))) throw bad('response_format.json_schema.name', 'must be 1–64 letters, digits, _ or -', js.name);
    const schema = js.schema ?? { type: 'object' };
    const root = compileSchema(schema);
    if (!root.types || root.types.size !== 1 || !root.types.has('object') || root.literals) {
      throw invalid('response_format.json_schema.schema must describe an object (type: "object") at its root', { param: 'response_format.json_schema.schema.type', code: 'unsupported_schema', hint: 'wrap the value in an object, as OpenAI requires' });
    }
    return { schema };
  }
  throw bad('response_format.type', 'must be text, json_object or json_schema', f.type);
}

/** POST /v1/chat/completions body → request. */
export function parseChatRequest(body: unknown, limits: number | Partial<ParseLimits>): ParsedRequest {
  const lim = limitsOf(limits);
  const b = object(body);
  const c = common(b, 'chat', lim);
  for (const k of ['tools', 'functions']) unsupported(b, k, (v) => Array.isArray(v) && v.length === 0, 'tool calling is not supported yet: describe the tools in the system message');
  unsupported(b, 'tool_choice', (v) => v === 'none', 'tool calling is not supported yet');
  const json = responseFormat(b);
  const msgs = messages(b.messages);
  checkBytes(msgs.map((m) => m.content), lim.maxPromptBytes, 'messages');
  const logprobs = boolean(b, 'logprobs') ?? false;
  const top = integer(b, 'top_logprobs', 0, 20);
  if (top !== undefined && !logprobs) throw invalid('top_logprobs needs logprobs: true', { param: 'top_logprobs', code: 'invalid_parameter' });
  return {
    endpoint: 'chat', model: c.model, mergeOf: c.mergeOf, n: c.n, json, stream: c.stream, includeUsage: c.includeUsage, logprobs: logprobs ? top ?? 0 : null,
    generate: { messages: msgs, maxTokens: c.maxTokens, stop: c.stop, ignoreEos: c.ignoreEos, sampling: { ...c.sampling, ...(logprobs ? { logprobs: top ?? 0 } : {}) } },
  };
}

/** POST /v1/completions body → request. */
export function parseCompletionRequest(body: unknown, limits: number | Partial<ParseLimits>): ParsedRequest {
  const lim = limitsOf(limits);
  const b = object(body);
  const c = common(b, 'text', lim);
  unsupported(b, 'best_of', (v) => v === 1, 'best_of must be 1');
  unsupported(b, 'echo', (v) => v === false, 'echo is not supported: the prompt is yours already');
  unsupported(b, 'suffix', (v) => v === '', 'suffix (fill-in-the-middle) is not supported');
  const lp = integer(b, 'logprobs', 0, 20);
  const pr = prompt(b.prompt, lim.maxPromptBytes);
  return {
    endpoint: 'text', model: c.model, mergeOf: c.mergeOf, n: c.n, json: null, stream: c.stream, includeUsage: c.includeUsage, logprobs: lp ?? null,
    generate: { prompt: pr, maxTokens: c.maxTokens, stop: c.stop, ignoreEos: c.ignoreEos, sampling: { ...c.sampling, ...(lp !== undefined ? { logprobs: lp } : {}) } },
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
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw invalid(`${p}.role ${JSON.stringify(role)?.slice(0, 40)} is not a chat role this node knows`, { param: `${p}.role`, code: 'invalid_role', hint: 'use system, developer, user or assistant (tool messages need tool calling, which is not supported)' });
    }
    // developer is OpenAI's newer name for system; chat templates know system
    if (typeof content === 'string') return { role: role === 'developer' ? 'system' : role, content };
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
    return { role: role === 'developer' ? 'system' : role, content: parts.join('') };
  });
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

function prompt(v: unknown, maxBytes: number): string | number[] {
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') v = v[0];
  if (v === '') throw invalid('the prompt is empty', { param: 'prompt', code: 'empty_prompt', hint: 'send some text to complete' });
  if (typeof v === 'string') {
    checkBytes([v], maxBytes, 'prompt');
    return v;
  }
  if (Array.isArray(v) && v.length > maxBytes / 4) throw new OpenLedgerError(`the prompt has ${v.length} token ids; this node accepts at most ${Math.floor(maxBytes / 4)}`, { type: 'payload_too_large', param: 'prompt', code: 'prompt_too_large', hint: 'shorten the prompt' });
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

type Tokenizer = TokenTexts;
const tokenText = (tk: Tokenizer, id: number) => tk.text(id);
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
  /** Token texts for logprobs. */
  tokenizer: TokenTexts;
}

/** Usage over the choices: the prompt once, the completions summed (as OpenAI counts n > 1). */
export function usageOfAll(rs: readonly Pick<GenerateResult, 'promptTokens' | 'completionTokens'>[]) {
  return usageOf({ promptTokens: rs[0]?.promptTokens ?? 0, completionTokens: rs.reduce((s, r) => s + r.completionTokens, 0) });
}

/** The whole response: one choice per result, in order. */
export function completionResponse(p: ParsedRequest, ctx: ResponseContext, results: GenerateResult | readonly GenerateResult[], finish?: OpenAiFinish) {
  const rs = Array.isArray(results) ? results as readonly GenerateResult[] : [results as GenerateResult];
  const fin = (r: GenerateResult): OpenAiFinish => finish ?? (r.finishReason === 'length' ? 'length' : 'stop');
  if (p.endpoint === 'chat') {
    return {
      id: ctx.id, object: 'chat.completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
      choices: rs.map((r, index) => ({ index, message: { role: 'assistant', content: r.text, refusal: null }, logprobs: p.logprobs !== null ? chatLogprobs(ctx.tokenizer, r.logprobs ?? []) : null, finish_reason: fin(r) })),
      usage: usageOfAll(rs),
    };
  }
  return {
    id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
    choices: rs.map((r, index) => ({ index, text: r.text, logprobs: p.logprobs !== null ? textLogprobs(ctx.tokenizer, r.logprobs ?? []) : null, finish_reason: fin(r) })),
    usage: usageOfAll(rs),
  };
}

/** One streamed chunk of choice `index` (its first chat chunk carries the role; its last one the finish reason). */
export function streamChunk(p: ParsedRequest, ctx: ResponseContext, c: { text: string; logprobs?: SampledToken[]; first?: boolean; finish?: OpenAiFinish; offset?: number; index?: number }) {
  const lp = p.logprobs !== null && c.logprobs?.length ? c.logprobs : null;
  const finish = c.finish ?? null;
  const index = c.index ?? 0;
  if (p.endpoint === 'chat') {
    const delta = finish && !c.text ? {} : { ...(c.first ? { role: 'assistant' } : {}), content: c.text };
    return {
      id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, system_fingerprint: null,
      choices: [{ index, delta, logprobs: lp ? chatLogprobs(ctx.tokenizer, lp) : null, finish_reason: finish }],
    };
  }
  return {
    id: ctx.id, object: 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null,
    choices: [{ index, text: c.text, logprobs: lp ? textLogprobs(ctx.tokenizer, lp, c.offset ?? 0) : null, finish_reason: finish }],
  };
}

/** The usage chunk OpenAI sends last when stream_options.include_usage is set. */
export function usageChunk(p: ParsedRequest, ctx: ResponseContext, r: Pick<GenerateResult, 'promptTokens' | 'completionTokens'> | readonly Pick<GenerateResult, 'promptTokens' | 'completionTokens'>[]) {
  const rs = Array.isArray(r) ? r : [r];
  return { id: ctx.id, object: p.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: ctx.created, model: ctx.model, system_fingerprint: null, choices: [], usage: usageOfAll(rs) };
}

// ---- embeddings ----

export interface ParsedEmbedding {
  model: string;
  inputs: Array<string | number[]>;
  encodingFormat: 'float' | 'base64';
  dimensions: number | null;
}

/** POST /v1/embeddings body: input = a string, a list of strings, token ids or lists of token ids (≤ 256 inputs). */
export function parseEmbeddingRequest(body: unknown, maxBytes: number): ParsedEmbedding {
  const b = object(body);
  if (typeof b.model !== 'string' || !b.model) throw invalid('model is required', { param: 'model', code: 'model_required', hint: 'a name from GET /v1/models' });
  const v = b.input;
  let inputs: Array<string | number[]>;
  const ids = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((t) => Number.isSafeInteger(t) && t >= 0);
  if (typeof v === 'string') inputs = [v];
  else if (ids(v)) inputs = [v as number[]];
  else if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || ids(x))) inputs = v as Array<string | number[]>;
  else throw bad('input', 'must be a string, a list of strings, or token ids', v, 'e.g. "input": ["first text", "second text"]');
  if (inputs.length > 256) throw invalid(`input has ${inputs.length} items; at most 256 per request`, { param: 'input', code: 'too_many_inputs', hint: 'split the list into several requests' });
  inputs.forEach((x, i) => { if (x === '') throw invalid(`input[${i}] is empty`, { param: `input[${i}]`, code: 'empty_input' }); });
  checkBytes(inputs.map((x) => (typeof x === 'string' ? x : '').concat(typeof x === 'string' ? '' : ' '.repeat(x.length * 4))), maxBytes, 'input');
  const fmt = b.encoding_format ?? 'float';
  if (fmt !== 'float' && fmt !== 'base64') throw bad('encoding_format', 'must be float or base64', fmt);
  const dimensions = integer(b, 'dimensions', 1) ?? null;
  return { model: b.model, inputs, encodingFormat: fmt, dimensions };
}

/** Float32 vector → OpenAI's base64 (little-endian float32 bytes). */
export const base64Vector = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
