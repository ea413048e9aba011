/**
 * The model server: resolves a request's `model` (base, `ft:…`, `model:<id>`), checks that the
 * caller may use it, hands it to the scheduler of its base model (one engine thread and one batch
 * loop per base, created on first use and kept until the node stops) and reports usage when a
 * completion ends.
 *
 * Who may call what (item 5 of issue 9): base models — any authenticated caller; a fine-tuned
 * model — its owner always; anyone else only when it is registered on chain AND they hold read
 * access to every datanet the job trained on (`access`, given by the routes: approval and paid
 * datanets are not bypassed by training once). Unregistered fine-tuned models are private:
 * listed and served to their owner only (others get the same 404 as for a model that does not exist).
 *
 * Payment: every completion ends with a `usage` event (caller, model, on-chain id, recorded
 * prices, token counts): the payable engineer's hook point.
 */
import { EventEmitter } from 'node:events';
import type { GenerationStream } from '../engine/index.ts';
import type { ModelCatalog } from '../models/index.ts';
import type { FactoryRepo } from '../factory/index.ts';
import { parseServingConfig, type ServingConfig, type ServingConfigInput } from './config.ts';
import { ModelDirectory, usageAdapters, type ModelView, type ServedModel } from './models.ts';
import { invalid } from '../util/errors.ts';
import { createHash } from 'node:crypto';

/**
 * How an adapter appears in the public stats (its lifecycle): `model:<id>` when registered on
 * chain (public anyway), else `private:<hash>` — an unregistered model's name is its owner's to see.
 */
const statsLabel = (s: ServedModel) =>
  s.modelId ? `model:${s.modelId}` : `private:${createHash('sha256').update(s.fineTunedName ?? s.id).digest('hex').slice(0, 12)}`;
import { BaseScheduler, stopping, type BaseStats, type TokenTexts } from './scheduler.ts';
import type { ParsedRequest } from './openai.ts';

export interface ModelServerDeps {
  catalog: ModelCatalog;
  /** Fine-tuned / imported models (Model Factory's records); null serves base models only. */
  repo: FactoryRepo | null;
  config?: ServingConfigInput;
  /**
   * May `caller` use fine-tuned model `served` (not its owner, registered)? Throws a 403 naming the
   * datanet it lacks. Default: yes (no datanets on this node).
   */
  access?: (caller: string, served: ServedModel) => Promise<void>;
}

export interface UsageRecord {
  /** The completion id returned to the client (the inference id), when the route gave one. */
  inferenceId: string | null;
  /** The authenticated caller (address). */
  caller: string | null;
  /** As the request named it. */
  model: string;
  base: string;
  fineTunedModel: string | null;
  /** Every adapter applied and its weight ([] for a base; several for a dynamic merge): fees and attribution split across them. */
  adapters: Array<{ model: string; weight: number }>;
  modelId: string | null;
  price: ServedModel['price'];
  promptTokens: number;
  /** Summed over the choices when n > 1. */
  completionTokens: number;
  finishReason: 'stop' | 'length' | 'abort';
}

export interface ServingStats {
  bases: BaseStats[];
  /** Sums over the bases. */
  running: number;
  waiting: number;
  steps: number;
  tokens: number;
  generatedTokens: number;
}

export interface Started {
  served: ServedModel;
  /** The first choice's stream (the only one when n = 1). */
  stream: GenerationStream;
  /** One stream per choice (n). */
  streams: GenerationStream[];
  /** Token texts for logprobs. */
  tokens: TokenTexts;
}

export class ModelServer {
  readonly config: ServingConfig;
  readonly directory: ModelDirectory;
  /** 'usage' (UsageRecord) when a completion ends, cancelled ones included. */
  readonly events = new EventEmitter();
  private readonly bases = new Map<string, BaseScheduler>();
  private closed = false;

  constructor(private readonly deps: ModelServerDeps) {
    this.config = parseServingConfig(deps.config);
    this.directory = new ModelDirectory({ catalog: deps.catalog, repo: deps.repo });
    this.events.setMaxListeners(0);
  }

  /** What `caller` may see: bases, registered fine-tuned models, and the caller's own unregistered ones. */
  models(caller: string | null = null): ModelView[] {
    return this.directory.list(caller);
  }

  /** Resolve `model` for `caller` (404 for another owner's unregistered model, 403 without datanet access). */
  async resolveFor(model: unknown, caller: string | null): Promise<ServedModel> {
    const served = this.directory.resolve(model, caller);
    if (served.merge) {
      // each adapter of a merge is checked as if it were named alone
      for (const p of served.merge) await this.resolveFor(p.served.fineTunedName, caller);
      return served;
    }
    const own = !!caller && !!served.owner && served.owner.toLowerCase() === caller.toLowerCase();
    if (served.kind === 'fine-tuned' && !own) {
      if (!caller) throw this.directory.hidden(String(model));
      await this.deps.access?.(caller, served);
    }
    return served;
  }

  /** Resolve, check access, schedule `n` choices, and return the live streams (errors: 404 model, 403 access, 400 input, 429 capacity). */
  async start(p: ParsedRequest, opts: { caller: string | null; signal: AbortSignal; id?: string }): Promise<Started> {
    if (this.closed) throw stopping();
    const served = await this.resolveFor(p.model, opts.caller);
    if (p.mergeOf && p.mergeOf !== served.base.name && p.mergeOf !== served.id) {
      throw invalid(`model "${p.mergeOf}" is not the base (${served.base.name}) of the adapters named in \`adapters\``, {
        param: 'model', code: 'merge_base_mismatch', hint: `with \`adapters\`, set model to their base model, ${served.base.name}`,
      });
    }
    const sched = this.scheduler(served);
    const adapters = served.merge?.map((x) => ({ path: x.served.adapterPath!, weight: x.weight, model: statsLabel(x.served) })) ?? null;
    const streams: GenerationStream[] = [];
    let tokens: TokenTexts | null = null;
    try {
      for (let i = 0; i < p.n; i++) {
        // n choices from one seed would be n copies: each choice gets its own seed (seed + i).
        const seed = p.generate.sampling?.seed;
        const sampling = seed !== undefined && i > 0 ? { ...p.generate.sampling, seed: seed + i } : p.generate.sampling;
        const s = await sched.submit({ generate: { ...p.generate, sampling }, adapterPath: served.adapterPath, adapterLabel: statsLabel(served), adapters, modelName: p.model, json: p.json, caller: opts.caller, signal: opts.signal });
        streams.push(s.stream);
        tokens = s.tokens;
      }
    } catch (e) {
      for (const s of streams) s.cancel();
      throw e;
    }
    void Promise.all(streams.map((s) => s.result)).then((rs) => {
      const u: UsageRecord = {
        inferenceId: opts.id ?? null, caller: opts.caller, model: p.model, base: served.base.name, fineTunedModel: served.fineTunedName, adapters: usageAdapters(served), modelId: served.modelId, price: served.price,
        promptTokens: rs[0].promptTokens, completionTokens: rs.reduce((s, r) => s + r.completionTokens, 0),
        finishReason: rs.some((r) => r.finishReason === 'abort') ? 'abort' : rs[0].finishReason,
      };
      this.events.emit('usage', u); // payable hook point: charge u
    }, () => {});
    return { served, stream: streams[0], streams, tokens: tokens! };
  }

  /** Embeddings of `inputs` (pooled final hidden states, L2-normalised) on the model's engine thread. */
  async embed(model: string, inputs: Array<string | number[]>, caller: string | null): Promise<{ served: ServedModel; vectors: Float32Array[]; promptTokens: number }> {
    if (this.closed) throw stopping();
    const served = await this.resolveFor(model, caller);
    if (served.merge) throw invalid('embeddings of a merge of adapters are not supported', { param: 'model', code: 'merge_not_supported', hint: 'embed with one model' });
    const r = await this.scheduler(served).embed(inputs, served.adapterPath, model, statsLabel(served));
    return { served, ...r };
  }

  stats(): ServingStats {
    const bases = [...this.bases.values()].map((b) => b.stats());
    const sum = (k: 'running' | 'waiting' | 'steps' | 'tokens' | 'generatedTokens') => bases.reduce((s, b) => s + b[k], 0);
    return { bases, running: sum('running'), waiting: sum('waiting'), steps: sum('steps'), tokens: sum('tokens'), generatedTokens: sum('generatedTokens') };
  }

  /** Stop: cancel running sequences, end the engine threads. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.bases.values()].map((b) => b.close()));
    this.bases.clear();
  }

  /** One scheduler per base weights file: base requests and every adapter over it share it. */
  private scheduler(served: ServedModel): BaseScheduler {
    let b = this.bases.get(served.base.path);
    if (!b) this.bases.set(served.base.path, (b = new BaseScheduler(served.base.name, served.base.path, this.config)));
    return b;
  }
}
