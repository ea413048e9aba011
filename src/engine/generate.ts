/**
 * Generation with continuous batching. A BatchGenerator owns a queue of requests and drives
 * `engine.step` in a loop; each step carries the next decode token of every running sequence
 * plus prefill chunks of newly admitted ones (up to a token budget), so many requests — each with
 * its own adapter, sampling parameters and stop rules — share every forward pass. Serving
 * (OpenLoRA) submits to one BatchGenerator per engine; `generate()` does the same through a
 * default one, so even independent callers batch together.
 *
 * Admission is by KV budget: a request is admitted only when its worst case (prompt + max tokens)
 * fits in the blocks not promised to running requests, so a step never fails for lack of KV.
 *
 * Per request: stream of chunks (text delta + token ids [+ logprobs]) as an async iterator, a
 * `result` promise with the whole completion, cancellation by AbortSignal or by breaking out of
 * the loop. Stop sequences match the decoded text across token boundaries: text that could be
 * the start of a stop sequence is held back until it can't.
 */
import type { Engine, SequenceHandle, StepEntry } from './engine.ts';
import type { LoraAdapter } from './lora/adapter.ts';
import type { ChatMessage } from './tokenizer/types.ts';
import { Sampler, type SampledToken, type SamplingParams } from './sampling.ts';
import { invalid, OpenLedgerError } from '../util/errors.ts';
import { Channel } from '../util/channel.ts';

export interface GenerateRequest {
  /** Text (tokenized with the model's tokenizer) or token ids; or give `messages` instead. */
  prompt?: string | readonly number[];
  /**
   * Chat messages, rendered with the model's chat template (generation prompt appended) and
   * tokenized without adding special tokens (the template writes them).
   */
  messages?: readonly ChatMessage[];
  /** Most tokens to generate (default 256; capped by the context). */
  maxTokens?: number;
  /** Stop when the text contains one of these (the stop text is not returned). */
  stop?: string | readonly string[];
  /** Extra token ids that end generation (besides EOS). */
  stopTokenIds?: readonly number[];
  /** Keep going past EOS. */
  ignoreEos?: boolean;
  adapter?: LoraAdapter | null;
  sampling?: SamplingParams;
  signal?: AbortSignal;
  /** Text prompts: add the tokenizer's special tokens such as BOS (default true). */
  addSpecial?: boolean;
  /** Drop special tokens from the text (default true). */
  skipSpecial?: boolean;
  /** Grammar-constrained decoding (serving's JSON mode): restricts every sampled token. */
  constraint?: TokenConstraint;
}

/**
 * A constraint on the next token: `mask` sets the logits of disallowed tokens to −Infinity before
 * sampling, `accept` advances the constraint's state by the sampled token, and once `complete()`
 * the sequence ends with finish reason 'stop'.
 */
export interface TokenConstraint {
  mask(logits: Float32Array): void;
  accept(token: number): void;
  complete(): boolean;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerateChunk {
  /** New text (may be '' while a possible stop sequence is held back). */
  text: string;
  /** Token ids sampled since the previous chunk. */
  tokens: number[];
  logprobs?: SampledToken[];
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** The stop string that ended generation, if any. */
  stopSequence: string | null;
  promptTokens: number;
  completionTokens: number;
  logprobs?: SampledToken[];
  /** Milliseconds from submit: admitted (KV reserved), first token, done. */
  timings: { admittedMs: number; firstTokenMs: number | null; totalMs: number };
}

export interface GenerationStream extends AsyncIterable<GenerateChunk> {
  readonly result: Promise<GenerateResult>;
  readonly promptTokens: number;
  cancel(): void;
}

export interface BatchGeneratorOptions {
  /** Sequences decoding at once (default min(64, engine.maxBatchTokens)). */
  maxRunning?: number;
  /** Tokens per step over decode rows and prefill chunks (default engine.maxBatchTokens). */
  tokenBudget?: number;
  /** Called after every engine step with the batch it ran (serving's stats: adapters per step, tokens). */
  onStep?: (batch: readonly StepEntry[]) => void;
}

interface Req {
  prompt: number[];
  maxTokens: number;
  stops: string[];
  maxStop: number;
  stopIds: Set<number>;
  adapter: LoraAdapter | null;
  sampler: Sampler;
  constraint: TokenConstraint | null;
  wantLogprobs: boolean;
  decode: (id: number) => string;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  needBlocks: number;
  // progress
  seq: SequenceHandle | null;
  prefilled: number;
  next: number; // token to feed in the next decode step (−1 while prefilling)
  tokens: number[];
  logprobs: SampledToken[];
  gen: string;
  emitted: number;
  cancelled: boolean;
  done: boolean;
  t0: number;
  tAdmit: number;
  tFirst: number | null;
  chan: Channel<GenerateChunk>;
  resolve: (r: GenerateResult) => void;
  reject: (e: unknown) => void;
}

export class BatchGenerator {
  readonly engine: Engine;
  private readonly maxRunning: number;
  private readonly budget: number;
  private readonly onStep: ((batch: readonly StepEntry[]) => void) | null;
  private waiting: Req[] = [];
  private active: Req[] = [];
  private promisedBlocks = 0;
  private looping = false;
  private readonly logitBufs: Float32Array[] = [];

  constructor(engine: Engine, opts: BatchGeneratorOptions = {}) {
    this.engine = engine;
    this.budget = Math.max(1, Math.min(opts.tokenBudget ?? engine.maxBatchTokens, engine.maxBatchTokens));
    this.maxRunning = Math.max(1, Math.min(opts.maxRunning ?? 64, this.budget));
    this.onStep = opts.onStep ?? null;
  }

  get runningCount(): number { return this.active.length; }
  get waitingCount(): number { return this.waiting.length; }

  /** Queue a request; throws at once for bad input (empty prompt, prompt longer than the context). */
  submit(req: GenerateRequest): GenerationStream {
    const eng = this.engine, tk = eng.tokenizer;
    if ((req.prompt === undefined) === (req.messages === undefined)) throw invalid('give exactly one of prompt and messages', { param: 'prompt' });
    let prompt: number[];
    if (req.messages) {
      if (!tk.chatTemplate) throw invalid('this model has no chat template; send a plain prompt', { param: 'messages', code: 'no_chat_template' });
      prompt = tk.encode(tk.applyChatTemplate([...req.messages], { addGenerationPrompt: true }), { addSpecial: false });
    } else prompt = typeof req.prompt === 'string' ? tk.encode(req.prompt, { addSpecial: req.addSpecial ?? true }) : [...req.prompt!];
    if (prompt.length === 0) throw invalid('the prompt is empty', { param: 'prompt', code: 'empty_prompt' });
    for (const t of prompt) {
      if (!Number.isInteger(t) || t < 0 || t >= eng.config.vocabSize) throw invalid(`prompt token id ${t} is outside the vocabulary (${eng.config.vocabSize})`, { param: 'prompt', code: 'invalid_token' });
    }
    if (prompt.length >= eng.maxContext) {
      throw new OpenLedgerError(`the prompt has ${prompt.length} tokens; the context holds ${eng.maxContext} (including at least one generated token)`, {
        code: 'context_length_exceeded', param: 'prompt', hint: 'shorten the prompt', details: { promptTokens: prompt.length, context: eng.maxContext },
      });
    }
    const maxTokens = Math.min(req.maxTokens ?? 256, eng.maxContext - prompt.length);
    if (!(maxTokens >= 1) || !Number.isInteger(req.maxTokens ?? 1)) throw invalid('max_tokens must be an integer ≥ 1', { param: 'max_tokens' });
    if (req.adapter && !eng.loadedAdapters.includes(req.adapter)) throw invalid(`adapter ${req.adapter.name} is not loaded`, { param: 'adapter', code: 'adapter_not_loaded' });
    const stops = (typeof req.stop === 'string' ? [req.stop] : [...(req.stop ?? [])]).filter((s) => s.length > 0);
    const sampler = new Sampler(req.sampling ?? {}, eng.config.vocabSize, prompt);
    const needBlocks = Math.ceil((prompt.length + maxTokens) / eng.kv.blockSize);
    if (needBlocks > eng.kv.numBlocks) {
      throw new OpenLedgerError(`prompt + max_tokens (${prompt.length + maxTokens}) exceed the KV cache (${eng.kv.numBlocks * eng.kv.blockSize} tokens)`, {
        code: 'kv_cache_too_small', param: 'max_tokens', hint: 'lower max_tokens or create the engine with a larger kvTokens budget',
      });
    }
    const stopIds = new Set<number>(req.stopTokenIds ?? []);
    if (!req.ignoreEos) for (const e of [...tk.eosTokenIds, ...eng.config.eosTokenIds]) stopIds.add(e);
    let resolve!: (r: GenerateResult) => void, reject!: (e: unknown) => void;
    const result = new Promise<GenerateResult>((res, rej) => { resolve = res; reject = rej; });
    result.catch(() => {}); // the stream reports errors too; never an unhandled rejection
    const r: Req = {
      prompt, maxTokens, stops, maxStop: Math.max(0, ...stops.map((s) => s.length)), stopIds,
      adapter: req.adapter ?? null, sampler, constraint: req.constraint ?? null, wantLogprobs: req.sampling?.logprobs !== undefined,
      decode: tk.decodeIncremental({ skipSpecial: req.skipSpecial ?? true }), signal: req.signal, onAbort: null, needBlocks,
      seq: null, prefilled: 0, next: -1, tokens: [], logprobs: [], gen: '', emitted: 0, cancelled: false, done: false,
      t0: performance.now(), tAdmit: 0, tFirst: null,
      chan: null as unknown as Channel<GenerateChunk>, resolve, reject,
    };
    r.chan = new Channel<GenerateChunk>();
    if (req.signal) {
      if (req.signal.aborted) r.cancelled = true;
      r.onAbort = () => this.cancel(r);
      req.signal.addEventListener('abort', r.onAbort, { once: true });
    }
    this.waiting.push(r);
    this.kick();
    return {
      result, promptTokens: prompt.length,
      cancel: () => this.cancel(r),
      [Symbol.asyncIterator]: () => r.chan.iterator(() => this.cancel(r)),
    };
  }

  private cancel(r: Req): void {
    if (r.done) return;
    r.cancelled = true;
    this.kick();
  }

  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiting.length || this.active.length) {
        try {
          this.reap();
          this.admit();
          if (!this.active.length) break;
          this.stepOnce();
        } catch (e) {
          // A bug must not leave streams hanging or crash the process: fail what was running.
          for (const r of [...this.active]) this.fail(r, e);
        }
        await new Promise<void>((res) => setImmediate(res));
      }
    } finally {
      this.looping = false;
    }
  }

  /** Finish cancelled requests (waiting or running). */
  private reap(): void {
    for (const r of [...this.waiting, ...this.active]) if (r.cancelled && !r.done) this.finish(r, 'abort');
  }

  private admit(): void {
    const eng = this.engine;
    while (this.waiting.length && this.active.length < this.maxRunning) {
      const r = this.waiting[0];
      if (this.promisedBlocks + r.needBlocks > eng.kv.numBlocks) break; // FIFO: wait for room
      this.waiting.shift();
      r.seq = eng.createSequence();
      r.tAdmit = performance.now();
      this.promisedBlocks += r.needBlocks;
      this.active.push(r);
    }
  }

  private stepOnce(): void {
    const entries: Array<{ seq: SequenceHandle; tokens: number[]; adapter: LoraAdapter | null; logits: 'last' | 'none'; out?: Float32Array }> = [];
    const owners: Req[] = [];
    let budget = this.budget;
    // An adapter unloaded under a running request fails that request only.
    const loaded = new Set(this.engine.loadedAdapters);
    for (const r of [...this.active]) {
      if (r.adapter && (!loaded.has(r.adapter) || r.adapter.parts?.some((p) => !loaded.has(p.adapter)))) {
        this.fail(r, invalid(`adapter ${r.adapter.name} was unloaded while the request was running`, { code: 'adapter_not_loaded', param: 'model' }));
      }
    }
    // Logit rows are written into per-slot buffers reused across steps (no per-step allocation).
    const V = this.engine.config.vocabSize;
    let slot = 0;
    const buf = () => {
      if (!this.logitBufs[slot]) this.logitBufs[slot] = new Float32Array(V);
      return this.logitBufs[slot++];
    };
    for (const r of this.active) {
      if (r.next < 0 || budget === 0) continue;
      entries.push({ seq: r.seq!, tokens: [r.next], adapter: r.adapter, logits: 'last', out: buf() });
      owners.push(r);
      budget--;
    }
    for (const r of this.active) {
      if (r.next >= 0 || budget === 0) continue;
      const n = Math.min(r.prompt.length - r.prefilled, budget);
      const end = r.prefilled + n;
      const last = end === r.prompt.length;
      entries.push({ seq: r.seq!, tokens: r.prompt.slice(r.prefilled, end), adapter: r.adapter, logits: last ? 'last' : 'none', ...(last ? { out: buf() } : {}) });
      owners.push(r);
      r.prefilled = end;
      budget -= n;
    }
    if (!entries.length) return;
    let out;
    try {
      out = this.engine.step(entries);
    } catch (e) {
      for (const r of owners) this.fail(r, e);
      return;
    }
    this.onStep?.(entries);
    for (let i = 0; i < owners.length; i++) {
      const r = owners[i];
      const logits = out[i].logits;
      if (!logits || r.done) continue;
      try {
        this.onLogits(r, logits);
      } catch (e) {
        this.fail(r, e); // e.g. a tokenizer that cannot decode: only this request fails
      }
    }
  }

  private onLogits(r: Req, logits: Float32Array): void {
    r.constraint?.mask(logits);
    const s = r.sampler.sample(logits);
    const tok = s.token;
    if (r.tFirst === null) r.tFirst = performance.now();
    r.sampler.accept(tok);
    r.constraint?.accept(tok);
    r.tokens.push(tok);
    if (r.wantLogprobs) r.logprobs.push(s);
    const chunk: GenerateChunk = { text: '', tokens: [tok], ...(r.wantLogprobs ? { logprobs: [s] } : {}) };
    if (r.stopIds.has(tok)) {
      chunk.text = r.gen.slice(r.emitted);
      r.emitted = r.gen.length;
      r.chan.push(chunk);
      return this.finish(r, 'stop');
    }
    const prev = r.gen.length;
    r.gen += r.decode(tok);
    if (r.stops.length) {
      let at = -1, which: string | null = null;
      const from = Math.max(0, prev - r.maxStop + 1);
      for (const st of r.stops) {
        const i = r.gen.indexOf(st, from);
        if (i >= 0 && (at < 0 || i < at)) { at = i; which = st; }
      }
      if (at >= 0) {
        r.gen = r.gen.slice(0, at);
        chunk.text = r.gen.slice(r.emitted);
        r.emitted = r.gen.length;
        r.chan.push(chunk);
        return this.finish(r, 'stop', which);
      }
    }
    const safe = r.gen.length - this.heldBack(r);
    if (safe > r.emitted) {
      chunk.text = r.gen.slice(r.emitted, safe);
      r.emitted = safe;
    }
    if (r.constraint?.complete()) {
      chunk.text = r.gen.slice(r.emitted);
      r.emitted = r.gen.length;
      r.chan.push(chunk);
      return this.finish(r, 'stop');
    }
    r.chan.push(chunk);
    if (r.tokens.length >= r.maxTokens) return this.finish(r, 'length');
    r.next = tok;
  }

  /** Length of the longest tail of the text that is a proper prefix of a stop string. */
  private heldBack(r: Req): number {
    const g = r.gen;
    for (let k = Math.min(r.maxStop - 1, g.length); k > 0; k--) {
      const tail = g.slice(g.length - k);
      if (r.stops.some((s) => s.length > k && s.startsWith(tail))) return k;
    }
    return 0;
  }

  private release(r: Req): void {
    r.done = true;
    if (r.signal && r.onAbort) r.signal.removeEventListener('abort', r.onAbort);
    const ai = this.active.indexOf(r);
    if (ai >= 0) {
      this.active.splice(ai, 1);
      this.promisedBlocks -= r.needBlocks;
    }
    const wi = this.waiting.indexOf(r);
    if (wi >= 0) this.waiting.splice(wi, 1);
    if (r.seq) this.engine.freeSequence(r.seq);
    r.seq = null;
  }

  private finish(r: Req, reason: FinishReason, stopSequence: string | null = null): void {
    if (r.done) return;
    if (reason !== 'stop' || stopSequence === null) {
      // Nothing more can complete a stop string: release the held-back text.
      const rest = r.gen.slice(r.emitted);
      if (rest) r.chan.push({ text: rest, tokens: [] });
      r.emitted = r.gen.length;
    }
    this.release(r);
    r.chan.close();
    r.resolve({
      text: r.gen, tokens: r.tokens, finishReason: reason, stopSequence, promptTokens: r.prompt.length,
      completionTokens: r.tokens.length, ...(r.wantLogprobs ? { logprobs: r.logprobs } : {}),
      timings: {
        admittedMs: r.tAdmit ? r.tAdmit - r.t0 : 0, firstTokenMs: r.tFirst === null ? null : r.tFirst - r.t0, totalMs: performance.now() - r.t0,
      },
    });
  }

  private fail(r: Req, e: unknown): void {
    if (r.done) return;
    this.release(r);
    r.chan.close(e);
    r.reject(e);
  }
}

const defaults = new WeakMap<Engine, BatchGenerator>();

/** The engine's shared BatchGenerator (created on first use). */
export function batchGenerator(engine: Engine): BatchGenerator {
  let g = defaults.get(engine);
  if (!g) defaults.set(engine, (g = new BatchGenerator(engine)));
  return g;
}

/** Stream a completion: `for await (const c of generate(engine, req)) …`, then `await stream.result`. */
export function generate(engine: Engine, req: GenerateRequest): GenerationStream {
  return batchGenerator(engine).submit(req);
}

/** The whole completion at once. */
export async function generateText(engine: Engine, req: GenerateRequest): Promise<GenerateResult> {
  const s = generate(engine, req);
  for await (const _ of s) void _;
  return s.result;
}
