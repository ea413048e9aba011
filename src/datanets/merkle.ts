import { getAddress, hexToBytes, concat, type Address } from 'viem';
import type { Hex } from '../da/index.ts';
import { SortedTree, keccak, sha256, rootFromProof } from './tree.ts';

/**
 * Version trees. A version's root commits to its accepted rows: one leaf per row,
 *   leaf = keccak256(bytes.concat(keccak256(abi.encode(bytes32 rowHash, address contributor))))
 * with sorted pairs and sorted leaves: exactly OpenZeppelin's StandardMerkleTree with leaf types
 * ["bytes32", "address"], so a proof verifies on chain with MerkleProof.verify and off chain with
 * `StandardMerkleTree.verify` (tree.test.ts checks both agree). A proof shows that the row is in the
 * version and who gets credit for it.
 *
 * Upload trees (`uploadRoot`) commit to the row hashes of one upload, so a contributor signs a whole
 * upload once (signature.ts) and any one row can later be shown to be part of it. They are only
 * checked off chain, so they use sha256 (native in Node):
 *   leaf = sha256(0x00 ‖ rowHash), parent = sha256(sorted pair), leaves sorted.
 */
export const VERSION_LEAF = ['bytes32', 'address'] as const;

export interface VersionLeaf {
  rowHash: Hex;
  contributor: Address;
}

export interface RowProof {
  root: Hex;
  leaf: VersionLeaf;
  proof: Hex[];
}

/**
 * The double-hashed leaf of a version row. abi.encode(bytes32, address) is 64 bytes: the hash, then
 * the address left-padded with 12 zero bytes; written directly (the general ABI encoder and address
 * checksumming cost more than the two hashes).
 */
export function versionLeafHash(leaf: VersionLeaf): Uint8Array {
  const enc = new Uint8Array(64);
  enc.set(hexToBytes(leaf.rowHash), 0);
  const a = hexToBytes(leaf.contributor);
  if (a.length !== 20) throw new Error(`not an address: ${leaf.contributor}`);
  enc.set(a, 44);
  return keccak(keccak(enc));
}

export class VersionTree {
  private constructor(
    private readonly tree: SortedTree,
    readonly leaves: VersionLeaf[],
  ) {}

  static build(leaves: VersionLeaf[]): VersionTree {
    const norm = VersionTree.normalize(leaves);
    return new VersionTree(new SortedTree(norm.map(versionLeafHash), keccak), norm);
  }

  /** `build` that yields to the event loop while hashing (publish and proof loading use this). */
  static async buildAsync(leaves: VersionLeaf[]): Promise<VersionTree> {
    const norm = VersionTree.normalize(leaves);
    const hashes: Uint8Array[] = [];
    for (let i = 0; i < norm.length; i++) {
      hashes.push(versionLeafHash(norm[i]));
      if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
    }
    return new VersionTree(await SortedTree.build(hashes, keccak), norm);
  }

  private static normalize(leaves: VersionLeaf[]): VersionLeaf[] {
    if (leaves.length === 0) throw new Error('a version needs at least one row');
    const checksummed = new Map<string, Address>();
    const addr = (a: Address) => {
      let c = checksummed.get(a);
      if (!c) checksummed.set(a, (c = getAddress(a)));
      return c;
    };
    return leaves.map((l) => ({ rowHash: l.rowHash, contributor: addr(l.contributor) }));
  }

  /** Rebuilds a tree saved with `dump()` (the store keeps the leaves beside the version). */
  static load(dump: unknown): VersionTree {
    return VersionTree.build(VersionTree.leavesOf(dump));
  }

  static loadAsync(dump: unknown): Promise<VersionTree> {
    return VersionTree.buildAsync(VersionTree.leavesOf(dump));
  }

  private static leavesOf(dump: unknown): VersionLeaf[] {
    const d = dump as { format?: string; leaves?: Array<[Hex, Address]> };
    if (d?.format !== 'openledger-version-v1' || !Array.isArray(d.leaves)) throw new Error('not a version tree dump');
    return d.leaves.map(([rowHash, contributor]) => ({ rowHash, contributor }));
  }

  get root(): Hex {
    return this.tree.root;
  }

  get size(): number {
    return this.leaves.length;
  }

  dump(): { format: 'openledger-version-v1'; leafEncoding: readonly string[]; leaves: Array<[Hex, Address]> } {
    return { format: 'openledger-version-v1', leafEncoding: VERSION_LEAF, leaves: this.leaves.map((l) => [l.rowHash, l.contributor]) };
  }

  proof(leaf: VersionLeaf): RowProof {
    const norm = { rowHash: leaf.rowHash, contributor: getAddress(leaf.contributor) };
    const proof = this.tree.proof(versionLeafHash(norm));
    if (!proof) throw new Error(`row ${leaf.rowHash} by ${leaf.contributor} is not in this version`);
    return { root: this.root, leaf: norm, proof };
  }
}

/** Checks a row proof against a root (e.g. the one `DatanetRegistry.getVersion` returns). */
export function verifyRowProof(root: Hex, leaf: VersionLeaf, proof: Hex[]): boolean {
  try {
    return rootFromProof(versionLeafHash(leaf), proof, keccak).toLowerCase() === root.toLowerCase();
  } catch {
    return false;
  }
}

const uploadLeaf = (rowHash: Hex) => sha256(hexToBytes(concat(['0x00', rowHash])));

/** Root over one upload's row hashes (order-free: leaves are sorted). */
export function uploadRoot(rowHashes: Hex[]): Hex {
  if (rowHashes.length === 0) throw new Error('an upload needs at least one row');
  return new SortedTree(rowHashes.map(uploadLeaf), sha256).root;
}

/** Proof that a row hash is part of an upload's root. */
export function uploadProof(rowHashes: Hex[], rowHash: Hex): Hex[] | null {
  return new SortedTree(rowHashes.map(uploadLeaf), sha256).proof(uploadLeaf(rowHash));
}

export function verifyUploadProof(root: Hex, rowHash: Hex, proof: Hex[]): boolean {
  return rootFromProof(uploadLeaf(rowHash), proof, sha256).toLowerCase() === root.toLowerCase();
}
