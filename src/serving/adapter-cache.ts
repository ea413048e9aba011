/**
 * The adapters loaded into one base model's engine (the host-memory tier), by file path, under a
 * count bound (`maxAdapters`) and a byte budget (`adapterMemoryMb`), least recently used first out.
 *
 * Lifecycle of an adapter (one owner: this class; the latest state of each, bounded, in stats):
 *
 *   loading ──▶ ready ──▶ evicted (idle, LRU: unloaded from the engine, heap freed; a later request loads it again)
 *      └──────▶ failed  (the error goes to every waiter; nothing stays loaded; the next request retries)
 *
 * A request leases its adapter for as long as its sequence runs (`acquire` → `release`); an
 * adapter with leases is never evicted, because the BatchGenerator fails a running request whose
 * adapter was unloaded. An adapter's size is known once it is read: after each load, idle
 * adapters are evicted (LRU) until the loaded bytes fit the budget again. When leased adapters
 * alone leave no room, the new one is refused with a 429 (retry when requests end) — or a 422
 * when it is larger than the whole budget — rather than overflowing it: the bounds are what keep
 * the engine heap predictable.
 */
import type { Engine, LoraAdapter } from '../engine/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { BOUNDS, histogram, observe, type Histogram } from './metrics.ts';

export type AdapterState = 'loading' | 'ready' | 'failed' | 'evicted';

interface Entry {
  path: string;
  /** The model name it serves under (shown in stats; never the path). */
  model: string;
  state: 'loading' | 'ready';
  loaded: Promise<LoraAdapter>;
  adapter: LoraAdapter | null;
  leases: number;
  lastUsed: number;
  loadMs: number | null;
}

export interface AdapterLease {
  readonly adapter: LoraAdapter;
  /** Idempotent. */
  release(): void;
}

/** One adapter's latest state (stats list the most recent, bounded). */
export interface AdapterStatus {
  model: string;
  state: AdapterState;
  bytes: number;
  leases: number;
  loadMs: number | null;
  /** Why it failed (failed only). */
  error?: string;
}

export interface AdapterCacheStats {
  loaded: number;
  capacity: number;
  /** The byte budget of the loaded adapters (null: none, only the count bound). */
  budgetBytes: number | null;
  hits: number;
  /** Misses: loads started (failed ones included). */
  loads: number;
  /** Loads that failed (bad file, shapes that do not fit the base, no room). */
  failures: number;
  evictions: number;
  bytes: number;
  /** Seconds per successful load (read + check + upload into the engine). */
  loadSeconds: Histogram;
  /** Adapters by state now (failed / evicted: those remembered, the most recent HISTORY). */
  states: Record<AdapterState, number>;
  /** Latest state of the most recently used adapters, newest first (at most LISTED). */
  adapters: AdapterStatus[];
}

/** Failed and evicted adapters remembered for stats; adapters listed in stats. */
const HISTORY = 256;
const LISTED = 64;

export class AdapterCache {
  private readonly entries = new Map<string, Entry>();
  /** Failed / evicted adapters by path, oldest first (bounded by HISTORY). */
  private readonly gone = new Map<string, AdapterStatus>();
  private tick = 0;
  private hits = 0;
  private loads = 0;
  private evictions = 0;
  private failures = 0;
  private readonly loadSeconds = histogram(BOUNDS.load);

  constructor(private readonly engine: Engine, readonly capacity: number, readonly budgetBytes: number | null = null) {}

  /** The adapter at `path` (served as `model`), loaded (checked strictly against the base) on first use. */
  async acquire(path: string, model = 'adapter'): Promise<AdapterLease> {
    let e = this.entries.get(path);
    if (e) this.hits++;
    else {
      this.makeRoom();
      e = { path, model, state: 'loading', loaded: null as unknown as Promise<LoraAdapter>, adapter: null, leases: 0, lastUsed: 0, loadMs: null };
      const entry = e;
      this.loads++;
      this.gone.delete(path);
      const t0 = performance.now();
      entry.loaded = Promise.resolve().then(() => this.engine.loadAdapter(path)).then(
        (a) => {
          entry.adapter = a;
          this.fitBudget(entry); // throws (and unloads it) when it cannot fit
          entry.state = 'ready';
          entry.loadMs = performance.now() - t0;
          observe(this.loadSeconds, entry.loadMs / 1000);
          return a;
        },
      ).catch((err: unknown) => {
        this.entries.delete(path);
        this.failures++;
        this.remember(path, { model, state: 'failed', bytes: 0, leases: 0, loadMs: null, error: err instanceof Error ? err.message.slice(0, 200) : String(err) });
        throw err;
      });
      this.entries.set(path, entry);
    }
    e.leases++; // counted while loading too, so a concurrent makeRoom cannot pick it
    e.lastUsed = ++this.tick;
    let adapter: LoraAdapter;
    try {
      adapter = await e.loaded;
    } catch (err) {
      e.leases--;
      throw err;
    }
    let released = false;
    const entry = e;
    return {
      adapter,
      release: () => {
        if (released) return;
        released = true;
        entry.leases--;
        entry.lastUsed = ++this.tick;
      },
    };
  }

  stats(): AdapterCacheStats {
    let bytes = 0;
    const states: Record<AdapterState, number> = { loading: 0, ready: 0, failed: 0, evicted: 0 };
    for (const e of this.entries.values()) {
      bytes += e.adapter?.bytes ?? 0;
      states[e.state]++;
    }
    for (const g of this.gone.values()) states[g.state]++;
    const live = [...this.entries.values()].sort((a, b) => b.lastUsed - a.lastUsed).slice(0, LISTED)
      .map((e): AdapterStatus => ({ model: e.model, state: e.state, bytes: e.adapter?.bytes ?? 0, leases: e.leases, loadMs: e.loadMs === null ? null : Math.round(e.loadMs * 10) / 10 }));
    const recent = [...this.gone.values()].reverse().slice(0, Math.max(0, LISTED - live.length));
    return {
      loaded: this.entries.size, capacity: this.capacity, budgetBytes: this.budgetBytes, hits: this.hits, loads: this.loads, failures: this.failures,
      evictions: this.evictions, bytes, loadSeconds: this.loadSeconds, states, adapters: [...live, ...recent],
    };
  }

  /** Paths of the adapters held now (least recently used first). */
  paths(): string[] {
    return [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((e) => e.path);
  }

  /** Evict least recently used idle adapters until one more fits the count bound. */
  private makeRoom(): void {
    while (this.entries.size >= this.capacity) {
      if (!this.evictOne(null)) {
        throw new OpenLedgerError(`all ${this.capacity} adapter slots of this base model are in use by running requests`, {
          type: 'rate_limit_error', param: 'model', code: 'adapter_cache_full',
          hint: 'retry when running requests finish; the node operator can raise the serving maxAdapters bound',
          details: { retryAfterSeconds: 1 },
        });
      }
    }
  }

  /** After `entry` loaded: evict idle adapters (LRU, never `entry`) until the loaded bytes fit the budget. */
  private fitBudget(entry: Entry): void {
    const budget = this.budgetBytes;
    if (budget === null) return;
    const size = entry.adapter!.bytes;
    const total = () => { let n = 0; for (const e of this.entries.values()) n += e.adapter?.bytes ?? 0; return n; };
    if (size > budget) {
      this.engine.unloadAdapter(entry.adapter!);
      throw new OpenLedgerError(`the adapter of ${entry.model} needs ${mb(size)} of memory; this node's adapter budget per base model is ${mb(budget)}`, {
        type: 'model_error', param: 'model', code: 'adapter_too_large',
        hint: 'the node operator can raise serving.adapterMemoryMb', details: { bytes: size, budgetBytes: budget },
      });
    }
    while (total() > budget) {
      if (!this.evictOne(entry)) {
        this.engine.unloadAdapter(entry.adapter!);
        throw new OpenLedgerError(`adapter memory of this base model is full (${mb(total() - size)} of ${mb(budget)} held by running requests); ${entry.model} needs ${mb(size)}`, {
          type: 'rate_limit_error', param: 'model', code: 'adapter_memory_full',
          hint: 'retry when running requests finish; the node operator can raise serving.adapterMemoryMb', details: { retryAfterSeconds: 1 },
        });
      }
    }
  }

  /** Unload the least recently used idle ready adapter (not `keep`); false when there is none. */
  private evictOne(keep: Entry | null): boolean {
    let victim: Entry | null = null;
    for (const e of this.entries.values()) {
      if (e !== keep && e.state === 'ready' && e.leases === 0 && (!victim || e.lastUsed < victim.lastUsed)) victim = e;
    }
    if (!victim) return false;
    this.engine.unloadAdapter(victim.adapter!);
    this.entries.delete(victim.path);
    this.evictions++;
    this.remember(victim.path, { model: victim.model, state: 'evicted', bytes: victim.adapter!.bytes, leases: 0, loadMs: victim.loadMs });
    return true;
  }

  private remember(path: string, s: AdapterStatus): void {
    this.gone.delete(path);
    this.gone.set(path, s);
    if (this.gone.size > HISTORY) this.gone.delete(this.gone.keys().next().value!);
  }
}

const mb = (n: number) => `${(n / 1048576).toFixed(2)} MiB`;
