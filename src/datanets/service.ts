import { getAddress, parseEventLogs, type Account, type Address } from 'viem';
import { z } from 'zod';
import { actions, artifacts, type Chain } from '../chain/index.ts';
import type { BlobStore, Hex } from '../da/index.ts';
import type { ChainIndexRepo, Db } from '../store/index.ts';
import { OpenLedgerError, forbidden, invalid, notFound } from '../util/errors.ts';
import { FORMATS, type DataFormat, type RowData } from './formats.ts';
import { DEFAULT_LIMITS, type UploadLimits } from './limits.ts';
import { leaderboard, type LeaderboardEntry } from './leaderboard.ts';
import { VersionTree, verifyRowProof, type VersionLeaf } from './merkle.ts';
import { signatureFromBytes, signatureToBytes } from './minhash.ts';
import { fileKindOf } from './parse/index.ts';
import { tooLarge } from './parse/index.ts';
import {
  PoliciesSchema,
  canContribute,
  canRead,
  chainPolicy,
  checkQuota,
  decideStatus,
  initialStatus,
  utcDayStart,
  type AccessFacts,
  type Policies,
} from './policy.ts';
import { DatanetRepo, type DatanetRecord, type RowRecord, type VersionRecord } from './repo.ts';
import { contributionTypedDataJson, verifyContribution, type ContributionDomainInput } from './signature.ts';
import { exportJsonl, snapshotJsonl, type VersionRow } from './snapshot.ts';
import { splitByRows } from './split.ts';
import { prepareRows, type PreparedUpload } from './upload.ts';
import { ParsePool } from './parse/pool.ts';
import { buildReport, emptyExisting, validateRecords, type ExistingRows, type UploadReport } from './validate.ts';
import { getDatanet, getVersion, hasAccess, isValidator, purchaseAccess, stakeOf } from './chain-facts.ts';

/**
 * The datanet service: the flows of issue 3 over the store, the chain and the DA layer.
 *
 *   create      metadata → DA blob; DatanetRegistry.createDatanetFor(caller) by the operator
 *   contribute  parse → signature (EIP-712, one per upload) → quota → validate + dedup → raw file
 *               to DA → one transaction (upload + rows); any failure stores nothing
 *   review      staked validators listed on chain vote; the policy decides accepted/rejected
 *   publish     accepted rows → Merkle root + JSONL snapshot in DA → DatanetRegistry.commitVersion
 *   proof       a row's proof from the stored tree, checked against the root on chain
 *   access      open / approval (grants on chain) / paid (purchaseAccess on chain; the price is
 *               credited to contributors by accepted rows in datanet_credits)
 *
 * Parsing and validation are async and yield every few hundred rows; uploads to one datanet are
 * serialised (dedup must see every earlier row), other datanets and other requests keep going.
 */
export const CreateDatanetInput = z.object({
  name: z.string().trim().min(1).max(100),
  summary: z.string().max(500).default(''),
  description: z.string().max(50_000).default(''),
  tags: z.array(z.string().trim().min(1).max(40)).max(20).default([]),
  license: z
    .string()
    .regex(/^[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*$/, 'must be an SPDX license id or expression, e.g. CC-BY-4.0')
    .default('CC-BY-4.0'),
  format: z.enum(FORMATS),
  labels: z.array(z.string().trim().min(1).max(100)).min(2).max(1000).optional(),
  policies: PoliciesSchema.default(PoliciesSchema.parse({})),
});
export type CreateDatanetInput = z.input<typeof CreateDatanetInput>;

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
}

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

const rowView = (r: RowRecord): RowView => ({
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
const versionView = (v: VersionRecord): VersionView => ({
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

export class DatanetService {
  readonly repo: DatanetRepo;
  readonly limits: UploadLimits;
  private readonly chain: Chain;
  private readonly chainIndex: ChainIndexRepo | null;
  private readonly blobs: BlobStore;
  private readonly minStake: bigint;
  private readonly now: () => number;
  private readonly dedup = new Map<number, ExistingRows>();
  /** Loaded version trees, by "datanet:version" (rebuilding one costs ~3 keccaks per row). */
  private readonly trees = new Map<string, VersionTree>();
  /** Parses uploads on a worker thread (parse/pool.ts). */
  private readonly parser = new ParsePool();
  private readonly locks = new Map<number, Promise<unknown>>();

  constructor(deps: DatanetServiceDeps) {
    this.repo = new DatanetRepo(deps.db);
    this.chain = deps.chain;
    this.chainIndex = deps.chainIndex ?? null;
    this.blobs = deps.blobs;
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
    this.minStake = deps.minValidatorStakeWei ?? 1n;
    this.now = deps.now ?? (() => Math.floor(Date.now() / 1000));
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
  private async locked<T>(datanetId: number, fn: () => Promise<T>): Promise<T> {
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
    const parsed = CreateDatanetInput.safeParse(input);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw invalid(`invalid datanet: ${i.path.join('.') || '(body)'}: ${i.message}`, { param: i.path.join('.') || null, code: 'invalid_datanet', hint: 'see POST /v1/datanets in /docs' });
    }
    const d = parsed.data;
    if (d.format === 'labelled' && !d.labels) {
      throw invalid('a labelled datanet needs its labels', { param: 'labels', code: 'labels_required', hint: 'pass labels: ["positive", "negative", …] (at least two)' });
    }
    if (d.format !== 'labelled' && d.labels) {
      throw invalid(`labels only apply to labelled datanets, not ${d.format}`, { param: 'labels', code: 'labels_not_applicable', hint: 'drop labels or use format "labelled"' });
    }
    const owner = getAddress(caller);
    const metadata = { name: d.name, summary: d.summary, description: d.description, tags: d.tags, license: d.license, format: d.format, labels: d.labels ?? null, policies: d.policies };
    const blob = await this.blobs.put(new TextEncoder().encode(jsonWei(metadata)));
    const metadataURI = `da://${blob.commitment}`;
    const cp = chainPolicy(d.policies);
    const res = await actions.createDatanet(this.chain, { metadataURI, accessPolicy: cp.accessPolicy, accessPrice: cp.accessPrice, requiredApprovals: cp.requiredApprovals, owner });
    const record: DatanetRecord = {
      id: Number(res.datanetId),
      name: d.name,
      summary: d.summary,
      description: d.description,
      tags: d.tags,
      license: d.license,
      format: d.format,
      labels: d.labels ?? null,
      policies: d.policies,
      owner,
      metadataBlob: blob.id,
      txHash: res.txHash,
      createdAt: this.now(),
    };
    this.repo.insertDatanet(record);
    return this.view(record);
  }

  private record(id: number): DatanetRecord {
    const d = this.repo.datanet(id);
    if (!d) throw notFound(`datanet ${id} not found`, { param: 'id', code: 'datanet_not_found', hint: 'list datanets with GET /v1/datanets' });
    return d;
  }

  private policies(d: DatanetRecord): Policies {
    return PoliciesSchema.parse(d.policies);
  }

  private view(d: DatanetRecord): DatanetView {
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

  private async requireOwner(id: number, caller: Address): Promise<void> {
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
    this.record(id);
    await this.requireOwner(id, caller);
    if (await isValidator(this.chain, BigInt(id), validator)) return { txHash: '0x' };
    const r = await actions.addValidator(this.chain, { datanetId: BigInt(id), validator: getAddress(validator) });
    return { txHash: r.txHash };
  }

  async grantAccess(id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
    const d = this.record(id);
    await this.requireOwner(id, caller);
    if (this.policies(d).access.kind === 'open') {
      throw invalid(`datanet ${id} is open: everyone has access already`, { code: 'grant_not_needed', hint: 'grants apply to approval and paid datanets' });
    }
    const r = await actions.grantAccess(this.chain, { datanetId: BigInt(id), grantee: getAddress(grantee) });
    return { txHash: r.txHash, changed: r.changed };
  }

  async revokeAccess(id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
    this.record(id);
    await this.requireOwner(id, caller);
    const r = await actions.revokeAccess(this.chain, { datanetId: BigInt(id), grantee: getAddress(grantee) });
    return { txHash: r.txHash, changed: r.changed };
  }

  // ---- contributions ----

  private async prepare(d: DatanetRecord, source: ContributionSource): Promise<{ prepared: PreparedUpload; bytes: Uint8Array; filename: string; kind: string }> {
    if (source.kind === 'file') {
      if (source.bytes.byteLength > this.limits.maxUploadBytes) throw tooLarge(source.filename, source.bytes.byteLength, this.limits.maxUploadBytes);
      const kind = fileKindOf(source.filename);
      return { prepared: await this.parser.prepareFile(source.bytes, source.filename, d.format, this.limits), bytes: source.bytes, filename: source.filename, kind };
    }
    const bytes = new TextEncoder().encode(JSON.stringify(source.rows));
    if (bytes.byteLength > this.limits.maxUploadBytes) throw tooLarge('rows', bytes.byteLength, this.limits.maxUploadBytes);
    return { prepared: prepareRows(source.rows, d.format, this.limits), bytes, filename: 'rows.json', kind: 'rows' };
  }

  /**
   * Step one for wallets: parse the upload and return what to sign (EIP-712 typed data with the
   * rows root, a fresh nonce and a deadline). Stores nothing.
   */
  async prepareContribution(id: number, contributor: Address, source: ContributionSource, ttlSeconds = 3600) {
    const d = this.record(id);
    const { prepared } = await this.prepare(d, source);
    const nonce = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
    const message = {
      contributor: getAddress(contributor),
      datanetId: BigInt(id),
      rowsRoot: prepared.rowsRoot,
      rowCount: BigInt(prepared.rowHashes.length),
      nonce,
      deadline: BigInt(this.now() + ttlSeconds),
    };
    return { rowsRoot: prepared.rowsRoot, rowCount: prepared.rowHashes.length, records: prepared.records.length, typedData: contributionTypedDataJson(this.domain, message) };
  }

  /** Validates and stores one signed upload, all or nothing; returns its report. */
  async contribute(id: number, input: ContributeInput): Promise<UploadReport & { uploadId: number; blobId: Hex; rowsRoot: Hex }> {
    const d = this.record(id);
    const policies = this.policies(d);
    const contributor = getAddress(input.contributor);

    const facts = await this.facts(id, contributor);
    if (!canContribute(policies, facts)) {
      throw forbidden(`${contributor} cannot contribute to datanet ${id}: it requires approval`, {
        code: 'no_write_access',
        hint: 'ask the datanet owner to grant you access (POST /v1/datanets/:id/access)',
      });
    }
    if (input.deadline > BigInt(this.now() + 30 * 86400)) {
      throw invalid('the signature deadline is more than 30 days away', { param: 'deadline', code: 'deadline_too_far', hint: 'sign with a deadline within 30 days (prepare suggests one hour)' });
    }
    const { prepared, bytes, filename, kind } = await this.prepare(d, input.source);
    await verifyContribution(
      this.domain,
      { contributor, datanetId: BigInt(id), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce: input.nonce, deadline: input.deadline },
      input.signature,
      this.now(),
    );

    return this.locked(id, async () => {
      if (this.repo.nonceUsed(id, contributor, input.nonce.toString())) throw replayed(input.nonce);
      checkQuota(policies.quota, this.repo.usage(id, contributor, utcDayStart(this.now())), bytes.byteLength);

      const existing = this.existing(id);
      const checked = await validateRecords(prepared.records, existing, { format: d.format, labels: d.labels ?? undefined, limits: this.limits });
      const passedAs = initialStatus(policies.validation);
      const blob = await this.blobs.put(bytes);
      const now = this.now();
      const passed = checked.filter((r) => r.status === 'passed');
      const rowIds = new Map<number, number>();
      let report: UploadReport;
      let uploadId: number;
      try {
        uploadId = this.repo.tx(() => {
          const draft = buildReport(filename, d.format, checked, passedAs);
          const uid = this.repo.insertUpload({
            datanetId: id,
            contributor,
            filename,
            kind,
            bytes: bytes.byteLength,
            blobId: blob.id,
            blobCommitment: blob.commitment,
            rowsRoot: prepared.rowsRoot,
            rowCount: prepared.rowHashes.length,
            nonce: input.nonce.toString(),
            deadline: Number(input.deadline),
            signature: input.signature,
            accepted: draft.accepted,
            pending: draft.pending,
            rejected: draft.rejected,
            report: {},
            createdAt: now,
          });
          for (const r of passed) {
            const rowId = this.repo.insertRow({
              datanetId: id,
              uploadId: uid,
              item: r.item,
              line: r.line,
              contributor,
              hash: r.hash!,
              dedupKey: r.dedupKey!,
              minhash: signatureToBytes(r.signature!),
              data: r.data,
              status: passedAs,
              createdAt: now,
            });
            rowIds.set(r.item, rowId);
          }
          report = buildReport(filename, d.format, checked, passedAs, rowIds);
          this.repo.setUploadReport(uid, report);
          return uid;
        });
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          this.dedup.delete(id);
          if (/nonce/.test((err as Error).message)) throw replayed(input.nonce);
          throw new OpenLedgerError('another upload stored the same rows first', { type: 'conflict_error', code: 'upload_conflict', hint: 'upload again: the rows already stored will be reported as duplicates' });
        }
        throw err;
      }
      for (const r of passed) {
        const rowId = rowIds.get(r.item)!;
        existing.exact.set(r.dedupKey!, rowId);
        existing.near.add(rowId, r.signature!);
      }
      return { ...report!, uploadId, blobId: blob.id, rowsRoot: prepared.rowsRoot };
    });
  }

  /** The dedup index of a datanet's live rows, built once from the store and kept current. */
  private existing(id: number): ExistingRows {
    let e = this.dedup.get(id);
    if (!e) {
      e = emptyExisting();
      for (const r of this.repo.liveSignatures(id)) {
        if (!e.exact.has(r.dedupKey)) e.exact.set(r.dedupKey, r.id);
        e.near.add(r.id, signatureFromBytes(r.minhash));
      }
      this.dedup.set(id, e);
    }
    return e;
  }

  upload(id: number, uploadId: number) {
    this.record(id);
    const u = this.repo.upload(id, uploadId);
    if (!u) throw notFound(`upload ${uploadId} not found in datanet ${id}`, { param: 'uploadId', code: 'upload_not_found', hint: 'use the uploadId a contribution returned' });
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
    const d = this.record(id);
    const policies = this.policies(d);
    const v = getAddress(validator);
    if (!(await isValidator(this.chain, BigInt(id), v))) {
      throw forbidden(`${v} is not a validator of datanet ${id}`, { code: 'not_validator', hint: 'the datanet owner adds validators (POST /v1/datanets/:id/validators)' });
    }
    const stake = await stakeOf(this.chain, v);
    if (stake < this.minStake) {
      throw forbidden(`validator ${v} has ${stake} wei OPEN staked; reviewing needs at least ${this.minStake}`, { code: 'validator_not_staked', hint: 'stake OPEN in the Staking contract first' });
    }
    if (policies.validation.kind === 'automatic') {
      throw invalid(`datanet ${id} accepts rows automatically; there is nothing to review`, { code: 'review_not_needed', hint: 'reviews apply to datanets with validator approvals' });
    }
    if (decision === 'reject' && reason.trim().length === 0) throw invalid('a rejection needs a reason', { param: 'reason', code: 'reason_required', hint: 'say why the row is rejected' });
    const now = this.now();
    return this.locked(id, async () => {
      const results = this.repo.tx(() =>
        rowIds.map((rowId) => {
          const r = this.repo.row(id, rowId);
          if (!r) throw notFound(`row ${rowId} not found in datanet ${id}`, { param: 'rows', code: 'row_not_found', hint: 'review rows listed by GET /v1/datanets/:id/rows?status=pending' });
          if (r.status !== 'pending') {
            throw new OpenLedgerError(`row ${rowId} is already ${r.status}`, { type: 'conflict_error', param: 'rows', code: 'row_not_pending', hint: 'only pending rows can be reviewed' });
          }
          this.repo.upsertVote(rowId, v, decision, reason, now);
          const votes = this.repo.votes(rowId);
          const approvals = votes.filter((x) => x.decision === 'approve').length;
          const rejections = votes.length - approvals;
          const status = decideStatus(policies.validation, approvals, rejections);
          if (status !== 'pending') this.repo.setRowStatus(rowId, status, status === 'rejected' ? reason : null, now);
          return { rowId, status, approvals, rejections };
        }),
      );
      if (results.some((r) => r.status === 'rejected')) this.dedup.delete(id); // rejected rows stop blocking duplicates
      return results;
    });
  }

  leaderboard(id: number): LeaderboardEntry[] {
    this.record(id);
    return leaderboard(this.repo.contributorCounts(id));
  }

  // ---- versions ----

  async publish(id: number, caller: Address): Promise<VersionView> {
    const d = this.record(id);
    await this.requireOwner(id, caller);
    return this.locked(id, async () => {
      const rows = this.repo.acceptedRows(id);
      if (rows.length === 0) {
        throw invalid(`datanet ${id} has no accepted rows to publish`, { code: 'nothing_to_publish', hint: 'contribute rows (and have validators approve them) before publishing a version' });
      }
      const latest = this.repo.latestVersion(id);
      if (latest && latest.rowCount === rows.length) {
        const prev = new Set(this.repo.versionRows(id, latest.version).map((r) => r.id));
        if (rows.every((r) => prev.has(r.id))) {
          throw new OpenLedgerError(`version ${latest.version} already holds every accepted row`, { type: 'conflict_error', code: 'version_unchanged', hint: 'accept new rows before publishing another version' });
        }
      }
      const tree = await VersionTree.buildAsync(rows.map((r) => ({ rowHash: r.hash, contributor: r.contributor })));
      const snapshot = snapshotJsonl(d.format, rows.map((r) => ({ id: r.id, hash: r.hash, contributor: r.contributor, data: r.data as RowData })));
      const blob = await this.blobs.put(new TextEncoder().encode(snapshot));
      const res = await actions.commitVersion(this.chain, { datanetId: BigInt(id), merkleRoot: tree.root, rowCount: BigInt(rows.length), daCommitment: blob.commitment, contentHash: blob.id });
      const record: VersionRecord = {
        datanetId: id,
        version: Number(res.version),
        merkleRoot: tree.root,
        rowCount: rows.length,
        snapshotId: blob.id,
        daCommitment: blob.commitment,
        tree: tree.dump(),
        txHash: res.txHash,
        blockNumber: Number(res.blockNumber),
        createdAt: this.now(),
      };
      this.repo.tx(() => this.repo.insertVersion(record, rows.map((r) => r.id)));
      this.cacheTree(id, record.version, tree);
      return versionView(record);
    });
  }

  private cacheTree(id: number, version: number, tree: VersionTree): VersionTree {
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
    const v = this.version(id, version);
    const r = this.repo.row(id, rowId);
    if (!r || !this.repo.versionHasRow(id, version, rowId)) {
      throw notFound(`row ${rowId} is not in version ${version} of datanet ${id}`, { param: 'rowId', code: 'row_not_in_version', hint: 'only accepted rows published in that version have proofs' });
    }
    const key = `${id}:${version}`;
    const tree = this.trees.get(key) ?? this.cacheTree(id, version, await VersionTree.loadAsync(v.tree));
    const p = tree.proof({ rowHash: r.hash, contributor: r.contributor });
    const on = await getVersion(this.chain, BigInt(id), BigInt(version));
    return { datanetId: id, version, rowId, leaf: p.leaf, proof: p.proof, root: p.root, onChainRoot: on.merkleRoot, verified: verifyRowProof(on.merkleRoot, p.leaf, p.proof) };
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
    const d = this.record(id);
    const p = this.policies(d);
    if (p.access.kind !== 'paid') throw invalid(`datanet ${id} is not for sale (${p.access.kind})`, { code: 'not_for_sale', hint: 'only paid datanets are bought' });
    const b = getAddress(buyer);
    const prior = this.repo.purchase(id, b);
    if (prior) return { datanetId: id, buyer: b, priceWei: prior.priceWei, txHash: prior.txHash, credits: this.creditsOf(id, prior.txHash) };
    const price = p.access.priceWei;
    let txHash: Hex;
    if (opts.account) {
      if (opts.account.address.toLowerCase() !== b.toLowerCase()) throw forbidden('the purchasing key is not the buyer', { code: 'wrong_buyer', hint: 'buy as yourself' });
      txHash = (await purchaseAccess(this.chain, BigInt(id), price, opts.account)).txHash;
    } else if (opts.txHash) {
      txHash = opts.txHash;
      const receipt = await this.chain.publicClient.getTransactionReceipt({ hash: txHash }).catch(() => null);
      const logs = receipt
        ? (parseEventLogs({ abi: artifacts.DatanetRegistry.abi, logs: receipt.logs, eventName: 'AccessPurchased' } as never) as unknown as Array<{ address: string; args: { datanetId: bigint; account: Address; price: bigint } }>)
        : [];
      const ok = logs.some((l) => l.address.toLowerCase() === this.chain.addresses.contracts.DatanetRegistry.toLowerCase() && l.args.datanetId === BigInt(id) && l.args.account.toLowerCase() === b.toLowerCase());
      if (!ok) throw invalid(`transaction ${txHash} is not a purchase of datanet ${id} by ${b}`, { param: 'txHash', code: 'purchase_not_found', hint: 'call DatanetRegistry.purchaseAccess(datanetId, maxPrice) from the buyer and pass its transaction hash' });
    } else {
      throw invalid('a purchase needs the buyer\'s purchaseAccess transaction', { param: 'txHash', code: 'purchase_tx_required', hint: 'approve the price to DatanetRegistry, call purchaseAccess(datanetId, maxPrice), and pass its txHash' });
    }
    const credits = this.recordPurchase(d, b, price, txHash);
    return { datanetId: id, buyer: b, priceWei: price.toString(), txHash, credits: credits.map((c) => ({ contributor: c.contributor, amountWei: c.amount.toString() })) };
  }

  /** Splits a purchase among the contributors of accepted rows (all to the owner while there are none) and records it. */
  private recordPurchase(d: DatanetRecord, buyer: Address, price: bigint, txHash: Hex) {
    const byContributor = new Map<Address, number>();
    for (const r of this.repo.acceptedRows(d.id)) byContributor.set(r.contributor, (byContributor.get(r.contributor) ?? 0) + 1);
    let credits = splitByRows(price, [...byContributor].map(([contributor, rows]) => ({ contributor, rows })));
    if (credits.length === 0) credits = [{ contributor: d.owner, amount: price }];
    this.repo.tx(() => this.repo.insertPurchase(d.id, buyer, price, txHash, credits, this.now()));
    return credits;
  }

  /**
   * Credits purchases that buyers made directly on chain (AccessPurchased events in the chain index)
   * and that the node has not recorded yet. Returns how many were added.
   */
  syncPurchases(id: number): number {
    const d = this.record(id);
    if (!this.chainIndex) return 0;
    let added = 0;
    for (const e of this.chainIndex.events({ contract: 'DatanetRegistry', event: 'AccessPurchased', args: { datanetId: String(id) } })) {
      const buyer = getAddress(String(e.args.account));
      if (this.repo.purchase(id, buyer)) continue;
      this.recordPurchase(d, buyer, BigInt(String(e.args.price)), e.txHash);
      added++;
    }
    return added;
  }

  private creditsOf(id: number, txHash: Hex) {
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

const replayed = (nonce: bigint) =>
  new OpenLedgerError(`nonce ${nonce} was already used for an upload to this datanet`, {
    type: 'conflict_error',
    code: 'nonce_reused',
    param: 'nonce',
    hint: 'a signed upload is accepted once; sign again with a fresh nonce',
  });

function jsonWei(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
