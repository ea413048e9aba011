import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import type { Address } from 'viem';
import { VersionTree, verifyRowProof, uploadRoot } from './merkle.ts';
import { signContribution, verifyContribution, type Contribution } from './signature.ts';
import { splitByRows } from './split.ts';
import { leaderboard } from './leaderboard.ts';
import { PoliciesSchema, decideStatus, canContribute, canRead, checkQuota, chainPolicy } from './policy.ts';
import { snapshotJsonl, parseSnapshot, exportJsonl } from './snapshot.ts';
import { rowHash } from './hashing.ts';
import { OpenLedgerError } from '../util/errors.ts';

const A = '0x1111111111111111111111111111111111111111' as Address;
const B = '0x2222222222222222222222222222222222222222' as Address;
const C = '0x3333333333333333333333333333333333333333' as Address;
const h = (s: string) => rowHash('text', { text: s });

test('version tree: proofs verify, wrong contributor or row or root fails', () => {
  const leaves = ['a', 'b', 'c', 'd', 'e'].map((s, i) => ({ rowHash: h(s), contributor: i % 2 ? A : B }));
  const tree = VersionTree.build(leaves);
  for (const l of leaves) {
    const p = tree.proof(l);
    assert.equal(verifyRowProof(tree.root, p.leaf, p.proof), true);
    assert.equal(verifyRowProof(tree.root, { ...p.leaf, contributor: C }, p.proof), false);
  }
  const p = tree.proof(leaves[0]);
  assert.equal(verifyRowProof(tree.root, { rowHash: h('z'), contributor: leaves[0].contributor }, p.proof), false);
  assert.equal(verifyRowProof(VersionTree.build(leaves.slice(1)).root, p.leaf, p.proof), false);
  // saved and loaded tree gives the same root and proofs; order of leaves does not change the root
  const loaded = VersionTree.load(JSON.parse(JSON.stringify(tree.dump())));
  assert.equal(loaded.root, tree.root);
  assert.deepEqual(loaded.proof(leaves[3]), tree.proof(leaves[3]));
  assert.equal(VersionTree.build([...leaves].reverse()).root, tree.root);
  assert.throws(() => VersionTree.build([]));
});

test('EIP-712 upload signature: valid, forged, tampered, expired, other chain', async () => {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const other = privateKeyToAccount(generatePrivateKey());
  const domain = { chainId: 31337, registry: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address };
  const msg: Contribution = { contributor: account.address, datanetId: 1n, rowsRoot: uploadRoot([h('a'), h('b')]), rowCount: 2n, nonce: 42n, deadline: 2_000_000_000n };
  const sig = await signContribution(account, domain, msg);
  await verifyContribution(domain, msg, sig, 1_900_000_000);
  const bad = (p: Promise<void>, code: string) => assert.rejects(p, (e: OpenLedgerError) => e.code === code && e.status === 401);
  await bad(verifyContribution(domain, msg, await signContribution(other, domain, msg), 1_900_000_000), 'invalid_signature'); // forged
  await bad(verifyContribution(domain, { ...msg, rowsRoot: uploadRoot([h('a'), h('c')]) }, sig, 1_900_000_000), 'invalid_signature'); // other rows
  await bad(verifyContribution(domain, { ...msg, datanetId: 2n }, sig, 1_900_000_000), 'invalid_signature'); // other datanet
  await bad(verifyContribution({ ...domain, chainId: 1612 }, msg, sig, 1_900_000_000), 'invalid_signature'); // other chain
  await bad(verifyContribution(domain, msg, '0xdeadbeef', 1_900_000_000), 'invalid_signature'); // garbage
  await bad(verifyContribution(domain, msg, sig, 2_000_000_001), 'signature_expired');
  assert.equal(uploadRoot([h('a'), h('b')]), uploadRoot([h('b'), h('a')]));
});

test('paid split: integer shares sum exactly, remainder deterministic', () => {
  const s = splitByRows(100n, [{ contributor: A, rows: 1 }, { contributor: B, rows: 1 }, { contributor: C, rows: 1 }]);
  assert.deepEqual(s.map((x) => x.amount), [34n, 33n, 33n]); // tie on fraction and rows → lowest address
  const t = splitByRows(10n ** 18n + 7n, [{ contributor: C, rows: 5 }, { contributor: A, rows: 3 }, { contributor: B, rows: 0 }]);
  assert.equal(t.reduce((x, y) => x + y.amount, 0n), 10n ** 18n + 7n);
  assert.equal(t.length, 2);
  assert.deepEqual(splitByRows(5n, []), []);
  for (let amount = 0n; amount < 50n; amount++) {
    const r = splitByRows(amount, [{ contributor: A, rows: 7 }, { contributor: B, rows: 2 }, { contributor: C, rows: 4 }]);
    assert.equal(r.reduce((x, y) => x + y.amount, 0n), amount);
    assert.ok(r[0].amount >= r[2].amount && r[2].amount >= r[1].amount);
  }
});

test('leaderboard: accepted rows, then acceptance rate, ties share a rank', () => {
  const lb = leaderboard([
    { contributor: A, accepted: 5, pending: 0, rejected: 5 },
    { contributor: B, accepted: 5, pending: 0, rejected: 0 },
    { contributor: C, accepted: 9, pending: 1, rejected: 0 },
    { contributor: '0x4444444444444444444444444444444444444444', accepted: 5, pending: 0, rejected: 0 },
  ]);
  assert.deepEqual(lb.map((e) => [e.contributor.slice(0, 4), e.rank, e.acceptanceBps]), [
    ['0x33', 1, 9000],
    ['0x22', 2, 10000],
    ['0x44', 2, 10000],
    ['0x11', 4, 5000],
  ]);
});

test('policies: defaults, chain mirror, votes, access, quotas', () => {
  const p = PoliciesSchema.parse({});
  assert.equal(p.access.kind, 'open');
  assert.equal(p.quota.userUploadsPerDay, 20);
  const paid = PoliciesSchema.parse({ access: { kind: 'paid', priceWei: '1000' }, validation: { kind: 'validators', approvals: 2 } });
  assert.deepEqual(chainPolicy(paid), { accessPolicy: 2, accessPrice: 1000n, requiredApprovals: 2 });
  assert.throws(() => PoliciesSchema.parse({ access: { kind: 'paid', priceWei: '0' } }));
  assert.equal(decideStatus(paid.validation, 1, 1), 'pending');
  assert.equal(decideStatus(paid.validation, 2, 1), 'accepted');
  assert.equal(decideStatus(paid.validation, 0, 2), 'rejected');
  const approval = PoliciesSchema.parse({ access: { kind: 'approval' } });
  const none = { isOwner: false, isValidator: false, hasAccess: false };
  assert.equal(canContribute(approval, none), false);
  assert.equal(canContribute(approval, { ...none, hasAccess: true }), true);
  assert.equal(canContribute(paid, none), true);
  assert.equal(canRead(paid, none), false);
  assert.equal(canRead(p, none), true);
  checkQuota(p.quota, { userBytes: 0, userUploads: 19, datanetBytes: 0 }, 100);
  assert.throws(() => checkQuota(p.quota, { userBytes: 0, userUploads: 20, datanetBytes: 0 }, 100), (e: OpenLedgerError) => e.status === 429);
  assert.throws(() => checkQuota(p.quota, { userBytes: 10 * 1024 * 1024 - 10, userUploads: 0, datanetBytes: 0 }, 100), (e: OpenLedgerError) => e.code === 'quota_exceeded');
});

test('snapshot round-trips with hash checks; export carries row ids in the format', () => {
  const rows = [
    { id: 2, hash: rowHash('alpaca', { instruction: 'i2', output: 'o2' }), contributor: B, data: { instruction: 'i2', output: 'o2' } },
    { id: 1, hash: rowHash('alpaca', { instruction: 'i1', input: 'x', output: 'o1' }), contributor: A, data: { instruction: 'i1', input: 'x', output: 'o1' } },
  ];
  const snap = snapshotJsonl('alpaca', rows);
  assert.equal(snap, snapshotJsonl('alpaca', [...rows].reverse()));
  assert.deepEqual(parseSnapshot('alpaca', snap).map((r) => r.id), [1, 2]);
  assert.throws(() => parseSnapshot('alpaca', snap.replace('o2', 'o3')), (e: OpenLedgerError) => e.code === 'snapshot_corrupt');
  const lines = exportJsonl('alpaca', rows).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { id: 1, hash: rows[1].hash, instruction: 'i1', input: 'x', output: 'o1' });
  assert.deepEqual(Object.keys(lines[1]), ['id', 'hash', 'instruction', 'output']);
});
