/**
 * Adapters built in memory from f32 factors keyed by canonical weight name — for training
 * (issue 4: the trainer owns A and B and hands them to the engine for evaluation and serving)
 * and for tests. The same target resolution and checks as the file loaders.
 */
import type { LoadedModel } from '../model/load.ts';
import type { LoraAdapter, LoraPair } from './adapter.ts';
import { ggufTarget } from './targets.ts';
import { buildPairs } from './build.ts';

export interface LoraFactors {
  /** (R, K) row-major. */
  a: Float32Array;
  /** (N, R) row-major. */
  b: Float32Array;
  rank: number;
  alpha: number;
  rsLora?: boolean;
}

export function createAdapter(base: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, factors: Record<string, LoraFactors>, opts: { name?: string; scale?: number } = {}): Omit<LoraAdapter, 'id'> {
  const modules = new Map<string, LoraPair>();
  const views: ArrayBufferView[] = [];
  let bytes = 0, rank = 0, alpha = 0;
  for (const [name, f] of Object.entries(factors)) {
    const target = ggufTarget(base.config, base.tensors, name, 'memory', f.b.length / f.rank);
    const scale = (f.rsLora ? f.alpha / Math.sqrt(f.rank) : f.alpha / f.rank) * (opts.scale ?? 1);
    const built = buildPairs(base.heap, base.tensors, target, f.a, f.b, f.rank, scale, 'memory', name);
    for (const [n, p] of built.pairs) modules.set(n, p);
    views.push(...built.views);
    bytes += built.bytes;
    rank = Math.max(rank, f.rank);
    alpha = f.alpha;
  }
  return { name: opts.name ?? 'memory', source: { format: 'memory', path: null }, rank, alpha, modules, bytes, heapViews: views };
}
