/**
 * The serving request path's one call into rewards (`// payable hook` in
 * src/server/routes/inference.ts): admit before any engine work, then charge when the stream ends.
 */
import { createHash } from 'node:crypto';
import type { Address } from 'viem';
import type { NodeServices } from '../server/context.ts';
import { usageAdapters, type ModelServer, type ParsedRequest, type ServedModel } from '../serving/index.ts';
import { invalid } from '../util/errors.ts';
import type { GenerateResult } from '../engine/index.ts';
import type { RewardsService } from './service.ts';
import { promptTokenBound } from './split.ts';

/**
 * A dynamic merge (openlora) is charged the sum of its adapters' current prices (each applied
 * adapter is paid in full, whatever its weight). Until the split divides one inference's owner
 * share among several owners, the owner share and the datanet fallback go to the one owner whose
 * adapters carry a price (or, when none does, to the heaviest adapter's), and a merge of priced
 * adapters of different owners is refused — otherwise a caller could route another owner's fee
 * to an adapter of their own by merging it in.
 */
function mergeCharge(rewards: RewardsService, m: ServedModel): ServedModel {
  const parts = m.merge!.map((x) => ({ x, price: rewards.price({ modelId: x.served.modelId, recordedPrice: x.served.price }) }));
  const paid = parts.filter((q) => q.price.per1kInput > 0n || q.price.per1kOutput > 0n);
  const owners = [...new Set(paid.map((q) => (q.x.served.owner ?? '').toLowerCase()))];
  if (owners.length > 1) {
    throw invalid(`priced adapters of different owners cannot be merged yet: ${paid.map((q) => `${q.x.served.id} (owner ${q.x.served.owner})`).join(', ')}`, {
      param: 'model', code: 'merge_mixed_owners', hint: 'merge adapters of one owner, or priced adapters with free ones',
    });
  }
  const primary = (paid[0] ?? parts.reduce((a, b) => (b.x.weight > a.x.weight ? b : a))).x.served;
  const sum = (k: 'per1kInput' | 'per1kOutput') => parts.reduce((s, q) => s + q.price[k], 0n).toString();
  return { ...m, fineTunedName: primary.fineTunedName, owner: primary.owner, modelId: null, price: { per1kInput: sum('per1kInput'), per1kOutput: sum('per1kOutput') } };
}

export interface ChargeTicket {
  /** The stream's result: charge what was generated (cancelled requests included). */
  settle(result: Promise<Pick<GenerateResult, 'promptTokens' | 'completionTokens' | 'finishReason'>>): void;
  /** The request never reached the engine: release the hold. */
  cancel(): void;
}

const FREE: ChargeTicket = { settle() {}, cancel() {} };

/** 402 insufficient_quota when the caller's escrow cannot pay the request's worst case; else the hold's ticket. */
export async function admitCompletion(s: NodeServices, server: ModelServer, p: { id: string; caller: Address; request: ParsedRequest; authorization?: string }): Promise<ChargeTicket> {
  const rewards = s.modules.rewards as RewardsService | undefined;
  if (!rewards) return FREE;
  const resolved = server.directory.resolve(p.request.model, p.caller);
  const served = resolved.merge ? mergeCharge(rewards, resolved) : resolved;
  const bearer = /^Bearer\s+(olk_\S+)$/i.exec(p.authorization ?? '')?.[1];
  const apiKeyId = bearer ? s.store.identity.apiKeyByHash(createHash('sha256').update(bearer).digest('hex'))?.id ?? null : null;
  await rewards.charging.admit({
    id: p.id, caller: p.caller, apiKeyId, model: p.request.model, base: served.base.name, fineTunedName: served.fineTunedName, adapters: usageAdapters(resolved), modelId: served.modelId,
    recordedPrice: served.price, owner: served.owner, // n choices share one prompt and each may generate up to max_tokens.
    maxTokens: (p.request.generate.maxTokens ?? server.config.defaultMaxTokens) * p.request.n,
    promptBound: promptTokenBound(p.request.generate as never),
  });
  return {
    settle(result) {
      result.then(
        (r) => rewards.charging.finish(p.id, r),
        () => rewards.charging.cancel(p.id, 'error'),
      ).catch((e) => console.error(`rewards: charging ${p.id} failed: ${(e as Error).message}`));
    },
    cancel() {
      rewards.charging.cancel(p.id, 'error');
    },
  };
}
