import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, type Address } from 'viem';
import type { Hex } from '../da/index.ts';

/**
 * Version trees. A version's root commits to its accepted rows: one leaf per row,
 *   leaf = keccak256(bytes.concat(keccak256(abi.encode(bytes32 rowHash, address contributor))))
 * (OpenZeppelin's StandardMerkleTree: double-hashed leaves, sorted pairs, leaves sorted), so a
 * proof shows both that the row is in the version and who gets credit for it. The same scheme
 * verifies on chain with OpenZeppelin's MerkleProof.verify.
 *
 * Upload trees (`uploadRoot`) commit to the row hashes of one upload, so a contributor signs a whole
 * upload once (see signature.ts) and any single row can later be shown to be part of it.
 */
export const VERSION_LEAF = ['bytes32', 'address'] as const;
export const UPLOAD_LEAF = ['bytes32'] as const;

export interface VersionLeaf {
  rowHash: Hex;
  contributor: Address;
}

export interface RowProof {
  root: Hex;
  leaf: VersionLeaf;
  proof: Hex[];
}

export class VersionTree {
  private readonly index = new Map<string, number>();
  private constructor(private readonly tree: StandardMerkleTree<[string, string]>) {
    for (const [i, [h, a]] of tree.entries()) this.index.set(`${h.toLowerCase()}:${a.toLowerCase()}`, i);
  }

  static build(leaves: VersionLeaf[]): VersionTree {
    if (leaves.length === 0) throw new Error('a version needs at least one row');
    return new VersionTree(StandardMerkleTree.of(leaves.map((l): [string, string] => [l.rowHash, getAddress(l.contributor)]), [...VERSION_LEAF]));
  }

  /** Loads a tree saved with `dump()` (the store keeps it beside the version). */
  static load(dump: unknown): VersionTree {
    return new VersionTree(StandardMerkleTree.load(dump as never));
  }

  get root(): Hex {
    return this.tree.root as Hex;
  }

  get size(): number {
    return this.index.size;
  }

  dump(): unknown {
    return this.tree.dump();
  }

  proof(leaf: VersionLeaf): RowProof {
    const i = this.index.get(`${leaf.rowHash.toLowerCase()}:${leaf.contributor.toLowerCase()}`);
    if (i === undefined) throw new Error(`row ${leaf.rowHash} by ${leaf.contributor} is not in this version`);
    return { root: this.root, leaf: { rowHash: leaf.rowHash, contributor: getAddress(leaf.contributor) }, proof: this.tree.getProof(i) as Hex[] };
  }
}

/** Checks a row proof against a root (e.g. the one `DatanetRegistry.getVersion` returns). */
export function verifyRowProof(root: Hex, leaf: VersionLeaf, proof: Hex[]): boolean {
  try {
    return StandardMerkleTree.verify(root, [...VERSION_LEAF], [leaf.rowHash, getAddress(leaf.contributor)], proof);
  } catch {
    return false;
  }
}

/** Root over one upload's row hashes (order-free: leaves are sorted). */
export function uploadRoot(rowHashes: Hex[]): Hex {
  if (rowHashes.length === 0) throw new Error('an upload needs at least one row');
  return StandardMerkleTree.of(rowHashes.map((h) => [h]), [...UPLOAD_LEAF]).root as Hex;
}

export function uploadTree(rowHashes: Hex[]): StandardMerkleTree<[string]> {
  return StandardMerkleTree.of(rowHashes.map((h) => [h] as [string]), [...UPLOAD_LEAF]);
}
