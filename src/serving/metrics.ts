/**
 * Serving metrics in Prometheus' text exposition format (version 0.0.4), served at `GET /metrics`.
 *
 * Counters and histograms are kept where their events happen and only read here:
 *   engine thread (engine-worker.ts)  steps, tokens, batch size and adapters per step (histograms),
 *                                     adapter cache hits / misses / evictions / failures / load time
 *                                     → reported to the main thread in its `stats` messages
 *   scheduler (main thread)           requests by outcome, queue depth, running sequences,
 *                                     TTFT and TPOT as the client sees them (histograms)
 *   process                           resident set, heap; memory per tier (adapters on the host, KV cache)
 *
 * A histogram is plain data (it crosses the thread boundary in a message): fixed upper bounds,
 * one count per bucket (not cumulative; cumulated when rendered), the sum and the count.
 */
import type { BaseStats } from './scheduler.ts';
import type { ServingStats } from './server.ts';

export interface Histogram {
  /** Upper bounds, ascending; +Inf is implicit. */
  bounds: number[];
  /** counts[i] = observations in (bounds[i-1], bounds[i]]; counts[bounds.length] = above the last bound. */
  counts: number[];
  sum: number;
  count: number;
}

export const histogram = (bounds: number[]): Histogram => ({ bounds: [...bounds], counts: new Array(bounds.length + 1).fill(0), sum: 0, count: 0 });

export function observe(h: Histogram, v: number): void {
  if (!Number.isFinite(v)) return;
  let i = 0;
  while (i < h.bounds.length && v > h.bounds[i]) i++;
  h.counts[i]++;
  h.sum += v;
  h.count++;
}

/** a + b (same bounds): counters of a replaced engine thread added to the new one's. */
export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  return { bounds: a.bounds, counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/** Bucket bounds, by what they measure. */
export const BOUNDS = {
  /** Rows (sequences) in one engine step. */
  batch: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  /** Distinct adapters in one engine step. */
  adapters: [0, 1, 2, 4, 8, 16, 32, 64],
  /** Time to first token, seconds. */
  ttft: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  /** Time per output token after the first, seconds. */
  tpot: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  /** Adapter load time, seconds. */
  load: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
};

type Labels = Record<string, string>;

/** Writes one metric family at a time: `# HELP`, `# TYPE`, then its samples. */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();

  private head(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    if (this.declared.has(name)) return;
    this.declared.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  counter(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.head(name, 'counter', help);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${num(v)}`);
    return this;
  }

  gauge(name: string, help: string, samples: Array<[Labels, number]>): this {
    this.head(name, 'gauge', help);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${num(v)}`);
    return this;
  }

  histogram(name: string, help: string, samples: Array<[Labels, Histogram]>): this {
    this.head(name, 'histogram', help);
    for (const [l, h] of samples) {
      let cum = 0;
      h.bounds.forEach((b, i) => {
        cum += h.counts[i];
        this.lines.push(`${name}_bucket${labels({ ...l, le: num(b) })} ${cum}`);
      });
      this.lines.push(`${name}_bucket${labels({ ...l, le: '+Inf' })} ${h.count}`, `${name}_sum${labels(l)} ${num(h.sum)}`, `${name}_count${labels(l)} ${h.count}`);
    }
    return this;
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
function labels(l: Labels): string {
  const ks = Object.keys(l);
  return ks.length ? `{${ks.map((k) => `${k}="${esc(l[k])}"`).join(',')}}` : '';
}

/** Every serving metric, labelled by base model, plus the process's memory. */
export function renderServingMetrics(stats: ServingStats, mem: NodeJS.MemoryUsage = process.memoryUsage()): string {
  const x = new Exposition();
  const per = <T>(f: (b: BaseStats) => T | null | undefined): Array<[Labels, T]> =>
    stats.bases.flatMap((b) => { const v = f(b); return v === null || v === undefined ? [] : [[{ base: b.base }, v] as [Labels, T]]; });
  x.gauge('openledger_serving_queue_depth', 'Requests waiting: being prepared, in the fair queue, or for KV room', per((b) => b.waiting));
  x.gauge('openledger_serving_running_sequences', 'Sequences in the running batch', per((b) => b.running));
  x.gauge('openledger_serving_queued_callers', 'Callers with requests in the fair queue', per((b) => b.queuedCallers));
  x.gauge('openledger_serving_engine_loaded', '1 when the base model engine is loaded, 0 otherwise', per((b) => (b.state === 'ready' ? 1 : 0)));
  x.counter('openledger_serving_steps_total', 'Engine forward steps', per((b) => b.steps));
  x.counter('openledger_serving_tokens_total', 'Tokens through engine steps (prefill + decode); rate() gives tokens/s', per((b) => b.tokens));
  x.counter('openledger_serving_generated_tokens_total', 'Tokens generated; rate() gives output tokens/s', per((b) => b.generatedTokens));
  x.counter('openledger_serving_mixed_adapter_steps_total', 'Steps that carried two or more different adapters', per((b) => b.mixedAdapterSteps));
  x.counter('openledger_serving_requests_total', 'Requests by outcome (stop, length, abort, failed, rejected)',
    stats.bases.flatMap((b) => (Object.keys(b.requests) as Array<keyof BaseStats['requests']>).map((k) => [{ base: b.base, outcome: k }, b.requests[k]] as [Labels, number])));
  x.histogram('openledger_serving_batch_size', 'Sequences per engine step', per((b) => b.batchSize));
  x.histogram('openledger_serving_adapters_per_step', 'Distinct adapters per engine step', per((b) => b.adaptersPerStep));
  x.histogram('openledger_serving_time_to_first_token_seconds', 'From admission to the first generated token', per((b) => b.ttft));
  x.histogram('openledger_serving_time_per_output_token_seconds', 'Per output token after the first', per((b) => b.tpot));
  x.counter('openledger_serving_adapter_cache_hits_total', 'Adapter requests served from the loaded set', per((b) => b.adapters?.hits));
  x.counter('openledger_serving_adapter_cache_misses_total', 'Adapter requests that started a load', per((b) => b.adapters?.loads));
  x.counter('openledger_serving_adapter_cache_evictions_total', 'Idle adapters unloaded to make room', per((b) => b.adapters?.evictions));
  x.counter('openledger_serving_adapter_load_failures_total', 'Adapter loads that failed (bad file, shapes that do not fit the base)', per((b) => b.adapters?.failures));
  x.gauge('openledger_serving_adapters_loaded', 'Adapters loaded now', per((b) => b.adapters?.loaded));
  x.gauge('openledger_serving_adapters', 'Adapters by lifecycle state (failed and evicted: the most recent remembered)',
    stats.bases.flatMap((b) => (b.adapters ? Object.entries(b.adapters.states).map(([state, n]) => [{ base: b.base, state }, n] as [Labels, number]) : [])));
  x.gauge('openledger_serving_adapter_memory_budget_bytes', 'Byte budget of the loaded adapters (serving.adapterMemoryMb)', per((b) => b.adapters?.budgetBytes));
  x.histogram('openledger_serving_adapter_load_seconds', 'Adapter load time (read, check, upload into the engine)', per((b) => b.adapters?.loadSeconds));
  x.gauge('openledger_serving_memory_bytes', 'Bytes per tier: adapters (host, loaded), kv (KV cache), engine_heap (the engine heap in all: weights, KV, scratch, adapters)',
    stats.bases.flatMap((b) => b.memory ? [
      [{ base: b.base, tier: 'adapters' }, b.memory.adapterBytes], [{ base: b.base, tier: 'kv' }, b.memory.kvBytes], [{ base: b.base, tier: 'engine_heap' }, b.memory.engineHeapBytes],
    ] as Array<[Labels, number]> : []));
  x.gauge('openledger_process_resident_memory_bytes', 'Resident set size of the node process', [[{}, mem.rss]]);
  x.gauge('openledger_process_heap_used_bytes', 'V8 heap used on the main thread', [[{}, mem.heapUsed]]);
  x.gauge('openledger_process_external_memory_bytes', 'Memory outside the V8 heap (array buffers, WebAssembly memories of the engine threads)', [[{}, mem.external + mem.arrayBuffers]]);
  return x.text();
}
