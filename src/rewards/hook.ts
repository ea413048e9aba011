/**
 * The serving request path's one call into rewards (`// payable hook` in
 * src/server/routes/inference.ts): admit before any engine work, then charge when the stream ends.
 */
import { createHash } from 'node:crypto';
import type { Address } from 'viem';
import type { NodeServices } from '../server/context.ts';
import { usageAdapters, type ModelServer, type ParsedRequest } from '../serving/index.ts';
import type { GenerateResult } from '../engine/index.ts';
import type { RewardsService } from './service.ts';
import { promptTokenBound } from './split.ts';

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
  // A dynamic merge (openlora): the record names every adapter and weight; the price is the sum of
  // theirs (ModelDirectory); owner and datanets are those of the heaviest adapter (first on a tie).
  const primary = resolved.merge ? resolved.merge.reduce((a, b) => (b.weight > a.weight ? b : a)).served : null;
  const served = primary ? { ...resolved, fineTunedName: primary.fineTunedName, owner: primary.owner } : resolved;
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
