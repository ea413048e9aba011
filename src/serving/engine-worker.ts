/**
 * One base model's engine on its own thread (started by engine-thread.ts): the engine, its
 * continuous-batching loop (BatchGenerator), the adapter cache, tokenization and the JSON
 * grammar all live here, so a forward step or a long tokenization never holds the node's event
 * loop. Only plain data crosses: requests, chunks, results, errors, counters.
 *
 *   main ─ prepare {id, req} ─▶ load engine (once) → tokenize → check lengths and ids → lease adapter
 *        ◀─ prepared {id, promptTokens} | error {id, error}
 *   main ─ start {id} ────────▶ BatchGenerator.submit → every step: chunk {id, text, tokens, logprobs}
 *        ◀─ done {id, result} | failed {id, error}
 *   main ─ cancel {id} ───────▶ abort (a prepared request just drops its lease)
 *   main ─ embed {id, …} ─────▶ embed() between two steps ◀─ embedded {id, vectors}
 *   every step and every end ─▶ stats {…}
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchGenerator, createEngine, embed, loadModel, type Engine, type GenerateResult, type LoraAdapter, type StepEntry } from '../engine/index.ts';
import { OpenLedgerError, invalid, modelError } from '../util/errors.ts';
import { AdapterCache, type AdapterLease } from './adapter-cache.ts';
import { ANY_OBJECT, JsonConstraint, VocabTrie, compileSchema, tokenTexts } from './json-grammar.ts';
import { serializeError, type EngineThreadInit, type PrepareRequest, type ToMain, type ToWorker, type WorkerStats } from './engine-protocol.ts';
import { BOUNDS, histogram, observe } from './metrics.ts';

const port = parentPort!;
const init = workerData as EngineThreadInit;
// Linux keeps nice per thread: this thread, and the kernel threads the engine starts from it,
// yield the CPU to the HTTP thread (a no-op where the OS refuses, e.g. other platforms' rules).
if (init.nice > 0) {
  try { setPriority(Math.min(19, getPriority() + init.nice)); } catch { /* not permitted: run at the process's priority */ }
}
const send = (m: ToMain, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

interface Loaded {
  engine: Engine;
  gen: BatchGenerator;
  adapters: AdapterCache;
  maxRunning: number;
  trie: VocabTrie | null;
}

interface Prepared {
  promptIds: number[];
  req: PrepareRequest;
  maxTokens: number;
  lease: AdapterLease | null;
  ac: AbortController;
  started: boolean;
}

let loading: Promise<Loaded> | null = null;
let loaded: Loaded | null = null;
const prepared = new Map<number, Prepared>();
const counters = { steps: 0, tokens: 0, generatedTokens: 0, maxSequencesInStep: 0, maxAdaptersInStep: 0, mixedAdapterSteps: 0 };
/** Per step: sequences in the batch, distinct adapters among them (GET /metrics). */
const perStep = { batchSize: histogram(BOUNDS.batch), adaptersPerStep: histogram(BOUNDS.adapters) };

function load(): Promise<Loaded> {
  loading ??= (async () => {
    const model = await loadModel(init.path);
    const engine = await createEngine(model, {
      ...(init.kvTokens ? { kvTokens: init.kvTokens } : {}),
      ...(init.maxBatchTokens ? { maxBatchTokens: init.maxBatchTokens } : {}),
    });
    const maxRunning = Math.min(init.maxRunning ?? 64, engine.maxBatchTokens);
    const gen = new BatchGenerator(engine, { maxRunning, onStep: onStep });
    loaded = { engine, gen, adapters: new AdapterCache(engine, init.maxAdapters, init.adapterBudgetBytes ?? null), maxRunning, trie: null };
    return loaded;
  })().catch((e) => {
    loading = null; // a failed load (bad file) is retried by the next request
    throw unloadable(`base model ${init.name}`, e);
  });
  return loading;
}

function onStep(batch: readonly StepEntry[]): void {
  const c = counters;
  c.steps++;
  const adapters = new Set<number>();
  for (const e of batch) {
    c.tokens += e.tokens.length;
    if (e.adapter) adapters.add(e.adapter.id);
  }
  c.maxSequencesInStep = Math.max(c.maxSequencesInStep, batch.length);
  c.maxAdaptersInStep = Math.max(c.maxAdaptersInStep, adapters.size);
  if (adapters.size >= 2) c.mixedAdapterSteps++;
  observe(perStep.batchSize, batch.length);
  observe(perStep.adaptersPerStep, adapters.size);
  postStats();
}

function stats(): WorkerStats {
  const l = loaded;
  const es = l?.engine.stats();
  return {
    state: l ? 'ready' : loading ? 'loading' : 'idle', maxRunning: l?.maxRunning ?? null,
    running: l?.gen.runningCount ?? 0, waiting: l?.gen.waitingCount ?? 0, ...counters, ...perStep,
    adapters: l?.adapters.stats() ?? null, kv: es ? { blocks: es.kvBlocks, free: es.kvBlocksFree, blockSize: es.kvBlockSize } : null,
    memory: es ? { engineHeapBytes: es.heapBytes, kvBytes: es.kvBlocks * es.kvBlockSize * es.kvBytesPerToken, adapterBytes: es.adapterBytes } : null,
  };
}
const postStats = () => send({ t: 'stats', stats: stats() });

/** Tokenize and check everything that needs the model; hold the adapter. Errors are the caller's 400s (or 422/429). */
async function prepare(id: number, req: PrepareRequest): Promise<void> {
  const l = await load();
  const eng = l.engine, tk = eng.tokenizer, V = eng.config.vocabSize;
  const g = req.generate;
  let ids: number[];
  if (g.messages) {
    if (!tk.chatTemplate) throw invalid('this model has no chat template; send a plain prompt to /v1/completions', { param: 'messages', code: 'no_chat_template' });
    ids = tk.encode(tk.applyChatTemplate([...g.messages], { addGenerationPrompt: true }), { addSpecial: false });
  } else if (typeof g.prompt === 'string') ids = tk.encode(g.prompt, { addSpecial: true });
  else ids = [...(g.prompt ?? [])];
  if (!ids.length) throw invalid('the prompt is empty', { param: 'prompt', code: 'empty_prompt', hint: 'send some text' });
  const bad = ids.find((t) => !Number.isInteger(t) || t < 0 || t >= V);
  if (bad !== undefined) throw invalid(`prompt token id ${bad} is outside the vocabulary (${V})`, { param: 'prompt', code: 'invalid_token', hint: `token ids are 0…${V - 1}` });
  for (const k of Object.keys(g.sampling?.logitBias ?? {})) {
    if (Number(k) >= V) throw invalid(`logit_bias names token id ${k}, outside the vocabulary of ${req.modelName} (${V} tokens)`, { param: `logit_bias.${k}`, code: 'invalid_token', hint: `token ids are 0…${V - 1}` });
  }
  const ctx = eng.maxContext;
  if (ids.length >= ctx) {
    throw new OpenLedgerError(`the prompt has ${ids.length} tokens; the context of ${req.modelName} holds ${ctx} (including at least one generated token)`, {
      code: 'context_length_exceeded', param: 'prompt', hint: 'shorten the prompt', details: { promptTokens: ids.length, context: ctx },
    });
  }
  let maxTokens: number;
  if (g.maxTokens !== undefined) {
    if (ids.length + g.maxTokens > ctx) {
      throw new OpenLedgerError(`max_tokens ${g.maxTokens} + the prompt's ${ids.length} tokens exceed the context of ${req.modelName} (${ctx} tokens)`, {
        code: 'context_length_exceeded', param: 'max_tokens', hint: `ask for at most ${ctx - ids.length} tokens, or shorten the prompt`, details: { promptTokens: ids.length, context: ctx },
      });
    }
    maxTokens = g.maxTokens;
  } else maxTokens = Math.min(req.defaultMaxTokens, ctx - ids.length);
  const needBlocks = Math.ceil((ids.length + maxTokens) / eng.kv.blockSize);
  if (needBlocks > eng.kv.numBlocks) {
    throw new OpenLedgerError(`prompt + max_tokens (${ids.length + maxTokens} tokens) exceed this node's KV cache for ${req.modelName} (${eng.kv.numBlocks * eng.kv.blockSize} tokens)`, {
      code: 'kv_cache_too_small', param: 'max_tokens', hint: 'lower max_tokens; the node operator can raise the serving kvTokens budget',
    });
  }
  if (req.json) {
    // compiled on the main thread already (400s there); here it only needs the vocabulary's trie
    l.trie ??= new VocabTrie(tokenTexts(tk, V));
  }
  const lease = req.adapters?.length ? await mergeLease(l, req)
    : req.adapterPath ? await l.adapters.acquire(req.adapterPath, req.adapterLabel).catch((e) => { throw unloadable(`the adapter of ${req.modelName}`, e); }) : null;
  prepared.set(id, { promptIds: ids, req, maxTokens, lease, ac: new AbortController(), started: false });
  send({ t: 'prepared', id, promptTokens: ids.length, maxRunning: l.maxRunning });
}

/**
 * A dynamic merge: a lease on each adapter (so none is evicted under it), then a merged adapter over
 * them (no factors copied: Engine.mixAdapters). Requests for the same merge (same adapters, same
 * weights) share one merged handle, so their rows form one LoRA segment per step rather than one
 * each. The last release frees the merge, then its leases.
 */
const mixes = new Map<string, { ready: Promise<{ mix: LoraAdapter; leases: AdapterLease[] }>; refs: number }>();

async function mergeLease(l: Loaded, req: PrepareRequest): Promise<AdapterLease> {
  const key = req.adapters!.map((a) => `${a.path}\u0000${a.weight}`).join('\u0001');
  let m = mixes.get(key);
  if (!m) {
    const ready = (async () => {
      const leases: AdapterLease[] = [];
      try {
        for (const a of req.adapters!) leases.push(await l.adapters.acquire(a.path, a.model).catch((e) => { throw unloadable(`an adapter of ${req.modelName}`, e); }));
        return { mix: l.engine.mixAdapters(leases.map((x, i) => ({ adapter: x.adapter, weight: req.adapters![i].weight })), req.modelName), leases };
      } catch (e) {
        for (const x of leases) x.release();
        throw e;
      }
    })();
    m = { ready, refs: 0 };
    const entry = m;
    mixes.set(key, entry);
    ready.catch(() => { if (mixes.get(key) === entry) mixes.delete(key); });
  }
  const entry = m;
  entry.refs++;
  let held: { mix: LoraAdapter; leases: AdapterLease[] };
  try {
    held = await entry.ready;
  } catch (e) {
    entry.refs--;
    throw e;
  }
  let released = false;
  return {
    adapter: held.mix,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      if (mixes.get(key) === entry) mixes.delete(key);
      l.engine.unloadAdapter(held.mix);
      for (const x of held.leases) x.release();
    },
  };
}

function start(id: number): void {
  const p = prepared.get(id);
  const l = loaded;
  if (!p || !l || p.started) return;
  p.started = true;
  const g = p.req.generate;
  const root = p.req.json ? (p.req.json.schema === null ? ANY_OBJECT : compileSchema(p.req.json.schema)) : null;
  const eos = [...new Set([...l.engine.tokenizer.eosTokenIds, ...l.engine.config.eosTokenIds])];
  const tk = l.engine.tokenizer;
  let stream;
  try {
    stream = l.gen.submit({
      prompt: p.promptIds, maxTokens: p.maxTokens, stop: g.stop, ignoreEos: g.ignoreEos, sampling: g.sampling,
      adapter: p.lease?.adapter ?? null, signal: p.ac.signal,
      ...(root && l.trie ? { constraint: new JsonConstraint(l.trie, root, eos) } : {}),
    });
  } catch (e) {
    end(id, p);
    send({ t: 'failed', id, error: serializeError(e) });
    return;
  }
  const wantLp = g.sampling?.logprobs !== undefined;
  void (async () => {
    try {
      for await (const c of stream) {
        let texts: Array<[number, string]> | undefined;
        if (wantLp && c.logprobs?.length) {
          const seen = new Set<number>();
          for (const s of c.logprobs) { seen.add(s.token); for (const t of s.top ?? []) seen.add(t.token); }
          texts = [...seen].map((t) => [t, tk.decode([t])]);
        }
        send({ t: 'chunk', id, text: c.text, tokens: c.tokens, ...(c.logprobs ? { logprobs: c.logprobs } : {}), ...(texts ? { texts } : {}) });
      }
      const r: GenerateResult = await stream.result;
      counters.generatedTokens += r.completionTokens;
      end(id, p);
      postStats(); // before the end: whoever sees the end sees the counters without it
      send({ t: 'done', id, result: r });
    } catch (e) {
      end(id, p);
      postStats();
      send({ t: 'failed', id, error: serializeError(e) });
    }
  })();
}

function end(id: number, p: Prepared): void {
  p.lease?.release();
  p.lease = null;
  prepared.delete(id);
}

function cancel(id: number): void {
  const p = prepared.get(id);
  if (!p) return;
  if (p.started) p.ac.abort();
  else {
    end(id, p);
    postStats();
  }
}

async function embedRequest(id: number, m: Extract<ToWorker, { t: 'embed' }>): Promise<void> {
  const l = await load();
  let lease: AdapterLease | null = null;
  try {
    lease = m.adapterPath ? await l.adapters.acquire(m.adapterPath, m.adapterLabel).catch((e) => { throw unloadable(`the adapter of ${m.modelName}`, e); }) : null;
    const tk = l.engine.tokenizer;
    const ids = m.inputs.map((x) => (typeof x === 'string' ? tk.encode(x, { addSpecial: true }) : x));
    const V = l.engine.config.vocabSize;
    ids.forEach((t, i) => {
      const bad = t.find((x) => x >= V);
      if (bad !== undefined) throw invalid(`input[${i}] has token id ${bad}, outside the vocabulary (${V})`, { param: `input[${i}]`, code: 'invalid_token' });
    });
    const vectors = embed(l.engine, ids, { adapter: lease?.adapter ?? null });
    const promptTokens = ids.reduce((s, t) => s + t.length, 0);
    const buffers = vectors.map((v) => v.buffer as ArrayBuffer);
    send({ t: 'embedded', id, vectors, promptTokens }, buffers);
  } finally {
    lease?.release();
  }
}

/** A model or adapter file the node cannot load: the operator's problem (422, no server paths in the message). */
function unloadable(what: string, e: unknown): OpenLedgerError {
  if (e instanceof OpenLedgerError && ['adapter_cache_full', 'adapter_memory_full', 'adapter_too_large'].includes(e.code ?? '')) return e;
  const cause = e instanceof OpenLedgerError ? e : null;
  return modelError(`${what} cannot be loaded on this node${cause?.code ? ` (${cause.code})` : ''}`, {
    param: 'model', code: 'model_load_failed', cause: e,
    hint: 'the node operator should check that its files still exist and fit the base model (`openledger models list`, `openledger models add`)',
  });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'prepare':
      // counters first, so whoever sees the reply sees the counters with it (a failed load included)
      prepare(m.id, m.req).catch((e) => { postStats(); send({ t: 'error', id: m.id, error: serializeError(e) }); }).finally(postStats);
      break;
    case 'start': start(m.id); break;
    case 'cancel': cancel(m.id); break;
    case 'embed':
      embedRequest(m.id, m).catch((e) => send({ t: 'error', id: m.id, error: serializeError(e) }));
      break;
    case 'close': {
      for (const p of prepared.values()) p.ac.abort();
      const settle = loaded ? Promise.allSettled([...prepared.values()].map(() => null)) : Promise.resolve([]);
      void settle.then(async () => {
        // let the loop reap the aborted sequences, then free the engine
        for (let i = 0; i < 100 && loaded && (loaded.gen.runningCount || loaded.gen.waitingCount); i++) await new Promise((r) => setTimeout(r, 5));
        loaded?.engine.close();
        send({ t: 'closed' });
      });
      break;
    }
  }
});
