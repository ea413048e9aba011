/** The shapes the datanet API returns and the inputs of a contribution (shared by the flow files). */
import type { Address } from 'viem';
import type { Hex } from '../da/index.ts';
import type { RowData } from './formats.ts';
import type { VersionLeaf } from './merkle.ts';
import type { Policies } from './policy.ts';
import type { DatanetRecord, RowRecord, VersionRecord } from './repo.ts';

export type ContributionSource = { kind: 'file'; bytes: Uint8Array; filename: string } | { kind: 'rows'; rows: unknown };

export interface ContributeInput {
  contributor: Address;
  source: ContributionSource;
  nonce: bigint;
  deadline: bigint;
  signature: Hex;
}

/** A stored datanet as the API shows it: typed policies, the metadata URI, version and row counts. */
export interface DatanetView extends Omit<DatanetRecord, 'policies' | 'metadataBlob'> {
  policies: Policies;
  metadataURI: string;
  latestVersion: number;
  counts: { accepted: number; pending: number; rejected: number };
}

export interface RowView {
  id: number;
  uploadId: number;
  item: number;
  line: number | null;
  contributor: Address;
  hash: Hex;
  data: RowData;
  status: 'accepted' | 'pending' | 'rejected';
  reason: string | null;
  createdAt: number;
}

export interface VersionView {
  datanetId: number;
  version: number;
  merkleRoot: Hex;
  rowCount: number;
  snapshotId: Hex;
  daCommitment: Hex;
  txHash: Hex;
  blockNumber: number;
  createdAt: number;
}

export interface ProofView {
  datanetId: number;
  version: number;
  rowId: number;
  leaf: VersionLeaf;
  proof: Hex[];
  /** Root in the node's store. */
  root: Hex;
  /** Root DatanetRegistry holds for this version. */
  onChainRoot: Hex;
  /** The proof verifies against the on-chain root. */
  verified: boolean;
}

export const rowView = (r: RowRecord): RowView => ({
  id: r.id,
  uploadId: r.uploadId,
  item: r.item,
  line: r.line,
  contributor: r.contributor,
  hash: r.hash,
  data: r.data as RowData,
  status: r.status,
  reason: r.reason,
  createdAt: r.createdAt,
});
export const versionView = (v: VersionRecord): VersionView => ({
  datanetId: v.datanetId,
  version: v.version,
  merkleRoot: v.merkleRoot,
  rowCount: v.rowCount,
  snapshotId: v.snapshotId,
  daCommitment: v.daCommitment,
  txHash: v.txHash,
  blockNumber: v.blockNumber,
  createdAt: v.createdAt,
});

