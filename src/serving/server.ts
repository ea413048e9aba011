/**
 * The model server: resolves a request's `model` (base, `ft:…`, `model:<id>`), hands it to the
 * scheduler of its base model (one engine and one batch loop per base, created on first use and
 * kept until the node stops) and reports usage when a completion ends.
 *
 * Payment: every completion ends with a `usage` event (caller, model, on-chain id, recorded
 * prices, token counts). Settling it through InferenceEscrow is a later issue; it will hook in
 * at two marked places: before scheduling (the caller's deposit covers prompt + max_tokens at the
 * model's price) and on `usage` (charge the tokens actually served). Nothing is charged today.
 */
import { EventEmitter } from 'node:events';
import type { Engine, GenerationStream } from '../engine/index.ts';
import type { ModelCatalog } from '../models/index.ts';
import type { FactoryRepo } from '../factory/index.ts';
import { parseServingConfig, type ServingConfig, type ServingConfigInput } from './config.ts';
import { ModelDirectory, type ModelView, type ServedModel } from './models.ts';
import { BaseScheduler, stopping, type BaseStats } from './scheduler.ts';
import type { ParsedRequest } from './openai.ts';

export interface ModelServerDeps {
  catalog: ModelCatalog;
  /** Fine-tuned / imported models (Model Factory's records); null serves base models only. */
  repo: FactoryRepo | null;
  config?: ServingConfigInput;
}

export interface UsageRecord {
  /** The authenticated caller (address). */
  caller: string | null;
  /** As the request named it. */
  model: string;
  base: string;
  fineTunedModel: string | null;
  modelId: string | null;
  price: ServedModel['price'];
  promptTokens: number;
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
  stream: GenerationStream;
  engine: Engine;
}

export class ModelServer {
  readonly config: ServingConfig;
  readonly directory: ModelDirectory;
  /** 'usage' (UsageRecord) when a completion ends, cancelled ones included. */
  readonly events = new EventEmitter();
  private readonly bases = new Map<string, BaseScheduler>();
  private closed = false;

  constructor(deps: ModelServerDeps) {
    this.config = parseServingConfig(deps.config);
    this.directory = new ModelDirectory({ catalog: deps.catalog, repo: deps.repo });
    this.events.setMaxListeners(0);
  }

  models(): ModelView[] {
    return this.directory.list();
  }

  /** Resolve, schedule, and return the live stream (errors: 404 model, 400 input, 429 capacity). */
  async start(p: ParsedRequest, opts: { caller: string | null; signal: AbortSignal }): Promise<Started> {
    if (this.closed) throw stopping();
    const served = this.directory.resolve(p.model);
    // InferenceEscrow (later issue): check here that opts.caller's deposit covers
    // (prompt + max_tokens) at served.price, before any engine work is done.
    const { stream, engine } = await this.scheduler(served).submit({ generate: p.generate, adapterPath: served.adapterPath, modelName: p.model, signal: opts.signal });
    stream.result.then((r) => {
      const u: UsageRecord = {
        caller: opts.caller, model: p.model, base: served.base.name, fineTunedModel: served.fineTunedName, modelId: served.modelId, price: served.price,
        promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: r.finishReason,
      };
      this.events.emit('usage', u); // InferenceEscrow (later issue): settle u here.
    }, () => {});
    return { served, stream, engine };
  }

  stats(): ServingStats {
    const bases = [...this.bases.values()].map((b) => b.stats());
    const sum = (k: 'running' | 'waiting' | 'steps' | 'tokens' | 'generatedTokens') => bases.reduce((s, b) => s + b[k], 0);
    return { bases, running: sum('running'), waiting: sum('waiting'), steps: sum('steps'), tokens: sum('tokens'), generatedTokens: sum('generatedTokens') };
  }

  /** Stop: cancel running sequences, free the engines. */
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
