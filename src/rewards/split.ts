/**
 * Fees: what a request may cost (the hold), what it did cost (the charge), and how a charge is
 * split. Pure integer arithmetic on wei; every split sums exactly to the fee.
 *
 *   fee(p, c)  = ⌈(p · in + c · out) / 1000⌉          in, out = OPEN wei per 1k tokens
 *   hold       = fee(promptBound, max_tokens)           ≥ fee(prompt, completion) since both counts are bounds
 *
 *   split(F): protocol ⌊F·s_p⌋, owner ⌊F·s_o⌋, validators ⌊F·s_v⌋ (by stake), contributors ⌊F·s_c⌋ (pool),
 *             the rounding remainder to the protocol. A part without anyone to take it falls through:
 *             validators → contributors (no staked validator), contributors → owner (no datanet rows),
 *             owner → protocol (base models).
 */
import type { Shares } from './config.ts';
import type { Entry } from './ledger.ts';
import { account } from './ledger.ts';

export interface Price { per1kInput: bigint; per1kOutput: bigint }

export const fee = (price: Price, promptTokens: number, completionTokens: number): bigint =>
  ceilDiv(BigInt(promptTokens) * price.per1kInput + BigInt(completionTokens) * price.per1kOutput, 1000n);

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/**
 * Upper bound of a request's prompt tokens before it is tokenized: token ids count exactly; text
 * is at most one token per UTF-8 byte (byte-level BPE and SentencePiece with byte fallback never
 * emit an empty token), plus the chat template's markers per message.
 */
export function promptTokenBound(gen: { prompt?: string | readonly number[]; messages?: readonly { content: unknown }[] }): number {
  const PER_MESSAGE = 16, FIXED = 16;
  if (Array.isArray(gen.prompt)) return gen.prompt.length;
  if (typeof gen.prompt === 'string') return Buffer.byteLength(gen.prompt, 'utf8') + FIXED;
  let n = FIXED;
  for (const m of gen.messages ?? []) n += PER_MESSAGE + Buffer.byteLength(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''), 'utf8');
  return n;
}

/** Who takes part in a model's revenue; fixed when the request is admitted, stored with the inference. */
export interface SplitParties {
  shares: Shares;
  /** The protocol's treasury. */
  protocol: string;
  /** The model owner (null for base models). */
  owner: string | null;
  /** Staked validators of the model's datanets, weight = stake (wei, decimal). */
  validators: Array<{ address: string; stake: string; datanetId: number }>;
  /** The model was trained on datanet rows (its contributors' share waits in a pool for attribution). */
  hasContributors: boolean;
  modelId: string | null;
}

/** The charge transaction's credit side (the debit is payer:<a> −F): sums exactly to `f`. */
export function splitCharge(f: bigint, inferenceId: string, p: SplitParties): Entry[] {
  const part = (ppm: number) => (f * BigInt(ppm)) / 1_000_000n;
  let protocol = part(p.shares.protocol), owner = part(p.shares.owner), validators = part(p.shares.validators), contributors = part(p.shares.contributors);
  const staked = p.validators.filter((v) => BigInt(v.stake) > 0n);
  if (!staked.length) (contributors += validators), (validators = 0n);
  if (!p.hasContributors) (owner += contributors), (contributors = 0n);
  if (!p.owner) (protocol += owner), (owner = 0n);
  protocol += f - (protocol + owner + validators + contributors); // rounding remainder
  const out: Entry[] = [{ account: account.earn(p.protocol), party: p.protocol, role: 'protocol', amount: protocol, modelId: p.modelId }];
  if (owner > 0n) out.push({ account: account.earn(p.owner!), party: p.owner, role: 'owner', amount: owner, modelId: p.modelId });
  if (validators > 0n) {
    for (const v of byWeight(validators, staked.map((x) => ({ key: x, weight: BigInt(x.stake) })))) {
      out.push({ account: account.earn(v.key.address), party: v.key.address, role: 'validator', amount: v.amount, datanetId: v.key.datanetId, modelId: p.modelId });
    }
  }
  if (contributors > 0n) out.push({ account: account.pool(inferenceId), party: null, role: 'pool', amount: contributors, modelId: p.modelId });
  return out;
}

/**
 * Splits `total` by integer weights: ⌊total·w_i / Σw⌋ each, the remainder (< number of parts)
 * one wei at a time to the largest weights first (ties: input order). Σ = total exactly.
 */
export function byWeight<K>(total: bigint, parts: Array<{ key: K; weight: bigint }>): Array<{ key: K; amount: bigint }> {
  const live = parts.filter((p) => p.weight > 0n);
  if (!live.length || total === 0n) return [];
  const sum = live.reduce((s, p) => s + p.weight, 0n);
  const out = live.map((p) => ({ key: p.key, amount: (total * p.weight) / sum, weight: p.weight }));
  let rest = total - out.reduce((s, o) => s + o.amount, 0n);
  const order = out.map((_, i) => i).sort((a, b) => (out[b].weight > out[a].weight ? 1 : out[b].weight < out[a].weight ? -1 : a - b));
  for (let i = 0; rest > 0n; i = (i + 1) % order.length, rest--) out[order[i]].amount += 1n;
  return out.filter((o) => o.amount > 0n).map(({ key, amount }) => ({ key, amount }));
}
