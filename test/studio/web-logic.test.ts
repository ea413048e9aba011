/**
 * The studio's pure pieces, held to the node's own implementations: the browser's Merkle check
 * (web/src/merkle.ts) against the node's VersionTree, the cost per answer, the file checks
 * before an upload, OPEN amounts typed on the wallet page (bigint wei, never floats).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak256, toHex, type Hex } from 'viem';
import { VersionTree } from '../../src/datanets/index.ts';
import { processProof, verifyRowProof, versionLeaf } from '../../web/src/merkle.ts';
import { costWei } from '../../web/src/cost.ts';
import { checkFile, MAX_UPLOAD_BYTES } from '../../web/src/files.ts';
import { DEFAULT_LIMITS } from '../../src/datanets/limits.ts';
import { parseOpen } from '../../web/src/amount.ts';

const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, '0')}` as Hex;

test('the browser check accepts every proof of the node\'s VersionTree and nothing tampered', () => {
  for (const n of [1, 2, 3, 7, 33]) {
    const leaves = Array.from({ length: n }, (_, i) => ({ rowHash: keccak256(toHex(`row ${i}`)), contributor: addr(i % 4) }));
    const tree = VersionTree.build(leaves);
    for (const l of leaves) {
      const p = tree.proof(l);
      assert.ok(verifyRowProof({ rowHash: l.rowHash, contributor: l.contributor, proof: p.proof, root: tree.root }), `n=${n}`);
      assert.equal(processProof(versionLeaf(l.rowHash, l.contributor), p.proof), tree.root);
      // another contributor, another row, a changed step: all fail
      assert.ok(!verifyRowProof({ rowHash: l.rowHash, contributor: addr(9), proof: p.proof, root: tree.root }));
      assert.ok(!verifyRowProof({ rowHash: keccak256(toHex('forged')), contributor: l.contributor, proof: p.proof, root: tree.root }));
      if (p.proof.length) assert.ok(!verifyRowProof({ rowHash: l.rowHash, contributor: l.contributor, proof: [keccak256('0x00'), ...p.proof.slice(1)], root: tree.root }));
    }
  }
});

test('cost of an answer: tokens × price per 1k, integer wei, rounded down', () => {
  const m = { id: 'x', kind: 'fine-tuned', owned_by: '0x', parent: 'starter', model_id: '1', created: 0, price_per_1k_input: '1000', price_per_1k_output: '3000' };
  assert.equal(costWei(m, { prompt_tokens: 14, completion_tokens: 39 }), 14n + 117n);
  assert.equal(costWei({ ...m, price_per_1k_input: '1', price_per_1k_output: '1' }, { prompt_tokens: 999, completion_tokens: 0 }), 0n);
  assert.equal(costWei({ ...m, price_per_1k_input: '500000000000000000', price_per_1k_output: '500000000000000000' }, { prompt_tokens: 14, completion_tokens: 39 }), 26_500_000_000_000_000n);
  assert.equal(costWei(undefined, { prompt_tokens: 10, completion_tokens: 10 }), 0n);
});

test('file checks before an upload: type, size (the node\'s limit), empty', () => {
  assert.equal(MAX_UPLOAD_BYTES, DEFAULT_LIMITS.maxUploadBytes);
  const f = (name: string, size: number) => ({ name, size });
  assert.equal(checkFile(f('rows.jsonl', 10)), null);
  assert.equal(checkFile(f('Notes.MD', 10)), null);
  assert.equal(checkFile(f('photo.png', 10))?.code, 'unsupported_file_type');
  assert.equal(checkFile(f('noext', 10))?.code, 'unsupported_file_type');
  assert.equal(checkFile(f('big.csv', MAX_UPLOAD_BYTES + 1))?.code, 'file_too_large');
  assert.equal(checkFile(f('ok.csv', MAX_UPLOAD_BYTES)), null);
  assert.equal(checkFile(f('empty.txt', 0))?.code, 'empty_upload');
  assert.match(checkFile(f('photo.png', 1))!.hint!, /\.jsonl/);
});

test('amounts typed on the wallet page become exact wei, and anything else a clear error', () => {
  assert.equal(parseOpen('10'), 10n * 10n ** 18n);
  assert.equal(parseOpen(' 0.25 '), 25n * 10n ** 16n);
  assert.equal(parseOpen('0.000000000000000001'), 1n);
  assert.equal(parseOpen('123456789.123456789123456789'), 123456789123456789123456789n);
  for (const bad of ['', 'ten', '-1', '1e18', '0', '0.0', '1.0000000000000000001', '1,5', '0x10', 'NaN']) {
    assert.throws(() => parseOpen(bad), (e: any) => e.code === 'invalid_amount' && e.param === 'amount' && !!e.hint, bad);
  }
  assert.throws(() => parseOpen('x', 'cap'), (e: any) => e.param === 'cap');
});
