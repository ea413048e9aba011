/**
 * Epochs: every epoch length (RewardsDistributor.epochLength, governed; or the node config's) the open epoch closes and its charges are settled on chain and
 * paid out through a cumulative Merkle root. Closing is a persisted state machine; each step
 * reads what it needs from the store (and the chain), does one thing, and records the result in
 * one SQLite transaction, so a node killed at any point finishes the epoch exactly once on restart:
 *
 *   open ──(ends_at passed)──▶ closing   next epoch opened in the same transaction
 *   closing    plan: per payer, its charges (clamped to its escrow balance) + recordsRoot
 *   settling   lastSettledEpoch ≥ e ? adopt the EpochSettled tx : InferenceEscrow.settle   (settler)
 *              → settle entries per payer, write-offs for what was not debited, cache invalidated
 *   settled    contributors' pools split by WeightSource (attribution) or pro rata by rows
 *   attributed cumulative earnings per address (all epochs ≤ e) → StandardMerkleTree, records → DA
 *   recorded   lastSubmittedEpoch ≥ e ? adopt the RootSubmitted tx : RewardsDistributor.submitRoot (root submitter)
 *   posted     embedded: done; real chains: once the root's block is finalized
 *   done
 *
 * A transaction is never sent twice for one epoch: before sending, the contract's own counters
 * (lastSettledEpoch, lastSubmittedEpoch) say whether a previous run already did, and the contract
 * refuses a second settle / root for the same epoch anyway (EpochNotIncreasing).
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { keccak256, parseEventLogs, toHex, type Account, type Address, type Hex } from 'viem';
import { actions, artifacts, type Chain } from '../chain/index.ts';
import type { BlobStore } from '../da/index.ts';
import type { Db } from '../store/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import type { CrashPoint, RewardsConfig } from './config.ts';
import { account, joinWords, Ledger, type Entry } from './ledger.ts';
import { byWeight, splitCharge, type SplitParties } from './split.ts';
import { proRataWeights, type ContributorWeight, type WeightSource } from './weights.ts';

export type EpochStatus = 'open' | 'closing' | 'settling' | 'settled' | 'attributed' | 'recorded' | 'posted' | 'done';

export interface EpochRow {
  epoch: number; status: EpochStatus; started_at: number; ends_at: number; closed_at: number | null;
  plan: string | null; settle_tx: string | null; settle_block: number | null; settled_total: string | null; settle_result: string | null; attribution: string | null;
  da_id: string | null; da_commitment: string | null; merkle_root: string | null; total_cumulative: string | null; tree: string | null;
  root_tx: string | null; root_block: number | null; done_at: number | null; error: string | null;
}

export interface SettlePlan {
  recordsRoot: Hex;
  /** Payers with something to settle, sorted by address; amounts[i] is what settle asks of accounts[i]. */
  accounts: Address[];
  amounts: string[];
  /** What each payer owes for the epoch (amounts[i] < owed[i] when its escrow holds less). */
  owed: string[];
}

export interface EpochDeps {
  db: Db;
  chain: Chain;
  blobs: BlobStore;
  config: RewardsConfig;
  /** The length of the next epoch (the node config's, else RewardsDistributor.epochLength, governed). */
  epochSeconds: () => Promise<number>;
  treasury: () => string;
  weights: () => WeightSource | null;
  /** Settlement changed these payers' chain balances. */
  onSettled: (payers: string[]) => void;
  log: (line: string) => void;
}

export class Epochs {
  private readonly ledger: Ledger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly d: EpochDeps) {
    this.ledger = new Ledger(d.db);
  }

  /** Opens the first epoch if none is (numbered past anything already settled or posted on chain). */
  async init(): Promise<void> {
    if (this.row('open')) return;
    const max = (this.d.db.prepare('SELECT MAX(epoch) m FROM rewards_epochs').get() as { m: number | null }).m ?? 0;
    const [settled, submitted] = await Promise.all([readU64(this.d.chain, 'InferenceEscrow', 'lastSettledEpoch'), readU64(this.d.chain, 'RewardsDistributor', 'lastSubmittedEpoch')]);
    const next = Math.max(max, settled, submitted) + 1;
    const now = Date.now();
    const len = await this.d.epochSeconds();
    this.d.db.prepare(`INSERT INTO rewards_epochs (epoch, status, started_at, ends_at) VALUES (?, 'open', ?, ?)`).run(next, now, now + len * 1000);
  }

  /** The epoch new charges go to. */
  current(): number {
    const r = this.row('open');
    if (!r) throw new OpenLedgerError('rewards: no open epoch', { type: 'internal_error', code: 'no_open_epoch' });
    return r.epoch;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.runOnce().catch(() => {}).finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.d.config.tickMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.queue;
  }

  /** Closes the open epoch now (tests, `openledger rewards close-epoch`) and drives it to its end; returns its number. */
  async closeNow(): Promise<number> {
    const e = this.current();
    this.d.db.prepare(`UPDATE rewards_epochs SET ends_at = ? WHERE epoch = ? AND status = 'open'`).run(Date.now(), e);
    await this.runOnce();
    const r = this.get(e)!;
    if (r.status !== 'done') throw new OpenLedgerError(`epoch ${e} stopped at ${r.status}: ${r.error ?? ''}`, { type: 'chain_error', code: 'epoch_not_done', hint: 'the node retries it every tick; see GET /v1/rewards/epochs' });
    return e;
  }

  /**
   * Rolls over a due epoch and runs every pending step until nothing moves; a failing step is
   * recorded and retried next tick. Runs one at a time (the loop and `closeNow` queue up), so a
   * step is never taken twice concurrently.
   */
  runOnce(): Promise<void> {
    const run = this.queue.then(() => this.runSteps());
    this.queue = run.catch(() => {});
    return run;
  }

  private queue: Promise<void> = Promise.resolve();

  private async runSteps(): Promise<void> {
    const open = this.row('open');
    if (open && open.ends_at <= Date.now()) this.roll(await this.d.epochSeconds());
    for (let guard = 0; guard < 1000; guard++) {
      const e = this.d.db.prepare(`SELECT * FROM rewards_epochs WHERE status NOT IN ('open', 'done') ORDER BY epoch LIMIT 1`).get() as EpochRow | undefined;
      if (!e) return;
      const before = e.status;
      try {
        await this.step(e);
        this.d.db.prepare('UPDATE rewards_epochs SET error = NULL WHERE epoch = ? AND error IS NOT NULL').run(e.epoch);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        this.d.db.prepare('UPDATE rewards_epochs SET error = ? WHERE epoch = ?').run(msg.slice(0, 2000), e.epoch);
        this.d.log(`rewards: epoch ${e.epoch} ${before}: ${msg.split('\n')[0]}`);
        throw err;
      }
      if (this.get(e.epoch)!.status === before) return; // waiting (finality)
    }
  }

  get(epoch: number): EpochRow | null {
    return (this.d.db.prepare('SELECT * FROM rewards_epochs WHERE epoch = ?').get(epoch) as EpochRow | undefined) ?? null;
  }

  list(limit = 50): EpochRow[] {
    return this.d.db.prepare('SELECT * FROM rewards_epochs ORDER BY epoch DESC LIMIT ?').all(Math.min(Math.max(limit, 1), 500)) as EpochRow[];
  }

  private row(status: EpochStatus): EpochRow | null {
    return (this.d.db.prepare('SELECT * FROM rewards_epochs WHERE status = ? ORDER BY epoch LIMIT 1').get(status) as EpochRow | undefined) ?? null;
  }

  private roll(epochSeconds: number): void {
    const now = Date.now();
    this.d.db.transaction(() => {
      const o = this.row('open');
      if (!o || o.ends_at > now) return;
      this.d.db.prepare(`UPDATE rewards_epochs SET status = 'closing', closed_at = ? WHERE epoch = ?`).run(now, o.epoch);
      this.d.db.prepare(`INSERT INTO rewards_epochs (epoch, status, started_at, ends_at) VALUES (?, 'open', ?, ?)`).run(o.epoch + 1, now, now + epochSeconds * 1000);
    })();
  }

  private set(epoch: number, fields: Partial<EpochRow>): void {
    const keys = Object.keys(fields);
    this.d.db.prepare(`UPDATE rewards_epochs SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE epoch = @epoch`).run({ ...fields, epoch });
  }

  private crash(point: CrashPoint): void {
    if (this.d.config.crashAt === point) process.kill(process.pid, 'SIGKILL');
  }

  private async step(e: EpochRow): Promise<void> {
    switch (e.status) {
      case 'closing': return this.plan(e);
      case 'settling': return this.settle(e);
      case 'settled': return this.attribute(e);
      case 'attributed': return this.record(e);
      case 'recorded': return this.post(e);
      case 'posted': return this.finalize(e);
      default: return;
    }
  }

  /** The epoch's charges, as the records the settlement's recordsRoot commits to. */
  charges(epoch: number): Array<{ id: string; caller: string; model: string; model_id: string | null; prompt_tokens: number; completion_tokens: number; fee: string; finish_reason: string }> {
    return this.d.db.prepare(`SELECT id, caller, model, model_id, prompt_tokens, completion_tokens, fee_wei AS fee, finish_reason FROM inferences
      WHERE epoch = ? AND status = 'charged' AND fee_wei != '0' ORDER BY id`).all(epoch) as any[];
  }

  /**
   * Paid datanet access: DatanetRegistry.purchaseAccess funded the distributor with the price and the
   * datanets module credited it to contributors by accepted rows (datanet_credits). Each credit not
   * yet in the ledger joins this epoch's earnings (idempotent: one 'access' transaction per credit).
   */
  private importAccessCredits(epoch: number): void {
    const rows = this.d.db.prepare(`SELECT c.id, c.datanet_id, c.contributor, c.amount_wei FROM datanet_credits c
      WHERE NOT EXISTS (SELECT 1 FROM ledger_txns t WHERE t.kind = 'access' AND t.inference_id = 'credit:' || c.id) ORDER BY c.id LIMIT 10000`).all() as Array<{ id: number; datanet_id: number; contributor: string; amount_wei: string }>;
    for (const c of rows) {
      const amount = BigInt(c.amount_wei);
      this.ledger.post({ kind: 'access', inferenceId: `credit:${c.id}`, epoch, entries: [
        { account: account.distributor, role: 'distributor', amount: -amount },
        { account: account.earn(c.contributor), party: c.contributor, role: 'contributor', amount, datanetId: c.datanet_id },
      ] });
    }
  }

  private async plan(e: EpochRow): Promise<void> {
    this.d.db.transaction(() => this.importAccessCredits(e.epoch))();
    const charges = this.charges(e.epoch);
    const owed = new Map<string, bigint>();
    for (const c of charges) owed.set(c.caller, (owed.get(c.caller) ?? 0n) + BigInt(c.fee));
    const payers = [...owed.keys()].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())) as Address[];
    // Ask for no more than the escrow holds and the payer's authorization still allows (its expiry
    // may have passed since the calls): settle would refuse an over-authorized debit whole. What is
    // not debited is written off after the settlement.
    const balances = await Promise.all(payers.map(async (a) => {
      const [{ balance }, auth] = await Promise.all([actions.escrowBalance(this.d.chain, { owner: a, blockTag: 'latest' }), actions.getSpendAuthorization(this.d.chain, { payer: a })]);
      return balance < auth.remaining ? balance : auth.remaining;
    }));
    const plan: SettlePlan = {
      recordsRoot: keccak256(toHex(JSON.stringify(charges))),
      accounts: payers,
      amounts: payers.map((a, i) => (owed.get(a)! < balances[i] ? owed.get(a)! : balances[i]).toString()),
      owed: payers.map((a) => owed.get(a)!.toString()),
    };
    this.set(e.epoch, { plan: JSON.stringify(plan), status: 'settling' });
  }

  private async settle(e: EpochRow): Promise<void> {
    const plan = JSON.parse(e.plan!) as SettlePlan;
    const live = plan.accounts.map((a, i) => ({ a, amount: BigInt(plan.amounts[i]) })).filter((x) => x.amount > 0n);
    let debited = new Map<string, bigint>();
    let txHash: Hex | null = null, block: bigint | null = null, total = 0n;
    if (live.length) {
      const found = await this.findSettlement(e.epoch);
      if (found) ({ txHash, block } = found);
      else {
        const settler = roleAccount(this.d.chain, 'settler');
        try {
          const r = await actions.settleEpoch(this.d.chain, { epoch: BigInt(e.epoch), accounts: live.map((x) => x.a), amounts: live.map((x) => x.amount), recordsRoot: plan.recordsRoot, account: settler });
          txHash = r.txHash, block = r.blockNumber;
        } catch (err) {
          const again = await this.findSettlement(e.epoch); // sent by an earlier run that died before recording it
          if (!again) throw err;
          ({ txHash, block } = again);
        }
      }
      debited = await debitsOf(this.d.chain, txHash!, e.epoch);
      for (const v of debited.values()) total += v;
    }
    this.crash('after-settle-tx');
    const payers: string[] = [];
    this.d.db.transaction(() => {
      const shortfalls: Array<{ account: string; owed: string; debited: string }> = [];
      plan.accounts.forEach((a, i) => {
        const owed = BigInt(plan.owed[i]);
        const got = debited.get(a.toLowerCase()) ?? 0n;
        payers.push(a);
        if (got > 0n) {
          this.ledger.post({ kind: 'settle', epoch: e.epoch, chainBlock: block, entries: [
            { account: account.distributor, role: 'distributor', amount: -got },
            { account: account.payer(a), party: a, role: 'payer', amount: got },
          ] });
        }
        if (got < owed) {
          shortfalls.push({ account: a, owed: owed.toString(), debited: got.toString() });
          this.writeOff(e.epoch, a, got);
        }
      });
      this.set(e.epoch, {
        status: 'settled', settle_tx: txHash, settle_block: block === null ? null : Number(block), settled_total: total.toString(),
        settle_result: JSON.stringify({ debited: [...debited].map(([account, amount]) => ({ account, amount: amount.toString() })), shortfalls }),
      });
    })();
    this.d.onSettled(payers);
    this.crash('after-settle-store');
  }

  /** `paid` of what `payer` owes for the epoch came in: its inferences are paid oldest first; the split of the unpaid part is reversed. */
  private writeOff(epoch: number, payer: string, paid: bigint): void {
    const rows = this.d.db.prepare(`SELECT id, fee_wei, split, model_id FROM inferences WHERE epoch = ? AND caller = ? AND status = 'charged' AND fee_wei != '0' ORDER BY finished_at, id`).all(epoch, payer) as any[];
    let left = paid;
    for (const r of rows) {
      const f = BigInt(r.fee_wei);
      const p = f < left ? f : left;
      left -= p;
      if (p === f) continue;
      const parties = JSON.parse(r.split) as SplitParties;
      const entries: Entry[] = [
        ...splitCharge(f, r.id, parties).map((x) => ({ ...x, amount: -x.amount })),
        ...splitCharge(p, r.id, parties),
        { account: account.payer(payer), party: payer, role: 'payer', amount: f - p, modelId: r.model_id },
      ];
      this.ledger.post({ kind: 'writeoff', inferenceId: r.id, epoch, entries });
    }
  }

  private async attribute(e: EpochRow): Promise<void> {
    const pools = (this.d.db.prepare(`SELECT e.inference_id id, i.model, i.model_id, i.adapters, i.split, SUM(e.amount_hi) hi, SUM(e.amount_mid) mid, SUM(e.amount_lo) lo
      FROM ledger_entries e JOIN inferences i ON i.id = e.inference_id
      WHERE e.role = 'pool' AND i.epoch = ? GROUP BY e.inference_id ORDER BY e.inference_id`).safeIntegers(true).all(e.epoch) as any[])
      .map((r) => ({ ...r, amount: joinWords(r.hi, r.mid, r.lo) })).filter((r) => r.amount > 0n);
    const source = this.d.weights();
    const plans: Array<{ id: string; modelId: string | null; amount: bigint; to: ContributorWeight[]; fallback: string; source: 'attribution' | 'pro_rata' }> = [];
    const proRata = new Map<string, ContributorWeight[]>();
    for (const p of pools) {
      let to: ContributorWeight[] | null = null;
      let how: 'attribution' | 'pro_rata' = 'pro_rata';
      const fromSource = source ? await source.contributorWeights(p.id).catch(() => null) : null;
      if (validWeights(fromSource)) (to = fromSource!.map((w) => ({ address: w.address, weight: BigInt(w.weightPpm), datanetId: null }))), (how = 'attribution');
      if (!to) {
        const ft = (JSON.parse(p.adapters) as Array<{ model: string }>)[0]?.model;
        const job = ft ? (this.d.db.prepare('SELECT job_id FROM factory_models WHERE name = ?').get(ft) as { job_id: string } | undefined)?.job_id : undefined;
        if (job && !proRata.has(job)) proRata.set(job, proRataWeights(this.d.db, job));
        to = job ? proRata.get(job)! : [];
      }
      const parties = JSON.parse(p.split) as SplitParties;
      plans.push({ id: p.id, modelId: p.model_id, amount: p.amount, to, fallback: parties.owner ?? this.d.treasury(), source: how });
    }
    this.d.db.transaction(() => {
      for (const p of plans) {
        const parts = byWeight(p.amount, p.to.map((w) => ({ key: w, weight: w.weight })));
        const entries: Entry[] = [{ account: account.pool(p.id), role: 'pool', amount: -p.amount, modelId: p.modelId }];
        if (parts.length) for (const x of parts) entries.push({ account: account.earn(x.key.address), party: x.key.address, role: 'contributor', amount: x.amount, datanetId: x.key.datanetId, modelId: p.modelId });
        else entries.push({ account: account.earn(p.fallback), party: p.fallback, role: 'owner', amount: p.amount, modelId: p.modelId }); // nobody's rows: the owner keeps it
        this.ledger.post({ kind: 'attribute', inferenceId: p.id, epoch: e.epoch, entries });
      }
      const attribution = plans.map((p) => ({
        inference: p.id, source: p.to.some((w) => w.weight > 0n) ? p.source : 'owner',
        weights: p.to.map((w) => ({ address: w.address, weight: w.weight.toString(), datanet_id: w.datanetId })),
      }));
      this.set(e.epoch, { status: 'attributed', attribution: JSON.stringify(attribution) });
    })();
  }

  /** Cumulative earnings of every address over epochs ≤ e (what its Merkle leaf says). */
  cumulative(epoch: number): Array<[string, bigint]> {
    const rows = this.d.db.prepare(`SELECT party, SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries
      WHERE account LIKE 'earn:%' AND epoch <= ? GROUP BY party`).safeIntegers(true).all(epoch) as Array<{ party: string; hi: bigint; mid: bigint; lo: bigint }>;
    return rows.map((r) => [r.party, joinWords(r.hi, r.mid, r.lo)] as [string, bigint]).filter(([, v]) => v > 0n)
      .sort(([a], [b]) => a.toLowerCase().localeCompare(b.toLowerCase()));
  }

  private async record(e: EpochRow): Promise<void> {
    const leaves = this.cumulative(e.epoch);
    const total = leaves.reduce((s, [, v]) => s + v, 0n);
    const prev = this.d.db.prepare(`SELECT total_cumulative FROM rewards_epochs WHERE epoch < ? AND merkle_root IS NOT NULL ORDER BY epoch DESC LIMIT 1`).get(e.epoch) as { total_cumulative: string } | undefined;
    if (!leaves.length || (prev && BigInt(prev.total_cumulative) === total)) {
      this.set(e.epoch, { status: 'done', done_at: Date.now() }); // nothing new to pay out: no root
      return;
    }
    // Everything in the tree was paid into the distributor by settlements: Σ leaves = Σ settled.
    const funded = -this.ledger.balance(account.distributor);
    if (total !== funded) {
      throw new OpenLedgerError(`rewards: epoch ${e.epoch} earnings total ${total} wei differ from the ${funded} wei settled into the distributor`, { type: 'internal_error', code: 'rewards_mismatch' });
    }
    const tree = StandardMerkleTree.of(leaves.map(([a, v]) => [a, v.toString()]), ['address', 'uint256']);
    const plan = e.plan ? JSON.parse(e.plan) as SettlePlan : null;
    const records = {
      kind: 'openledger.rewards.epoch', version: 1, chainId: this.d.chain.chainId, epoch: e.epoch,
      escrow: this.d.chain.addresses.contracts.InferenceEscrow, distributor: this.d.chain.addresses.contracts.RewardsDistributor,
      settlement: { tx: e.settle_tx, recordsRoot: plan?.recordsRoot ?? null, total: e.settled_total, ...(e.settle_result ? JSON.parse(e.settle_result) : {}) },
      // recordsRoot = keccak256(utf8(JSON.stringify(charges))): anyone can recompute it from this list
      charges: this.charges(e.epoch),
      // how each inference's contributors' share was divided: Proof of Attribution weights (ppm) or rows (pro rata)
      attribution: e.attribution ? JSON.parse(e.attribution) : [],
      entries: this.d.db.prepare(`SELECT t.kind, e.inference_id, e.account, e.role, e.datanet_id, e.amount FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
        WHERE e.epoch = ? AND t.kind IN ('charge', 'attribute', 'writeoff') ORDER BY e.id`).all(e.epoch),
      leaves: leaves.map(([a, v]) => [a, v.toString()]),
      root: tree.root, totalCumulative: total.toString(),
    };
    const blob = await this.d.blobs.put(new TextEncoder().encode(JSON.stringify(records)));
    this.set(e.epoch, {
      status: 'recorded', da_id: blob.id, da_commitment: blob.commitment, merkle_root: tree.root, total_cumulative: total.toString(), tree: JSON.stringify(tree.dump()),
    });
  }

  private async post(e: EpochRow): Promise<void> {
    let txHash: Hex, block: bigint;
    const found = await this.findRoot(e.epoch, e.merkle_root as Hex);
    if (found) ({ txHash, block } = found);
    else {
      try {
        const r = await actions.submitRoot(this.d.chain, {
          epoch: BigInt(e.epoch), root: e.merkle_root as Hex, totalCumulative: BigInt(e.total_cumulative!), daCommitment: commitmentBytes(e.da_commitment!),
          account: roleAccount(this.d.chain, 'rootSubmitter'),
        });
        txHash = r.txHash, block = r.blockNumber;
      } catch (err) {
        const again = await this.findRoot(e.epoch, e.merkle_root as Hex);
        if (!again) throw err;
        ({ txHash, block } = again);
      }
    }
    this.crash('after-root-tx');
    this.set(e.epoch, { status: 'posted', root_tx: txHash, root_block: Number(block) });
    this.crash('after-root-store');
  }

  private async finalize(e: EpochRow): Promise<void> {
    if (!this.d.chain.embedded) {
      const fin = await this.d.chain.publicClient.getBlock({ blockTag: 'finalized' });
      if (fin.number! < BigInt(Math.max(e.root_block ?? 0, e.settle_block ?? 0))) return; // not final yet: next tick
    }
    this.set(e.epoch, { status: 'done', done_at: Date.now() });
  }

  private async findSettlement(epoch: number): Promise<{ txHash: Hex; block: bigint } | null> {
    const last = await readU64(this.d.chain, 'InferenceEscrow', 'lastSettledEpoch');
    if (last < epoch) return null;
    const logs = await this.d.chain.publicClient.getContractEvents({
      address: this.d.chain.addresses.contracts.InferenceEscrow, abi: artifacts.InferenceEscrow.abi, eventName: 'EpochSettled', args: { epoch: BigInt(epoch) },
      fromBlock: this.d.chain.addresses.deploymentBlock, toBlock: 'latest',
    } as never) as unknown as Array<{ transactionHash: Hex; blockNumber: bigint }>;
    if (!logs.length) {
      throw new OpenLedgerError(`InferenceEscrow already settled past epoch ${epoch} (last ${last}) without an EpochSettled event for it`, {
        type: 'chain_error', code: 'epoch_settled_elsewhere', hint: 'another node settles with this escrow: give each node its own contracts',
      });
    }
    return { txHash: logs[0].transactionHash, block: logs[0].blockNumber };
  }

  private async findRoot(epoch: number, root: Hex): Promise<{ txHash: Hex; block: bigint } | null> {
    const last = await readU64(this.d.chain, 'RewardsDistributor', 'lastSubmittedEpoch');
    if (last < epoch) return null;
    const logs = await this.d.chain.publicClient.getContractEvents({
      address: this.d.chain.addresses.contracts.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, eventName: 'RootSubmitted', args: { epoch: BigInt(epoch) },
      fromBlock: this.d.chain.addresses.deploymentBlock, toBlock: 'latest',
    } as never) as unknown as Array<{ transactionHash: Hex; blockNumber: bigint; args: { root: Hex } }>;
    const mine = logs.find((l) => l.args.root.toLowerCase() === root.toLowerCase());
    if (!mine) {
      throw new OpenLedgerError(`RewardsDistributor is past epoch ${epoch} (last ${last}) but holds no root ${root} for it`, {
        type: 'chain_error', code: 'root_posted_elsewhere', hint: 'another node posts roots to this distributor: give each node its own contracts',
      });
    }
    return { txHash: mine.transactionHash, block: mine.blockNumber };
  }
}

function validWeights(w: Array<{ address: string; weightPpm: number }> | null): boolean {
  if (!w || !Array.isArray(w) || !w.length || w.length > 10_000) return false;
  let sum = 0;
  for (const x of w) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(x.address) || !Number.isSafeInteger(x.weightPpm) || x.weightPpm < 0) return false;
    sum += x.weightPpm;
  }
  return sum === 1_000_000;
}

/** Debited amounts per account (lowercase) of one epoch in a settle receipt. */
async function debitsOf(chain: Chain, txHash: Hex, epoch: number): Promise<Map<string, bigint>> {
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: txHash });
  const escrow = chain.addresses.contracts.InferenceEscrow.toLowerCase();
  const logs = parseEventLogs({ abi: artifacts.InferenceEscrow.abi, logs: receipt.logs, eventName: 'Debited' } as never) as unknown as Array<{ address: string; args: { epoch: bigint; account: string; amount?: bigint; debited?: bigint } }>;
  const out = new Map<string, bigint>();
  for (const l of logs) {
    if (l.address.toLowerCase() !== escrow || l.args.epoch !== BigInt(epoch)) continue;
    const k = l.args.account.toLowerCase();
    out.set(k, (out.get(k) ?? 0n) + (l.args.amount ?? l.args.debited ?? 0n));
  }
  return out;
}

async function readU64(chain: Chain, contract: 'InferenceEscrow' | 'RewardsDistributor', fn: string): Promise<number> {
  const v = await chain.publicClient.readContract({ address: chain.addresses.contracts[contract], abi: artifacts[contract].abi, functionName: fn, args: [] } as never) as bigint;
  return Number(v);
}

/** The node's account for a role: trust's separated roles when the chain has them, the operator otherwise. */
export function roleAccount(chain: Chain, role: 'settler' | 'rootSubmitter' | 'relayer'): Account {
  const roles = (chain as Chain & { roles?: Partial<Record<string, Account>> }).roles;
  return roles?.[role] ?? chain.operator;
}

/** The DA commitment as bytes for the contract (hex commitments as they are, anything else as UTF-8). */
export function commitmentBytes(c: string): Hex {
  return /^0x([0-9a-fA-F]{2})*$/.test(c) ? (c as Hex) : toHex(c);
}
