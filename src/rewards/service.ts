/**
 * The rewards service: charging, epochs, claims and the usage views over one store and chain.
 * The node keeps one in `services.modules.rewards` (see `rewardsModule`).
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, type Address, type Hex } from 'viem';
import { actions, artifacts, type Chain } from '../chain/index.ts';
import type { BlobStore } from '../da/index.ts';
import type { ChainIndexRepo, Db } from '../store/index.ts';
import { OpenLedgerError, notFound } from '../util/errors.ts';
import { Charging, type AdmitParams, type PartyResolver } from './charging.ts';
import { DEFAULT_SHARES, type RewardsConfig, type Shares } from './config.ts';
import { Epochs, roleAccount, type EpochRow } from './epochs.ts';
import { Ledger, joinWords } from './ledger.ts';
import type { Price, SplitParties } from './split.ts';
import { trainedOn, type WeightSource } from './weights.ts';

export interface RewardsDeps {
  db: Db;
  chainIndex: ChainIndexRepo;
  chain: Chain;
  blobs: BlobStore;
  config: RewardsConfig;
  log?: (line: string) => void;
}

export class RewardsService {
  readonly charging: Charging;
  readonly epochs: Epochs;
  readonly ledger: Ledger;
  private weightSource: WeightSource | null = null;
  private readonly partyCache = new Map<string, { at: number; parties: Promise<SplitParties> }>();

  constructor(private readonly d: RewardsDeps) {
    this.ledger = new Ledger(d.db);
    this.epochs = new Epochs({
      db: d.db, chain: d.chain, blobs: d.blobs, config: d.config, epochSeconds: () => this.epochSeconds(), treasury: () => this.treasury(),
      weights: () => this.weightSource, onSettled: (p) => this.charging.invalidate(p), log: d.log ?? (() => {}),
    });
    const resolver: PartyResolver = { price: (p) => this.price(p), parties: (p) => this.parties(p) };
    this.charging = new Charging({ db: d.db, chain: d.chain, config: d.config, resolver, currentEpoch: () => this.epochs.current() });
  }

  /** Opens the first epoch, releases holds a killed node left, starts the epoch loop. */
  async start(opts: { loop?: boolean } = {}): Promise<void> {
    await this.epochs.init();
    this.charging.releaseStale();
    if (opts.loop !== false) this.epochs.start();
  }

  stop(): Promise<void> {
    return this.epochs.stop();
  }

  /** The next epoch's length: the node config's when set, else RewardsDistributor.epochLength (governed through the timelock). */
  async epochSeconds(): Promise<number> {
    if (this.d.config.epochSeconds) return this.d.config.epochSeconds;
    try {
      const len = Number(await this.d.chain.publicClient.readContract({
        address: this.d.chain.addresses.contracts.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, functionName: 'epochLength', args: [],
      } as never) as bigint);
      if (len > 0) return len;
    } catch {
      /* a distributor without epochLength (older deployment) */
    }
    return this.d.chain.embedded ? 600 : 3600;
  }

  /** Attribution plugs its weights in here (src/attribution `createWeightSource`). */
  setWeightSource(w: WeightSource | null): void {
    this.weightSource = w;
  }

  treasury(): string {
    const book = this.d.chain.addresses as unknown as { treasury?: string };
    return getAddress(this.d.config.treasury ?? book.treasury ?? this.d.chain.operator.address);
  }

  /** The model's current price: its latest on-chain PriceUpdated, else the registration price; base models the node's price. */
  price(p: Pick<AdmitParams, 'modelId' | 'recordedPrice'>): Price {
    if (p.modelId) {
      const ev = this.d.chainIndex.events({ contract: 'ModelRegistry', event: 'PriceUpdated', args: { modelId: p.modelId }, desc: true, limit: 1 })[0];
      if (ev) return { per1kInput: BigInt(ev.args.pricePer1kInput as string), per1kOutput: BigInt(ev.args.pricePer1kOutput as string) };
    }
    if (p.recordedPrice) return { per1kInput: BigInt(p.recordedPrice.per1kInput), per1kOutput: BigInt(p.recordedPrice.per1kOutput) };
    return { per1kInput: BigInt(this.d.config.basePrice.per1kInput), per1kOutput: BigInt(this.d.config.basePrice.per1kOutput) };
  }

  /** Who shares a model's revenue (cached 30 s per model: validators' stakes are chain reads). */
  parties(p: Pick<AdmitParams, 'fineTunedName' | 'modelId' | 'owner' | 'base'>): Promise<SplitParties> {
    const key = p.fineTunedName ?? `base:${p.base}`;
    const c = this.partyCache.get(key);
    if (c && Date.now() - c.at < 30_000) return c.parties;
    const parties = this.loadParties(p);
    this.partyCache.set(key, { at: Date.now(), parties });
    parties.catch(() => this.partyCache.delete(key));
    return parties;
  }

  private async loadParties(p: Pick<AdmitParams, 'fineTunedName' | 'modelId' | 'owner'>): Promise<SplitParties> {
    let owner = p.owner;
    if (p.modelId) {
      const t = this.d.chainIndex.events({ contract: 'ModelRegistry', event: 'ModelOwnershipTransferred', args: { modelId: p.modelId }, desc: true, limit: 1 })[0];
      if (t) owner = t.args.newOwner as string;
    }
    const job = p.fineTunedName ? (this.d.db.prepare('SELECT job_id FROM factory_models WHERE name = ?').get(p.fineTunedName) as { job_id: string } | undefined)?.job_id : undefined;
    const versions = job ? trainedOn(this.d.db, job) : [];
    const datanets = [...new Set(versions.map((v) => v.datanetId))];
    const validators: SplitParties['validators'] = [];
    for (const id of datanets) {
      for (const v of this.validatorsOf(id)) {
        const stake = await actions.stakeOf(this.d.chain, { owner: v as Address });
        if (stake > 0n) validators.push({ address: v, stake: stake.toString(), datanetId: id });
      }
    }
    return { shares: await this.shares(), protocol: this.treasury(), owner: owner ? getAddress(owner) : null, validators, hasContributors: datanets.length > 0, modelId: p.modelId };
  }

  private sharesCache: { at: number; shares: Shares } | null = null;

  /** The fee split: the node config's when set, else RewardsDistributor.feeShares (basis points → ppm), cached 30 s. */
  async shares(): Promise<Shares> {
    if (this.d.config.shares) return this.d.config.shares;
    if (this.sharesCache && Date.now() - this.sharesCache.at < 30_000) return this.sharesCache.shares;
    let shares = DEFAULT_SHARES;
    try {
      const r = await this.d.chain.publicClient.readContract({
        address: this.d.chain.addresses.contracts.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, functionName: 'feeShares', args: [],
      } as never) as readonly [number, number, number, number] | { protocolBps: number; modelOwnerBps: number; validatorsBps: number; contributorsBps: number };
      const [p, o, v, c] = Array.isArray(r) ? r : [(r as any).protocolBps, (r as any).modelOwnerBps, (r as any).validatorsBps, (r as any).contributorsBps];
      if (Number(p) + Number(o) + Number(v) + Number(c) === 10_000) shares = { protocol: Number(p) * 100, owner: Number(o) * 100, validators: Number(v) * 100, contributors: Number(c) * 100 };
    } catch {
      /* a distributor without feeShares (older deployment): the defaults */
    }
    this.sharesCache = { at: Date.now(), shares };
    return shares;
  }

  /** A datanet's current validators, from the indexed ValidatorAdded / ValidatorRemoved events. */
  private validatorsOf(datanetId: number): string[] {
    const set = new Map<string, string>();
    const evs = this.d.chainIndex.events({ contract: 'DatanetRegistry', args: { datanetId: String(datanetId) }, limit: 10_000 });
    for (const e of evs) {
      const v = e.args.validator as string | undefined;
      if (!v) continue;
      if (e.event === 'ValidatorAdded') set.set(v.toLowerCase(), v);
      if (e.event === 'ValidatorRemoved') set.delete(v.toLowerCase());
    }
    return [...set.values()].slice(0, 64);
  }

  // ---- views ----

  inference(id: string) {
    const r = this.d.db.prepare('SELECT * FROM inferences WHERE id = ?').get(id) as any;
    if (!r) throw notFound(`no inference "${id.slice(0, 100)}" on this node`, { param: 'id', code: 'inference_not_found', hint: 'use the id of a completion this node returned (chatcmpl-… or cmpl-…)' });
    const entries = this.ledger.entriesOf(id);
    const split = entries.filter((e) => ['charge', 'attribute', 'writeoff'].includes(e.kind) && e.role !== 'payer' && e.role !== 'hold' && e.role !== 'pool');
    const byParty = new Map<string, { address: string; role: string; datanet_id: number | null; amount: bigint }>();
    for (const e of split) {
      const k = `${e.party}:${e.role}:${e.datanetId}`;
      const x = byParty.get(k) ?? { address: e.party!, role: e.role, datanet_id: e.datanetId, amount: 0n };
      x.amount += e.amount;
      byParty.set(k, x);
    }
    const pool = entries.filter((e) => e.role === 'pool').reduce((s, e) => s + e.amount, 0n);
    const ep = r.epoch ? this.epochs.get(r.epoch) : null;
    return {
      id: r.id, object: 'inference', model: r.model, base: r.base, adapters: JSON.parse(r.adapters), model_id: r.model_id, caller: r.caller, api_key_id: r.api_key_id,
      status: r.status, finish_reason: r.finish_reason, created_at: Math.floor(r.created_at / 1000), finished_at: r.finished_at ? Math.floor(r.finished_at / 1000) : null,
      usage: { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens, total_tokens: r.prompt_tokens === null ? null : r.prompt_tokens + r.completion_tokens },
      price: { per_1k_input: r.price_in, per_1k_output: r.price_out },
      hold: r.hold_wei, fee: r.fee_wei,
      epoch: r.epoch, epoch_status: ep?.status ?? null, settle_tx: ep?.settle_tx ?? null, root_tx: ep?.root_tx ?? null,
      split: [...byParty.values()].filter((x) => x.amount !== 0n).map((x) => ({ ...x, amount: x.amount.toString() })),
      contributors_pending: pool.toString(),
      entries: entries.map((e) => ({ kind: e.kind, account: e.account, role: e.role, datanet_id: e.datanetId, amount: e.amount.toString() })),
    };
  }

  epochList(limit = 50) {
    return this.epochs.list(limit).map(epochView);
  }

  /** Earned per epoch, pending, claimable (with the proof against the latest active root), claimed. */
  async rewards(address: Address) {
    const a = getAddress(address);
    const perEpoch = (this.d.db.prepare(`SELECT epoch, role, SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries
      WHERE account = ? GROUP BY epoch, role ORDER BY epoch LIMIT 5000`).safeIntegers(true).all(`earn:${a}`) as any[])
      .map((r) => ({ epoch: Number(r.epoch), role: r.role as string, amount: joinWords(r.hi, r.mid, r.lo) }));
    const earned = perEpoch.reduce((s, r) => s + r.amount, 0n);
    const chain = this.d.chain;
    const dist = chain.addresses.contracts.RewardsDistributor;
    // Activation is judged by block time: Anvil's `latest` block keeps the time it was mined (an idle
    // embedded chain mines nothing), its `pending` block has the current time, which a claim sent now gets.
    const tag = chain.embedded ? 'pending' : chain.moneyReadTag;
    const [activeEpoch, claimed] = await Promise.all([
      chain.publicClient.readContract({ address: dist, abi: artifacts.RewardsDistributor.abi, functionName: 'latestActiveEpoch', args: [], blockTag: tag } as never) as Promise<bigint>,
      chain.publicClient.readContract({ address: dist, abi: artifacts.RewardsDistributor.abi, functionName: 'claimed', args: [a], blockTag: tag } as never) as Promise<bigint>,
    ]);
    const leafIn = (e: EpochRow | null) => {
      if (!e?.tree) return null;
      const tree = StandardMerkleTree.load(JSON.parse(e.tree));
      for (const [i, v] of tree.entries()) if ((v[0] as string).toLowerCase() === a.toLowerCase()) return { cumulative: BigInt(v[1] as string), proof: tree.getProof(i) as Hex[] };
      return null;
    };
    const active = activeEpoch > 0n ? this.epochs.get(Number(activeEpoch)) : null;
    const latestPosted = this.d.db.prepare(`SELECT * FROM rewards_epochs WHERE merkle_root IS NOT NULL ORDER BY epoch DESC LIMIT 1`).get() as EpochRow | undefined;
    const inActive = leafIn(active);
    const inPosted = leafIn(latestPosted ?? null);
    const claimable = inActive && inActive.cumulative > claimed ? inActive.cumulative - claimed : 0n;
    return {
      address: a,
      earned: earned.toString(),
      by_epoch: perEpoch.map((r) => ({ ...r, amount: r.amount.toString(), status: this.epochs.get(r.epoch)?.status ?? null })),
      /** In a root already posted (active or waiting for its activation delay). */
      posted: (inPosted?.cumulative ?? 0n).toString(),
      /** Earned but not yet claimable: epochs still open or closing, and roots not yet active. */
      pending: (earned - (inActive?.cumulative ?? 0n)).toString(),
      claimable: claimable.toString(),
      claimed: claimed.toString(),
      claim: inActive ? { epoch: Number(activeEpoch), root: active!.merkle_root, cumulative_amount: inActive.cumulative.toString(), proof: inActive.proof, da_commitment: active!.da_commitment } : null,
      next: latestPosted && latestPosted.epoch !== Number(activeEpoch) && inPosted ? { epoch: latestPosted.epoch, cumulative_amount: inPosted.cumulative.toString(), activates_after_root_tx: latestPosted.root_tx } : null,
    };
  }

  /**
   * Sends RewardsDistributor.claim for `address` (the node's relayer pays the gas; the OPEN goes
   * to `address`). Without a leaf, the node's own leaf and proof for the latest active root.
   */
  async claim(address: Address, leaf?: { cumulativeAmount: bigint; proof: Hex[] }) {
    const a = getAddress(address);
    let l = leaf;
    if (!l) {
      const r = await this.rewards(a);
      if (!r.claim) {
        throw new OpenLedgerError(`${a} has nothing in an active rewards root yet`, {
          type: 'conflict_error', code: 'nothing_to_claim',
          hint: r.next ? `epoch ${r.next.epoch}'s root activates after the distributor's activation delay; try again then` : 'earnings become claimable after their epoch settles and its root activates',
        });
      }
      if (BigInt(r.claimable) === 0n) {
        throw new OpenLedgerError(`nothing to claim for ${a}: its cumulative ${r.claim.cumulative_amount} wei in epoch ${r.claim.epoch}'s root is already claimed`, {
          type: 'conflict_error', code: 'nothing_to_claim', hint: 'new earnings become claimable when a later epoch\'s root activates',
        });
      }
      l = { cumulativeAmount: BigInt(r.claim.cumulative_amount), proof: r.claim.proof as Hex[] };
    }
    const res = await actions.claim(this.d.chain, { claimant: a, cumulativeAmount: l.cumulativeAmount, proof: l.proof, account: roleAccount(this.d.chain, 'relayer') });
    return { address: a, amount: res.amount.toString(), epoch: Number(res.epoch), cumulative_amount: l.cumulativeAmount.toString(), tx_hash: res.txHash, block_number: res.blockNumber.toString() };
  }

  /** The epoch's records from DA (integrity-checked by the blob store) — what anyone verifies a claim against. */
  async records(epoch: number): Promise<Record<string, unknown>> {
    const e = this.epochs.get(epoch);
    if (!e) throw notFound(`no epoch ${epoch} on this node`, { param: 'epoch', code: 'epoch_not_found', hint: 'GET /v1/rewards/epochs lists them' });
    if (!e.da_commitment) {
      throw new OpenLedgerError(`epoch ${epoch} has no records in DA (${e.status === 'done' ? 'nothing to pay out: no root was posted' : `it is still ${e.status}`})`, {
        type: 'not_found_error', code: 'epoch_records_missing', hint: 'records are written when an epoch with earnings closes',
      });
    }
    const bytes = await (this.d.blobs.get(e.da_commitment as Hex));
    return { epoch, da_commitment: e.da_commitment, root_tx: e.root_tx, records: JSON.parse(new TextDecoder().decode(bytes)) };
  }

  /** Escrow state for a payer: on chain, held by running requests, charged but unsettled, available. */
  async escrow(address: Address) {
    const a = getAddress(address);
    const [s, b, pending] = await Promise.all([
      this.charging.spendable(a, { fresh: true }),
      actions.escrowBalance(this.d.chain, { owner: a }),
      this.d.chain.publicClient.readContract({ address: this.d.chain.addresses.contracts.InferenceEscrow, abi: artifacts.InferenceEscrow.abi, functionName: 'pendingWithdrawal', args: [a], blockTag: this.d.chain.moneyReadTag } as never) as Promise<{ amount: bigint; availableAt: bigint }>,
    ]);
    const auth = await actions.getSpendAuthorization(this.d.chain, { payer: a, blockTag: this.d.chain.moneyReadTag });
    return {
      address: a, balance: b.balance.toString(), spendable_on_chain: b.spendable.toString(),
      authorization: auth.expiry > 0n ? { scope: auth.scope, cap: auth.cap.toString(), spent: auth.spent.toString(), remaining: auth.remaining.toString(), expiry: Number(auth.expiry), nonce: auth.nonce.toString() } : null,
      pending_withdrawal: pending.availableAt > 0n ? { amount: pending.amount.toString(), available_at: Number(pending.availableAt) } : null,
      held: s.held.toString(), unsettled: s.unsettled.toString(), available: s.available.toString(), block: s.block.toString(),
    };
  }

  // ---- usage views ----

  usageModels(limit = 100) {
    const rows = this.d.db.prepare(`SELECT COALESCE(model_id, model) AS key, model_id, MIN(model) AS model, epoch, COUNT(*) calls, SUM(prompt_tokens) prompt_tokens, SUM(completion_tokens) completion_tokens
      FROM inferences WHERE status = 'charged' GROUP BY key, epoch ORDER BY key, epoch LIMIT ?`).all(clamp(limit)) as any[];
    const revenue = this.sumBy(`SELECT COALESCE(i.model_id, i.model) AS key, e.epoch, SUM(e.amount_hi) hi, SUM(e.amount_mid) mid, SUM(e.amount_lo) lo FROM ledger_entries e JOIN inferences i ON i.id = e.inference_id
      WHERE e.role IN ('payer', 'hold') AND e.inference_id IS NOT NULL AND e.epoch IS NOT NULL GROUP BY key, e.epoch` /* charge (−F) and write-off (+unpaid) entries: −revenue */, (r) => `${r.key}|${r.epoch}`);
    return rows.map((r) => ({ model: r.model, model_id: r.model_id, epoch: r.epoch, calls: r.calls, prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens, revenue: (-(revenue.get(`${r.key}|${r.epoch}`) ?? 0n)).toString() }));
  }

  usageContributor(address: Address) {
    const a = getAddress(address);
    const rows = this.d.db.prepare(`SELECT e.role, e.datanet_id, COALESCE(e.model_id, i.model) AS model, SUM(e.amount_hi) hi, SUM(e.amount_mid) mid, SUM(e.amount_lo) lo
      FROM ledger_entries e LEFT JOIN inferences i ON i.id = e.inference_id WHERE e.account = ? GROUP BY e.role, e.datanet_id, model ORDER BY e.role, e.datanet_id, model LIMIT 1000`).safeIntegers(true).all(`earn:${a}`) as any[];
    return { address: a, data: rows.map((r) => ({ role: r.role, datanet_id: r.datanet_id === null ? null : Number(r.datanet_id), model: r.model, earned: joinWords(r.hi, r.mid, r.lo).toString() })).filter((r) => r.earned !== '0') };
  }

  usageDatanets() {
    const rows = this.d.db.prepare(`SELECT datanet_id, role, SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries WHERE datanet_id IS NOT NULL AND account LIKE 'earn:%' GROUP BY datanet_id, role ORDER BY datanet_id LIMIT 5000`).safeIntegers(true).all() as any[];
    const by = new Map<number, { datanet_id: number; contributors: bigint; validators: bigint }>();
    for (const r of rows) {
      const id = Number(r.datanet_id);
      const x = by.get(id) ?? { datanet_id: id, contributors: 0n, validators: 0n };
      if (r.role === 'validator') x.validators += joinWords(r.hi, r.mid, r.lo); else x.contributors += joinWords(r.hi, r.mid, r.lo);
      by.set(id, x);
    }
    return [...by.values()].map((x) => ({ datanet_id: x.datanet_id, revenue: (x.contributors + x.validators).toString(), contributors: x.contributors.toString(), validators: x.validators.toString() }));
  }

  private sumBy(sql: string, key: (r: any) => string): Map<string, bigint> {
    const m = new Map<string, bigint>();
    for (const r of this.d.db.prepare(sql).safeIntegers(true).all() as any[]) m.set(key({ ...r, epoch: r.epoch === null ? null : Number(r.epoch) }), joinWords(r.hi, r.mid, r.lo));
    return m;
  }
}

const clamp = (n: number) => Math.min(Math.max(Math.trunc(n) || 100, 1), 1000);

export function epochView(e: EpochRow) {
  return {
    epoch: e.epoch, status: e.status, started_at: Math.floor(e.started_at / 1000), ends_at: Math.floor(e.ends_at / 1000),
    settle_tx: e.settle_tx, settled_total: e.settled_total, settlement: e.settle_result ? JSON.parse(e.settle_result) : null,
    merkle_root: e.merkle_root, total_cumulative: e.total_cumulative, da_commitment: e.da_commitment, root_tx: e.root_tx, error: e.error,
  };
}
