/**
 * What the flow files (create, contribute, review, publish, access) need from the datanet service:
 * its store, chain and DA handles and the shared checks. `DatanetService` implements it; the flows
 * are plain functions over it, one file per flow, the way src/chain/actions/ has one file per call.
 */
import type { Address } from 'viem';
import type { Chain } from '../chain/index.ts';
import type { BlobStore, Hex } from '../da/index.ts';
import type { ChainIndexRepo } from '../store/index.ts';
import type { UploadLimits } from './limits.ts';
import type { VersionTree } from './merkle.ts';
import type { ParsePool } from './parse/pool.ts';
import type { AccessFacts, Policies } from './policy.ts';
import type { DatanetRecord, DatanetRepo, VersionRecord } from './repo.ts';
import type { ContributionDomainInput } from './signature.ts';
import type { ExistingRows } from './validate.ts';
import type { DatanetView } from './views.ts';

export interface DatanetContext {
  readonly repo: DatanetRepo;
  readonly limits: UploadLimits;
  readonly chain: Chain;
  readonly chainIndex: ChainIndexRepo | null;
  readonly blobs: BlobStore;
  /** Smallest stake (wei) a validator needs to vote. */
  readonly minStake: bigint;
  /** Unix seconds. */
  readonly now: () => number;
  /** Dedup index per datanet (contribute builds it, review drops it when rows are rejected). */
  readonly dedup: Map<number, ExistingRows>;
  /** Loaded version trees by "datanet:version". */
  readonly trees: Map<string, VersionTree>;
  readonly parser: ParsePool;
  readonly domain: ContributionDomainInput;
  /** Runs `fn` after every earlier locked call for the same datanet (uploads, reviews, publishes). */
  locked<T>(datanetId: number, fn: () => Promise<T>): Promise<T>;
  /** The stored datanet, or 404. */
  record(id: number): DatanetRecord;
  policies(d: DatanetRecord): Policies;
  view(d: DatanetRecord): DatanetView;
  facts(id: number, account: Address | null): Promise<AccessFacts & { owner: Address }>;
  requireOwner(id: number, caller: Address): Promise<void>;
  requireRead(id: number, caller: Address | null): Promise<void>;
  /** Approval / paid datanets' bytes sealed for DA (sealed.ts); open ones as they are. */
  sealFor(p: Policies, bytes: Uint8Array): Uint8Array;
  cacheTree(id: number, version: number, tree: VersionTree): VersionTree;
  version(id: number, version: number): VersionRecord;
  creditsOf(id: number, txHash: Hex): Array<{ contributor: string; amountWei: string }>;
}
