/**
 * The adapters loaded into one base model's engine, by file path, with a bound (LRU).
 *
 * Lifecycle of an entry (one owner: this class):
 *
 *   loading ──▶ ready ──▶ evicted
 *      └──────▶ (failed: the entry is dropped, the error goes to every waiter; a later request retries)
 *
 * A request leases its adapter for as long as its sequence runs (`acquire` → `release`); an
 * adapter with leases is never evicted, because the BatchGenerator fails a running request whose
 * adapter was unloaded. When the cache is full of leased adapters a new one is refused with a
 * 429 rather than overflowing the bound: the bound is what keeps the engine heap predictable.
 */
import type { Engine, LoraAdapter } from '../engine/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { BOUNDS, histogram, observe, type Histogram } from './metrics.ts';

interface Entry {
  path: string;
  state: 'loading' | 'ready';
  loaded: Promise<LoraAdapter>;
  adapter: LoraAdapter | null;
  leases: number;
  lastUsed: number;
}

export interface AdapterLease {
  readonly adapter: LoraAdapter;
  /** Idempotent. */
  release(): void;
}

export interface AdapterCacheStats {
  loaded: number;
  capacity: number;
  hits: number;
  /** Misses: loads started (failed ones included). */
  loads: number;
  /** Loads that failed (bad file, shapes that do not fit the base). */
  failures: number;
  evictions: number;
  bytes: number;
  /** Seconds per successful load (read + check + upload into the engine). */
  loadSeconds: Histogram;
}

export class AdapterCache {
  private readonly entries = new Map<string, Entry>();
  private tick = 0;
  private hits = 0;
  private loads = 0;
  private evictions = 0;
  private failures = 0;
  private readonly loadSeconds = histogram(BOUNDS.load);

  constructor(private readonly engine: Engine, readonly capacity: number) {}

  /** The adapter at `path`, loaded (checked strictly against the base) on first use. */
  async acquire(path: string): Promise<AdapterLease> {
    let e = this.entries.get(path);
    if (e) this.hits++;
    else {
      this.makeRoom();
      e = { path, state: 'loading', loaded: null as unknown as Promise<LoraAdapter>, adapter: null, leases: 0, lastUsed: 0 };
      const entry = e;
      this.loads++;
      const t0 = performance.now();
      entry.loaded = Promise.resolve().then(() => this.engine.loadAdapter(path)).then(
        (a) => { entry.adapter = a; entry.state = 'ready'; observe(this.loadSeconds, (performance.now() - t0) / 1000); return a; },
        (err) => { this.entries.delete(path); this.failures++; throw err; },
      );
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
    for (const e of this.entries.values()) bytes += e.adapter?.bytes ?? 0;
    return { loaded: this.entries.size, capacity: this.capacity, hits: this.hits, loads: this.loads, failures: this.failures, evictions: this.evictions, bytes, loadSeconds: this.loadSeconds };
  }

  /** Paths of the adapters held now (least recently used first). */
  paths(): string[] {
    return [...this.entries.values()].sort((a, b) => a.lastUsed - b.lastUsed).map((e) => e.path);
  }

  /** Evict least recently used idle adapters until one more fits. */
  private makeRoom(): void {
    while (this.entries.size >= this.capacity) {
      let victim: Entry | null = null;
      for (const e of this.entries.values()) {
        if (e.state === 'ready' && e.leases === 0 && (!victim || e.lastUsed < victim.lastUsed)) victim = e;
      }
      if (!victim) {
        throw new OpenLedgerError(`all ${this.capacity} adapter slots of this base model are in use by running requests`, {
          type: 'rate_limit_error', param: 'model', code: 'adapter_cache_full',
          hint: 'retry when running requests finish; the node operator can raise the serving maxAdapters bound',
        });
      }
      this.engine.unloadAdapter(victim.adapter!);
      this.entries.delete(victim.path);
      this.evictions++;
    }
  }
}
