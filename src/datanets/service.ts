import type { Account, Address } from 'viem';
import type { Chain } from '../chain/index.ts';
import type { BlobStore, Hex } from '../da/index.ts';
import type { ChainIndexRepo, Db } from '../store/index.ts';
import { forbidden, notFound } from '../util/errors.ts';
import type { DataFormat, RowData } from './formats.ts';
import type { CreateDatanetInput } from './create.ts';
import { DEFAULT_LIMITS, type UploadLimits } from './limits.ts';
import { leaderboard, type LeaderboardEntry } from './leaderboard.ts';
import type { VersionTree } from './merkle.ts';
import { PoliciesSchema, canRead, type AccessFacts, type Policies } from './policy.ts';
import { DatanetRepo, type DatanetRecord, type VersionRecord } from './repo.ts';
import type { ContributionDomainInput } from './signature.ts';
import { exportJsonl, type VersionRow } from './snapshot.ts';
import { seal } from './sealed.ts';
import { ParsePool } from './parse/pool.ts';
import type { DatanetContext } from './context.ts';
import { rowView, versionView, type ContributeInput, type ContributionSource, type DatanetView, type ProofView, type RowView, type VersionView } from './views.ts';
import * as createFlow from './create.ts';
import * as contributeFlow from './contribute.ts';
import * as reviewFlow from './review.ts';
import * as publishFlow from './publish.ts';
import * as accessFlow from './access.ts';
import type { UploadReport } from './validate.ts';
import type { ExistingRows } from './validate.ts';
import { getDatanet, hasAccess, isValidator } from './chain-facts.ts';

/**
 * The datanet service: the node's one handle on datanets. It holds the store, chain and DA handles
 * and the checks every flow shares (records, policies, owner / read access, per-datanet locks); the
 * flows themselves live one per file, as src/chain/actions/ has one file per contract call:
 *
 *   create.ts      metadata → DA blob; DatanetRegistry.createDatanetFor(caller) by the operator
 *   contribute.ts  parse → signature (EIP-712, one per upload) → quota → validate + dedup → raw file
 *                  to DA → rows stored all or nothing (chunked, yielding)
 *   review.ts      staked validators listed on chain vote; the policy decides accepted/rejected
 *   publish.ts     accepted rows → Merkle root + JSONL snapshot in DA → DatanetRegistry.commitVersion;
 *                  proofs checked against the root on chain
 *   access.ts      validators and grants on chain; paid access (purchaseAccess on chain; the price
 *                  credited to contributors by accepted rows in datanet_credits)
 *   reconcile.ts   at start: what a crash left on chain but not in the store, rebuilt from events + DA
 */
export { CreateDatanetInput } from './create.ts';

export interface DatanetServiceDeps {
  db: Db;
  /** The chain event index (store.chainIndex): lets the service credit purchases made directly on chain. */
  chainIndex?: ChainIndexRepo;
  chain: Chain;
  blobs: BlobStore;
  limits?: Partial<UploadLimits>;
  /** Smallest stake (OPEN wei) a validator needs to vote; default 1 wei (any stake). */
  minValidatorStakeWei?: bigint;
  /** Unix seconds; tests move time. */
  now?: () => number;
  /** Seals raw uploads and snapshots of approval / paid datanets before they go to DA (sealed.ts). */
  daKey?: Uint8Array | null;
}

export type { ContributionSource, ContributeInput, DatanetView, RowView, VersionView, ProofView } from './views.ts';

export class DatanetService implements DatanetContext {
  readonly repo: DatanetRepo;
  readonly limits: UploadLimits;
  readonly chain: Chain;
  readonly chainIndex: ChainIndexRepo | null;
  readonly blobs: BlobStore;
  readonly minStake: bigint;
  readonly now: () => number;
  readonly daKey: Uint8Array | null;
  readonly dedup = new Map<number, ExistingRows>();
  /** Loaded version trees, by "datanet:version" (rebuilding one costs ~3 keccaks per row). */
  readonly trees = new Map<string, VersionTree>();
  /** Parses uploads on a worker thread (parse/pool.ts). */
  readonly parser = new ParsePool();
  readonly locks = new Map<number, Promise<unknown>>();

  constructor(deps: DatanetServiceDeps) {
    this.repo = new DatanetRepo(deps.db);
    this.chain = deps.chain;
    this.chainIndex = deps.chainIndex ?? null;
    this.blobs = deps.blobs;
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
    this.minStake = deps.minValidatorStakeWei ?? 1n;
    this.now = deps.now ?? (() => Math.floor(Date.now() / 1000));
    this.daKey = deps.daKey ?? null;
  }

  /** Approval and paid datanets' data goes to DA sealed (only the node reads it back); open data stays plain. */
  sealFor(p: Policies, bytes: Uint8Array): Uint8Array {
    if (p.access.kind === 'open' || !this.daKey) return bytes;
    return seal(bytes, this.daKey);
  }

  /** Stops the parse worker (the node's shutdown; the worker never holds the process open while idle). */
  close(): Promise<void> {
    return this.parser.close();
  }

  /** EIP-712 domain of contributions on this node's chain. */
  get domain(): ContributionDomainInput {
    return { chainId: this.chain.chainId, registry: this.chain.addresses.contracts.DatanetRegistry };
  }

  /** Runs `fn` after every earlier locked call for the same datanet has finished. */
  async locked<T>(datanetId: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(datanetId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(datanetId, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(datanetId) === tail) this.locks.delete(datanetId);
    }
  }

  // ---- datanets ----

  async create(caller: Address, input: CreateDatanetInput): Promise<DatanetView> {
    return createFlow.create(this, caller, input);
  }

  record(id: number): DatanetRecord {
    const d = this.repo.datanet(id);
    if (!d) throw notFound(`datanet ${id} not found`, { param: 'id', code: 'datanet_not_found', hint: 'list datanets with GET /v1/datanets' });
    return d;
  }

  policies(d: DatanetRecord): Policies {
    return PoliciesSchema.parse(d.policies);
  }

  view(d: DatanetRecord): DatanetView {
    const c = this.repo.contributorCounts(d.id).reduce((a, x) => ({ accepted: a.accepted + x.accepted, pending: a.pending + x.pending, rejected: a.rejected + x.rejected }), { accepted: 0, pending: 0, rejected: 0 });
    return {
      id: d.id,
      name: d.name,
      summary: d.summary,
      description: d.description,
      tags: d.tags,
      license: d.license,
      format: d.format,
      labels: d.labels,
      policies: this.policies(d),
      owner: d.owner,
      metadataURI: `da://${d.metadataBlob}`,
      txHash: d.txHash,
      createdAt: d.createdAt,
      latestVersion: this.repo.latestVersion(d.id)?.version ?? 0,
      counts: c,
    };
  }

  get(id: number): DatanetView {
    return this.view(this.record(id));
  }

  list(q: { limit?: number; offset?: number; tag?: string; owner?: string } = {}): DatanetView[] {
    return this.repo.datanets({ limit: Math.min(q.limit ?? 50, 200), offset: q.offset ?? 0, tag: q.tag, owner: q.owner }).map((d) => this.view(d));
  }

  /** Owner (per chain), validator and access facts for `account`. */
  async facts(id: number, account: Address | null): Promise<AccessFacts & { owner: Address }> {
    const on = await getDatanet(this.chain, BigInt(id));
    if (!account) return { owner: on.owner, isOwner: false, isValidator: false, hasAccess: on.accessPolicy === 0 };
    const [v, a] = await Promise.all([isValidator(this.chain, BigInt(id), account), hasAccess(this.chain, BigInt(id), account)]);
    return { owner: on.owner, isOwner: on.owner.toLowerCase() === account.toLowerCase(), isValidator: v, hasAccess: a };
  }

  async requireOwner(id: number, caller: Address): Promise<void> {
    const f = await this.facts(id, caller);
    if (!f.isOwner) {
      throw forbidden(`only the owner of datanet ${id} (${f.owner}) can do this`, { code: 'not_datanet_owner', hint: 'sign in as the datanet owner' });
    }
  }

  async requireRead(id: number, caller: Address | null): Promise<void> {
    const d = this.record(id);
    const p = this.policies(d);
    if (p.access.kind === 'open') return;
    const f = await this.facts(id, caller);
    if (!canRead(p, f)) {
      throw forbidden(`no read access to datanet ${id} (${p.access.kind})`, {
        code: 'no_read_access',
        hint: p.access.kind === 'paid' ? `buy access (POST /v1/datanets/${id}/purchase, ${p.access.priceWei} wei OPEN)` : 'ask the datanet owner to grant you access',
      });
    }
  }

  // ---- owner actions mirrored on chain ----

  async addValidator(id: number, caller: Address, validator: Address): Promise<{ txHash: Hex }> {
    return accessFlow.addValidator(this, id, caller, validator);
  }

  async grantAccess(id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
    return accessFlow.grantAccess(this, id, caller, grantee);
  }

  async revokeAccess(id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
    return accessFlow.revokeAccess(this, id, caller, grantee);
  }

  // ---- contributions ----


  /**
   * Step one for wallets: parse the upload and return what to sign (EIP-712 typed data with the
   * rows root, a fresh nonce and a deadline). Stores nothing.
   */
  async prepareContribution(id: number, contributor: Address, source: ContributionSource, ttlSeconds = 3600) {
    return contributeFlow.prepareContribution(this, id, contributor, source, ttlSeconds);
  }

  /** Validates and stores one signed upload, all or nothing; returns its report. */
  async contribute(id: number, input: ContributeInput): Promise<UploadReport & { uploadId: number; blobId: Hex; rowsRoot: Hex }> {
    return contributeFlow.contribute(this, id, input);
  }


  upload(id: number, uploadId: number) {
    this.record(id);
    const u = this.repo.upload(id, uploadId);
    if (!u) throw notFound(`upload ${uploadId} not found in datanet ${id}`, { param: 'uploadId', code: 'upload_not_found', hint: 'use the uploadId a contribution returned' });
    return u;
  }

  /** An upload record as a caller may see it: open datanets to anyone, others to the contributor and readers with access. */
  async uploadFor(id: number, uploadId: number, caller: Address | null) {
    const u = this.upload(id, uploadId);
    if (caller && caller.toLowerCase() === u.contributor.toLowerCase()) return u;
    await this.requireRead(id, caller);
    return u;
  }

  async rows(id: number, caller: Address | null, q: { status?: 'accepted' | 'pending' | 'rejected'; contributor?: string; limit?: number; afterId?: number }): Promise<RowView[]> {
    this.record(id);
    await this.requireRead(id, caller);
    return this.repo.rows(id, { status: q.status, contributor: q.contributor, limit: Math.min(q.limit ?? 100, 1000), afterId: q.afterId }).map(rowView);
  }

  async row(id: number, caller: Address | null, rowId: number): Promise<RowView & { votes: ReturnType<DatanetRepo['votes']> }> {
    this.record(id);
    await this.requireRead(id, caller);
    const r = this.repo.row(id, rowId);
    if (!r) throw notFound(`row ${rowId} not found in datanet ${id}`, { param: 'rowId', code: 'row_not_found', hint: 'list rows with GET /v1/datanets/:id/rows' });
    return { ...rowView(r), votes: this.repo.votes(rowId) };
  }

  // ---- review ----

  /** A staked validator of the datanet approves or rejects pending rows (one vote each, last wins). */
  async review(id: number, validator: Address, rowIds: number[], decision: 'approve' | 'reject', reason: string) {
    return reviewFlow.review(this, id, validator, rowIds, decision, reason);
  }

  leaderboard(id: number): LeaderboardEntry[] {
    this.record(id);
    return leaderboard(this.repo.contributorCounts(id));
  }

  // ---- versions ----

  async publish(id: number, caller: Address): Promise<VersionView> {
    return publishFlow.publish(this, id, caller);
  }

  cacheTree(id: number, version: number, tree: VersionTree): VersionTree {
    const key = `${id}:${version}`;
    this.trees.delete(key);
    this.trees.set(key, tree);
    while (this.trees.size > 8) this.trees.delete(this.trees.keys().next().value!);
    return tree;
  }

  versions(id: number): VersionView[] {
    this.record(id);
    return this.repo.versions(id).map(versionView);
  }

  version(id: number, version: number): VersionRecord {
    this.record(id);
    const v = this.repo.version(id, version);
    if (!v) throw notFound(`datanet ${id} has no version ${version}`, { param: 'version', code: 'version_not_found', hint: 'list versions with GET /v1/datanets/:id/versions' });
    return v;
  }

  versionView(id: number, version: number): VersionView {
    return versionView(this.version(id, version));
  }

  /** A row's inclusion proof in a version, checked against the root DatanetRegistry holds. */
  async proof(id: number, version: number, rowId: number): Promise<ProofView> {
    return publishFlow.proof(this, id, version, rowId);
  }

  /** Training export of a version: JSONL in the datanet's format with row ids. */
  async exportVersion(id: number, version: number, caller: Address | null): Promise<string> {
    const d = this.record(id);
    this.version(id, version);
    await this.requireRead(id, caller);
    return exportJsonl(d.format, this.repo.versionRows(id, version).map((r) => ({ id: r.id, hash: r.hash, contributor: r.contributor, data: r.data as RowData })));
  }

  /**
   * For training (the factory): the rows of one version with their ids, hashes and contributors,
   * after checking that `caller` may use it (open, granted, bought, owner or validator), plus the
   * version's root so the training record can name exactly what it saw.
   */
  async trainingRows(id: number, version: number, caller: Address): Promise<{ datanetId: number; version: number; format: DataFormat; merkleRoot: Hex; rows: VersionRow[] }> {
    const d = this.record(id);
    const v = this.version(id, version);
    await this.requireRead(id, caller);
    const rows = this.repo.versionRows(id, version).map((r) => ({ id: r.id, hash: r.hash, contributor: r.contributor, data: r.data as RowData }));
    return { datanetId: id, version, format: d.format, merkleRoot: v.merkleRoot, rows };
  }

  // ---- paid access ----

  /**
   * Records a purchase of a paid datanet and credits the price to its contributors by accepted rows
   * (all to the owner while there are none). With `account` (a key the node holds) the node makes
   * the on-chain purchase; otherwise `txHash` must be the buyer's own `purchaseAccess` transaction.
   */
  async purchase(id: number, buyer: Address, opts: { account?: Account; txHash?: Hex }) {
    return accessFlow.purchase(this, id, buyer, opts);
  }

  /**
   * Credits purchases that buyers made directly on chain (AccessPurchased events in the chain index)
   * and that the node has not recorded yet. Returns how many were added.
   */
  syncPurchases(id: number): number {
    return accessFlow.syncPurchases(this, id);
  }

  creditsOf(id: number, txHash: Hex) {
    return this.repo.credits(id).filter((c) => c.txHash === txHash).map((c) => ({ contributor: c.contributor, amountWei: c.amountWei.toString() }));
  }

  /** Total credited to each contributor of a datanet from paid access (wei). */
  credits(id: number): Array<{ contributor: Address; amountWei: string }> {
    this.syncPurchases(id);
    const sum = new Map<Address, bigint>();
    for (const c of this.repo.credits(id)) sum.set(c.contributor, (sum.get(c.contributor) ?? 0n) + c.amountWei);
    return [...sum].map(([contributor, a]) => ({ contributor, amountWei: a.toString() }));
  }
}
