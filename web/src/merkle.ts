/**
 * A version's Merkle proof checked in the browser, the way DatanetRegistry (OpenZeppelin
 * MerkleProof) checks it: leaf = keccak256(keccak256(abi.encode(bytes32 rowHash, address
 * contributor))), pairs hashed sorted (StandardMerkleTree). See docs/datanets.md.
 */
import { concat, encodeAbiParameters, keccak256, type Hex } from 'viem';

export function versionLeaf(rowHash: Hex, contributor: Hex): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'address' }], [rowHash, contributor])));
}

const hashPair = (a: Hex, b: Hex): Hex => (BigInt(a) < BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a])));

/** The root a proof leads to from a leaf. */
export function processProof(leaf: Hex, proof: Hex[]): Hex {
  return proof.reduce<Hex>((h, p) => hashPair(h, p), leaf);
}

export function verifyRowProof(p: { rowHash: Hex; contributor: Hex; proof: Hex[]; root: Hex }): boolean {
  return processProof(versionLeaf(p.rowHash, p.contributor), p.proof).toLowerCase() === p.root.toLowerCase();
}
