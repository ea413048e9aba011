/**
 * Charging: a completion is admitted only if the caller's escrow can pay its worst case, and is
 * charged what it actually used when it ends.
 *
 *   admit (async part)  escrow spendable balance at the money tag (cached briefly), the model's
 *                       price and revenue parties (cached)
 *   admit (sync part)   ONE SQLite transaction: spendable = chain − open holds − unsettled charges;
 *                       hold ≤ spendable ? insert inference + hold entries : 402 insufficient_quota
 *   finish              ONE SQLite transaction: release the hold, charge fee(prompt, completion) ≤ hold
 *                       to the open epoch, split it (protocol / owner / validators / contributors' pool)
 *   cancel              release only (the request never reached the engine)
 *
 * Because the check and the hold are one synchronous transaction and the node is one process,
 * concurrent requests see each other's holds: a balance can never be promised twice.
 */
import { keccak256, toHex, type Address, type Hex } from 'viem';
import type { Chain } from '../chain/index.ts';
import { artifacts } from '../chain/index.ts';
import type { Db } from '../store/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import type { RewardsConfig } from './config.ts';
import { account, Ledger } from './ledger.ts';
import { fee, splitCharge, type Price, type SplitParties } from './split.ts';

export interface AdmitParams {
  /** The completion id the client gets back = the inference id. */
  id: string;
  caller: Address;
  apiKeyId: string | null;
  /** As the request named it. */
  model: string;
  base: string;
  fineTunedName: string | null;
  /** Every adapter applied and its weight (a dynamic merge names several); default: fineTunedName with weight 1. */
  adapters?: Array<{ model: string; weight: number }>;
  modelId: string | null;
  /** Registration price (OPEN wei per 1k tokens) of a fine-tuned model; null for a base model. */
  recordedPrice: { per1kInput: string; per1kOutput: string } | null;
  owner: string | null;
  maxTokens: number;
  promptBound: number;
}

export interface Usage { promptTokens: number; completionTokens: number; finishReason: string }

/** Where a model's price and revenue parties come from (the service wires chain + store lookups). */
export interface PartyResolver {
  price(p: AdmitParams): Price;
  parties(p: AdmitParams): Promise<SplitParties>;
}

export interface Spendable {
  /** InferenceEscrow.spendableBalance (balance − pending withdrawal) at `block`. */
  chain: bigint;
  /** What the payer's spend authorization still lets the settler debit (cap − spent, 0 when expired or none). */
  authorized: bigint;
  /** The authorization's scope: bytes32(0) = any model and key; else keccak256 of an API key id or a model name (enforced here). */
  scope: Hex;
  block: bigint;
  /** Open holds of requests still running. */
  held: bigint;
  /** Charges not yet settled on chain (as of `block`). */
  unsettled: bigint;
  /** What a new request may still be promised: min(chain, authorized) − held − unsettled (≥ 0). */
  available: bigint;
}

interface ChainFunds { spendable: bigint; authorized: bigint; scope: Hex; block: bigint }
interface CachedBalance extends ChainFunds { at: number }

export class Charging {
  private readonly ledger: Ledger;
  private readonly balances = new Map<string, CachedBalance>();
  private readonly inflight = new Map<string, Promise<CachedBalance>>();
  private readonly insInference;
  private readonly getInference;
  private readonly setCharged;
  private readonly setReleased;
  private readonly heldOf;

  constructor(private readonly deps: {
    db: Db; chain: Chain; config: RewardsConfig; resolver: PartyResolver; currentEpoch: () => number;
    /** Where escrow balances come from; default InferenceEscrow.spendableBalance at the money tag. */
    readBalance?: (payer: Address) => Promise<ChainFunds>;
  }) {
    const db = deps.db;
    this.ledger = new Ledger(db);
    this.insInference = db.prepare(`INSERT INTO inferences (id, model, base, adapters, model_id, caller, api_key_id, price_in, price_out, max_tokens, prompt_bound, hold_wei, status, split, created_at)
      VALUES (@id, @model, @base, @adapters, @model_id, @caller, @api_key_id, @price_in, @price_out, @max_tokens, @prompt_bound, @hold_wei, 'held', @split, @created_at)`);
    this.getInference = db.prepare('SELECT * FROM inferences WHERE id = ?');
    this.setCharged = db.prepare(`UPDATE inferences SET status = 'charged', prompt_tokens = ?, completion_tokens = ?, fee_wei = ?, finish_reason = ?, epoch = ?, finished_at = ? WHERE id = ? AND status = 'held'`);
    this.setReleased = db.prepare(`UPDATE inferences SET status = 'released', fee_wei = '0', finish_reason = ?, finished_at = ? WHERE id = ? AND status = 'held'`);
    this.heldOf = db.prepare(`SELECT id FROM inferences WHERE status = 'held' LIMIT 100000`);
  }

  /** Checks the caller can pay the worst case and holds it; 402 insufficient_quota otherwise. */
  async admit(p: AdmitParams): Promise<{ hold: bigint; price: Price }> {
    const price = this.deps.resolver.price(p);
    const hold = fee(price, p.promptBound, p.maxTokens);
    // A free call needs no split and no balance: nothing async before the engine.
    const parties = hold > 0n ? await this.deps.resolver.parties(p) : null;
    const asked = Date.now();
    let bal: CachedBalance = hold > 0n ? await this.chainBalance(p.caller) : { spendable: 0n, authorized: 0n, scope: ZERO32, block: 0n, at: 0 };
    // A refusal on a balance read before this request is checked again on a fresh read (the caller may just have deposited).
    if (hold > 0n && bal.at < asked && hold > this.spendableNow(p.caller, bal).available) {
      this.balances.delete(p.caller.toLowerCase());
      bal = await this.chainBalance(p.caller);
    }
    this.deps.db.transaction(() => {
      if (hold > 0n) {
        const s = this.spendableNow(p.caller, bal);
        if (hold > s.available) throw insufficient(p, hold, s, price);
        if (!inScope(bal.scope, p)) throw outOfScope(p, bal.scope);
      }
      this.insInference.run({
        id: p.id, model: p.model, base: p.base, adapters: JSON.stringify(p.adapters ?? (p.fineTunedName ? [{ model: p.fineTunedName, weight: 1 }] : [])),
        model_id: p.modelId, caller: p.caller, api_key_id: p.apiKeyId, price_in: price.per1kInput.toString(), price_out: price.per1kOutput.toString(),
        max_tokens: p.maxTokens, prompt_bound: p.promptBound, hold_wei: hold.toString(), split: JSON.stringify(parties), created_at: Date.now(),
      });
      this.ledger.post({ kind: 'hold', inferenceId: p.id, entries: [
        { account: account.payer(p.caller), party: p.caller, role: 'payer', amount: -hold },
        { account: account.hold(p.caller), party: p.caller, role: 'hold', amount: hold },
      ] });
    })();
    return { hold, price };
  }

  /** The request ended (cancelled ones too): release the hold, charge what was used, split it. Idempotent. */
  finish(id: string, u: Usage): bigint {
    return this.deps.db.transaction(() => {
      const row = this.getInference.get(id) as any;
      if (!row || row.status !== 'held') return 0n;
      const price: Price = { per1kInput: BigInt(row.price_in), per1kOutput: BigInt(row.price_out) };
      const hold = BigInt(row.hold_wei);
      let f = fee(price, u.promptTokens, u.completionTokens);
      if (f > hold) f = hold; // cannot happen (both token counts are bounded by the hold's); never charge past consent
      const epoch = this.deps.currentEpoch();
      if (f > 0n) {
        // release the hold and charge the fee in one transaction (payer:<a> nets +H − F)
        const parties = JSON.parse(row.split) as SplitParties;
        this.ledger.post({ kind: 'charge', inferenceId: id, epoch, entries: [
          { account: account.hold(row.caller), party: row.caller, role: 'hold', amount: -hold },
          { account: account.payer(row.caller), party: row.caller, role: 'payer', amount: hold - f, modelId: row.model_id },
          ...splitCharge(f, id, parties),
        ] });
      } else this.release(row);
      this.setCharged.run(u.promptTokens, u.completionTokens, f.toString(), u.finishReason, epoch, Date.now(), id);
      return f;
    })();
  }

  /** The request failed before generating anything: release the hold, charge nothing. Idempotent. */
  cancel(id: string, reason = 'error'): void {
    this.deps.db.transaction(() => {
      const row = this.getInference.get(id) as any;
      if (!row || row.status !== 'held') return;
      this.release(row);
      this.setReleased.run(reason, Date.now(), id);
    })();
  }

  /** Holds left by a node that was killed mid-request: nothing reached the client's bill, release them. */
  releaseStale(): number {
    const ids = (this.heldOf.all() as Array<{ id: string }>).map((r) => r.id);
    for (const id of ids) this.cancel(id, 'interrupted');
    return ids.length;
  }

  async spendable(payer: Address, opts: { fresh?: boolean } = {}): Promise<Spendable> {
    if (opts.fresh) this.balances.delete(payer.toLowerCase());
    return this.spendableNow(payer, await this.chainBalance(payer));
  }

  /** Settlement moved money: the cached chain balances of these payers are stale. */
  invalidate(payers?: string[]): void {
    if (!payers) this.balances.clear();
    else for (const a of payers) this.balances.delete(a.toLowerCase());
  }

  private spendableNow(payer: string, bal: ChainFunds): Spendable {
    const held = this.ledger.balance(account.hold(payer));
    // payer:<a> = −(held + unsettled); settlements mined after the balance read are not in `bal` yet.
    const owed = -this.ledger.balance(account.payer(payer)) + this.ledger.settledAfter(account.payer(payer), bal.block);
    const unsettled = owed - held;
    // Settlement can only take what the escrow holds AND what the payer authorized: promise no more than both.
    const limit = bal.spendable < bal.authorized ? bal.spendable : bal.authorized;
    const available = limit - held - unsettled;
    return { chain: bal.spendable, authorized: bal.authorized, scope: bal.scope, block: bal.block, held, unsettled, available: available > 0n ? available : 0n };
  }

  private release(row: any): void {
    const hold = BigInt(row.hold_wei);
    this.ledger.post({ kind: 'release', inferenceId: row.id, entries: [
      { account: account.hold(row.caller), party: row.caller, role: 'hold', amount: -hold },
      { account: account.payer(row.caller), party: row.caller, role: 'payer', amount: hold },
    ] });
  }

  private async chainBalance(payer: Address): Promise<CachedBalance> {
    const key = payer.toLowerCase();
    const c = this.balances.get(key);
    if (c && Date.now() - c.at <= this.deps.config.balanceCacheMs) return c;
    let p = this.inflight.get(key);
    if (!p) {
      p = (this.deps.readBalance ?? ((a: Address) => readSpendable(this.deps.chain, a)))(payer).then((r) => {
        const v = { ...r, at: Date.now() };
        this.balances.set(key, v);
        return v;
      }).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }
}

/** InferenceEscrow.spendableBalance and the payer's spend authorization, at the money tag, with the block they were read at. */
export async function readSpendable(chain: Chain, payer: Address): Promise<ChainFunds> {
  const block = chain.moneyReadTag === 'finalized'
    ? (await chain.publicClient.getBlock({ blockTag: 'finalized' })).number!
    : await chain.publicClient.getBlockNumber({ cacheTime: 0 });
  const read = <T>(functionName: string) => chain.publicClient.readContract({
    address: chain.addresses.contracts.InferenceEscrow, abi: artifacts.InferenceEscrow.abi, functionName, args: [payer], blockNumber: block,
  } as never) as Promise<T>;
  const [spendable, authorized, auth] = await Promise.all([read<bigint>('spendableBalance'), read<bigint>('authorizedRemaining'), read<readonly [Hex, bigint, bigint, bigint, bigint]>('spendAuthorization')]);
  return { spendable, authorized, scope: auth[0], block };
}

const ZERO32 = `0x${'00'.repeat(32)}` as Hex;
const scopeOf = (s: string) => keccak256(toHex(s));

/** bytes32(0) = anything; else the scope names this request's API key id, its model as named, or its fine-tuned / on-chain name. */
function inScope(scope: Hex, p: AdmitParams): boolean {
  if (/^0x0{64}$/.test(scope)) return true;
  const names = [p.apiKeyId, p.model, p.fineTunedName, p.modelId ? `model:${p.modelId}` : null].filter((x): x is string => !!x);
  return names.some((n) => scopeOf(n) === scope.toLowerCase());
}

function outOfScope(p: AdmitParams, scope: Hex): OpenLedgerError {
  return new OpenLedgerError(`${p.caller}'s spend authorization is scoped (${scope}) to another API key or model than this request (${p.model}${p.apiKeyId ? `, key ${p.apiKeyId}` : ''})`, {
    type: 'insufficient_quota', code: 'spend_authorization_scope', param: 'model',
    hint: 'call with the API key or model the authorization names, or authorize again for any model (`openledger escrow authorize <OPEN>`)',
  });
}

const open = (wei: bigint) => {
  const s = wei.toString().padStart(19, '0');
  const frac = s.slice(-18).replace(/0+$/, '');
  return `${s.slice(0, -18)}${frac ? '.' + frac : ''} OPEN`;
};

function insufficient(p: AdmitParams, hold: bigint, s: Spendable, price: Price): OpenLedgerError {
  const byAuth = s.authorized < s.chain;
  const what = byAuth
    ? `spend authorization lets the node charge ${s.authorized} wei (${open(s.authorized)}) of an escrow balance of ${s.chain} wei`
    : `escrow balance ${s.chain} wei (${open(s.chain)})`;
  return new OpenLedgerError(
    `insufficient quota: ${p.caller} can spend ${s.available} wei (${open(s.available)}; ${what}, ${s.held} held by running requests, ${s.unsettled} charged and not yet settled), ` +
    `this request needs up to ${hold} wei (${open(hold)}) = ${p.promptBound} prompt tokens × ${price.per1kInput} + ${p.maxTokens} max_tokens × ${price.per1kOutput} wei per 1k tokens`,
    {
      type: 'insufficient_quota', code: 'insufficient_quota', param: 'max_tokens',
      hint: byAuth
        ? `authorize the node to charge more (\`openledger escrow authorize <OPEN>\`, or sign a SpendAuthorization and POST /v1/escrow/authorizations), or lower max_tokens`
        : `deposit at least ${hold - s.available} wei more into InferenceEscrow (\`openledger escrow deposit <OPEN>\`), or lower max_tokens`,
      details: { balance: s.chain.toString(), authorized: s.authorized.toString(), available: s.available.toString(), held: s.held.toString(), unsettled: s.unsettled.toString(), needed: hold.toString() },
    },
  );
}
