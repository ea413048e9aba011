// Property tests of the ledger and of charging, on a real SQLite store (all migrations): every
// transaction balances; integer splits are exact; concurrent holds never promise a balance twice;
// amounts far beyond 2^64 sum exactly in SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import { openStore, type Store } from '../store/index.ts';
import type { Chain } from '../chain/index.ts';
import { Charging, Ledger, account, byWeight, fee, joinWords, parseRewardsConfig, splitCharge, splitWords, type AdmitParams, type SplitParties } from './index.ts';
import { OpenLedgerError } from '../util/errors.ts';

/** mulberry32: a seeded PRNG so a failure is reproducible (the seed is in the message). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), big: (bits: number) => { let x = 0n; for (let i = 0; i < bits; i += 16) x = (x << 16n) | BigInt(Math.floor(next() * 65536)); return x & ((1n << BigInt(bits)) - 1n); } };
}

const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}` as Address;

function withStore(fn: (s: Store) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ol-ledger-'));
    const s = openStore(dir);
    try {
      await fn(s);
    } finally {
      s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function randomShares(r: ReturnType<typeof rng>) {
  const a = r.int(1_000_001), b = r.int(1_000_001 - a), c = r.int(1_000_001 - a - b);
  return { protocol: a, owner: b, validators: c, contributors: 1_000_000 - a - b - c };
}

function randomParties(r: ReturnType<typeof rng>): SplitParties {
  const nv = r.int(4);
  return {
    shares: randomShares(r), protocol: addr(900), owner: r.next() < 0.8 ? addr(800) : null,
    validators: Array.from({ length: nv }, (_, i) => ({ address: addr(700 + i), stake: r.big(r.int(3) === 0 ? 0 : 80).toString(), datanetId: 1 + r.int(3) })),
    hasContributors: r.next() < 0.7, modelId: r.next() < 0.5 ? String(1 + r.int(9)) : null,
  };
}

test('splitCharge and byWeight: parts are non-negative and sum exactly to the fee (2,000 random cases)', () => {
  const r = rng(11);
  for (let i = 0; i < 2000; i++) {
    const f = r.big(1 + r.int(100));
    const p = randomParties(r);
    const parts = splitCharge(f, `inf-${i}`, p);
    assert.ok(parts.every((x) => x.amount >= 0n), `case ${i}: a negative part`);
    assert.equal(parts.reduce((s, x) => s + x.amount, 0n), f, `case ${i}: split of ${f} does not sum`);
    if (!p.owner) assert.ok(!parts.some((x) => x.role === 'owner'), `case ${i}: an owner part without an owner`);
    const weights = Array.from({ length: 1 + r.int(12) }, (_, k) => ({ key: k, weight: r.big(1 + r.int(40)) }));
    const total = r.big(1 + r.int(90));
    const w = byWeight(total, weights);
    const live = weights.some((x) => x.weight > 0n);
    assert.equal(w.reduce((s, x) => s + x.amount, 0n), live ? total : 0n, `case ${i}: byWeight`);
  }
});

test('fee: the hold (bounds) always covers the charge (actual ≤ bounds)', () => {
  const r = rng(5);
  for (let i = 0; i < 2000; i++) {
    const price = { per1kInput: r.big(1 + r.int(70)), per1kOutput: r.big(1 + r.int(70)) };
    const pb = r.int(5000), mt = 1 + r.int(5000);
    const hold = fee(price, pb, mt), used = fee(price, r.int(pb + 1), r.int(mt + 1));
    assert.ok(used <= hold, `case ${i}`);
  }
});

test('amounts split into words and summed in SQL are exact far beyond 2^64', withStore((s) => {
  const r = rng(3);
  for (let i = 0; i < 5000; i++) {
    const x = (r.next() < 0.5 ? -1n : 1n) * r.big(1 + r.int(94));
    const [hi, mid, lo] = splitWords(x);
    assert.ok(lo >= 0n && lo < 1n << 32n && mid >= 0n && mid < 1n << 32n && hi < 1n << 30n && hi >= -(1n << 30n));
    assert.equal(joinWords(hi, mid, lo), x);
  }
  const ledger = new Ledger(s.db);
  let expected = 0n;
  for (let i = 0; i < 300; i++) {
    const x = r.big(93);
    expected += x;
    ledger.post({ kind: 'settle', epoch: 1, entries: [{ account: 'big', role: 'distributor', amount: x }, { account: 'other', role: 'distributor', amount: -x }] });
  }
  assert.ok(expected > 1n << 64n);
  assert.equal(ledger.balance('big'), expected);
  assert.equal(ledger.balanceFromEntries('big'), expected);
  assert.equal(ledger.balance('other'), -expected);
  assert.equal(ledger.total(), 0n);
}));

test('an unbalanced or non-integer transaction is refused and writes nothing', withStore((s) => {
  const ledger = new Ledger(s.db);
  assert.throws(() => ledger.post({ kind: 'charge', inferenceId: 'x', entries: [{ account: 'a', role: 'payer', amount: -5n }, { account: 'b', role: 'owner', amount: 4n }] }),
    (e: OpenLedgerError) => e.code === 'ledger_unbalanced' && /does not balance \(sum -1 wei\)/.test(e.message));
  assert.throws(() => ledger.post({ kind: 'charge', inferenceId: 'x', entries: [{ account: 'a', role: 'payer', amount: 0.5 as never }] }), (e: OpenLedgerError) => e.code === 'ledger_not_integer');
  assert.equal((s.db.prepare('SELECT COUNT(*) n FROM ledger_entries').get() as { n: number }).n, 0);
  assert.equal((s.db.prepare('SELECT COUNT(*) n FROM ledger_txns').get() as { n: number }).n, 0);
}));

test('concurrent holds never overspend a balance or an authorization; every transaction balances; holds + charges match the inferences (random workloads)', withStore(async (s) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = rng(seed);
    const payers = Array.from({ length: 3 }, (_, i) => addr(seed * 10 + i));
    // a few worst cases fit each balance, so many admissions race for the last of it
    const balances = new Map(payers.map((p) => [p, BigInt(10_000_000 + r.int(40_000_000))]));
    // the spend authorization: sometimes the tighter bound, sometimes the balance is
    const authorized = new Map(payers.map((p) => [p, r.next() < 0.5 ? balances.get(p)! : BigInt(5_000_000 + r.int(40_000_000))]));
    const limit = (p: Address) => (balances.get(p)! < authorized.get(p)! ? balances.get(p)! : authorized.get(p)!);
    let refused = 0;
    let reads = 0;
    const charging = new Charging({
      db: s.db, chain: {} as Chain, config: parseRewardsConfig({ balanceCacheMs: 0 }), currentEpoch: () => seed,
      resolver: { price: () => ({ per1kInput: 1_000_000n + r.big(20), per1kOutput: 3_000_000n + r.big(20) }), parties: async () => randomParties(r) },
      // the chain: a balance read takes a while, so admissions interleave
      readBalance: async (p) => { reads++; await new Promise((res) => setTimeout(res, r.int(3))); return { spendable: balances.get(p)!, authorized: authorized.get(p)!, scope: `0x${'00'.repeat(32)}`, block: 1n }; },
    });
    const live: Array<{ id: string; params: AdmitParams }> = [];
    let n = 0;
    for (let round = 0; round < 8; round++) {
      const batch = Array.from({ length: 25 }, () => {
        const payer = payers[r.int(payers.length)];
        const params: AdmitParams = {
          id: `inf-${seed}-${n++}`, caller: payer, apiKeyId: null, model: 'm', base: 'b', fineTunedName: null, modelId: null, recordedPrice: null, owner: null,
          maxTokens: 1 + r.int(4000), promptBound: 1 + r.int(2000),
        };
        return charging.admit(params).then(() => live.push({ id: params.id, params }), (e) => { assert.equal(e.code, 'insufficient_quota'); refused++; });
      });
      await Promise.all(batch);
      // the invariant: what is promised (held) plus what is owed (unsettled) never exceeds the balance
      for (const p of payers) {
        const sp = await charging.spendable(p);
        assert.ok(sp.held + sp.unsettled <= limit(p), `seed ${seed}: ${p} promised ${sp.held + sp.unsettled} of ${limit(p)}`);
      }
      // end some requests: charged what they used (≤ their bounds), or cancelled
      for (const x of live.splice(0, r.int(live.length + 1))) {
        if (r.next() < 0.2) charging.cancel(x.id);
        else charging.finish(x.id, { promptTokens: r.int(x.params.promptBound + 1), completionTokens: r.int(x.params.maxTokens + 1), finishReason: 'stop' });
      }
    }
    for (const x of live.splice(0)) charging.finish(x.id, { promptTokens: x.params.promptBound, completionTokens: x.params.maxTokens, finishReason: 'length' });
    const ledger = new Ledger(s.db);
    assert.deepEqual(ledger.unbalancedTxns(), [], `seed ${seed}`);
    assert.equal(ledger.total(), 0n);
    for (const p of payers) {
      assert.equal(ledger.balance(account.hold(p)), 0n, 'no hold left open');
      for (const a of [account.hold(p), account.payer(p)]) assert.equal(ledger.balance(a), ledger.balanceFromEntries(a), 'running balance = sum of entries');
      const fees = (s.db.prepare(`SELECT fee_wei FROM inferences WHERE caller = ? AND status = 'charged'`).all(p) as Array<{ fee_wei: string }>).reduce((a, x) => a + BigInt(x.fee_wei), 0n);
      assert.equal(-ledger.balance(account.payer(p)), fees, 'payer account = −(charges)');
      assert.ok(fees <= limit(p), `seed ${seed}: charged ${fees} of ${limit(p)} (balance and authorization)`);
    }
    assert.ok(reads > 0);
    assert.ok(refused > 20 && n - refused > 20, `seed ${seed}: ${refused} of ${n} refused: the workload must exercise both`);
  }
}));
