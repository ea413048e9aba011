/**
 * Proof of Attribution (issue 12): every answer traced to the rows and contributors behind it.
 * See README.md for the formulas, the flow and the measured quality.
 *
 *   enqueueAttribution({ inferenceId, model, base, adapters, caller, prompt, completion })   the serving hook
 *   createWeightSource(db)        the rewards module's WeightSource (contributor ppm per inference)
 *   AttributionQueue              persisted queue + worker thread      Attributor: one inference → record
 */
import type { Db } from '../store/index.ts';
import { AttributionRepo } from './repo.ts';
import type { AttributionQueue, EnqueueInput } from './queue.ts';

export { AttributionQueue, type EnqueueInput, type QueueOptions } from './queue.ts';
export { Attributor, METHOD_VERSION, type AttributionRecord, type AttributionOutcome } from './attribute.ts';
export { AttributionRepo } from './repo.ts';
export { parseAttributionConfig, DEFAULT_WEIGHTING, type AttributionConfig } from './config.ts';
export { reputation, type Reputation } from './reputation.ts';
export { FeatureRecorder, featureSteps } from './train-hook.ts';
export { contributorWeights, type RowEvidence } from './weights.ts';
export { METHODS, type Method } from './scorers.ts';

/** The interface agreed with the rewards module (payable): integer ppm summing to 1_000_000, or null = not attributed yet. */
export interface WeightSource {
  contributorWeights(inferenceId: string): Promise<{ address: `0x${string}`; weightPpm: number }[] | null>;
}

export function createWeightSource(db: Db): WeightSource {
  const repo = new AttributionRepo(db);
  return {
    async contributorWeights(inferenceId: string) {
      const w = repo.weights(inferenceId);
      if (!w) return null;
      const sum = w.reduce((s, x) => s + x.weightPpm, 0);
      return sum === 1_000_000 ? w : null; // never hand out a split that does not add up
    },
  };
}

let current: AttributionQueue | null = null;

/** The running node's queue (set by the attribution routes when the node starts). */
export function setAttributionQueue(q: AttributionQueue | null): void {
  current = q;
}

/** The attribution hook: call when a completion ends. Never throws; returns whether it was queued. */
export function enqueueAttribution(input: EnqueueInput): { queued: boolean; reason?: string } {
  if (!current) return { queued: false, reason: 'attribution is not running on this node' };
  return current.enqueue(input);
}
