import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, type Address } from 'viem';
import { randomBytes } from 'node:crypto';
import { VersionTree, verifyRowProof, uploadRoot, uploadProof, verifyUploadProof } from './merkle.ts';
import type { Hex } from '../da/index.ts';

const rh = (): Hex => `0x${randomBytes(32).toString('hex')}`;
const ra = (): Address => getAddress(`0x${randomBytes(20).toString('hex')}`);

test('version tree equals OpenZeppelin StandardMerkleTree(["bytes32","address"]): roots and proofs', () => {
  for (const n of [1, 2, 3, 4, 5, 7, 8, 13, 33]) {
    const leaves = Array.from({ length: n }, () => ({ rowHash: rh(), contributor: ra() }));
    const ours = VersionTree.build(leaves);
    const oz = StandardMerkleTree.of(leaves.map((l): [string, string] => [l.rowHash, l.contributor]), ['bytes32', 'address']);
    assert.equal(ours.root, oz.root, `root n=${n}`);
    for (const l of leaves) {
      const p = ours.proof(l);
      assert.deepEqual(p.proof, oz.getProof([l.rowHash, l.contributor]), `proof n=${n}`);
      assert.ok(StandardMerkleTree.verify(oz.root, ['bytes32', 'address'], [l.rowHash, l.contributor], p.proof));
      assert.ok(verifyRowProof(ours.root, l, p.proof));
    }
  }
});

test('async build (yields while hashing) gives the same tree', async () => {
  const leaves = Array.from({ length: 2500 }, () => ({ rowHash: rh(), contributor: ra() }));
  const a = VersionTree.build(leaves);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const b = await VersionTree.buildAsync(leaves);
  clearInterval(timer);
  assert.equal(b.root, a.root);
  assert.deepEqual(b.proof(leaves[1234]), a.proof(leaves[1234]));
  assert.ok(ticks > 0, 'the event loop ran while the tree was built');
});

test('upload roots: order-free, per-row proofs, tamper-evident', () => {
  const hashes = Array.from({ length: 9 }, rh);
  const root = uploadRoot(hashes);
  assert.equal(uploadRoot([...hashes].reverse()), root);
  for (const h of hashes) assert.ok(verifyUploadProof(root, h, uploadProof(hashes, h)!));
  assert.equal(uploadProof(hashes, rh()), null);
  assert.equal(verifyUploadProof(root, rh(), uploadProof(hashes, hashes[0])!), false);
  assert.notEqual(uploadRoot(hashes.slice(1)), root);
});
