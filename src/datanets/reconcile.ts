/**
 * Start-up reconciliation of the datanet tables with the chain, run by `startNode` after the indexer
 * has caught up and before the API opens.
 *
 * Why it is needed, and why it is small: every chain write is durable before the store records it
 * (`chain.persist()` in src/chain/tx.ts), so the store can never hold what the chain lost. The one
 * window left is the other way round — the node dies after a transaction is durable and before its
 * store write. Each chain-writing flow puts everything needed to finish it in the DA layer *before*
 * its transaction, so the rest can be rebuilt from the indexed events:
 *
 *   chain has                         store lacks   rebuilt from
 *   DatanetCreated(id, owner, uri)    datanet id    metadata blob at uri (da://…) + the event
 *   VersionCommitted(id, v, root, c)  version v     snapshot blob c (rows + ids), root checked
 *   AccessPurchased(id, buyer, p)     purchase      the event (price split over accepted rows)
 *
 * The reverse (the store ahead of the chain: an old or lost state file) is rolled back where it is
 * derived data — versions above the chain's latest, purchases whose transaction the chain does not
 * have, datanets with no uploads yet — and refused loudly where rolling back would drop user data.
 */
import { getAddress, type Address } from 'viem';
import { readContract, artifacts, type Chain } from '../chain/index.ts';
import { contentId, type BlobStore, type Hex } from '../da/index.ts';
import type { ChainIndexRepo, Db } from '../store/index.ts';
import { configError } from '../util/errors.ts';
import { recordPurchase } from './credits.ts';
import { VersionTree } from './merkle.ts';
import { PoliciesSchema } from './policy.ts';
import { DatanetRepo, type DatanetRecord } from './repo.ts';
import { CreateDatanetInput } from './create.ts';
import { openSnapshot } from './sealed.ts';
import { parseSnapshot } from './snapshot.ts';

export interface ReconcileDeps {
  db: Db;
  chain: Chain;
  chainIndex: ChainIndexRepo;
  blobs: BlobStore;
  /** Decrypts sealed (approval / paid) snapshots; see sealed.ts. */
  daKey?: Uint8Array | null;
  log?: (line: string) => void;
}

export interface ReconcileReport {
  datanetsRebuilt: number[];
  versionsRebuilt: Array<{ datanetId: number; version: number }>;
  purchasesAdded: number;
  datanetsRolledBack: number[];
  versionsRolledBack: Array<{ datanetId: number; version: number }>;
  purchasesRolledBack: number;
  /** Uploads whose rows a crash cut off part-way: deleted (the contributor got no answer). */
  uploadsDiscarded: number[];
  /** DatanetCreated events whose metadata is not a node datanet (created on chain by someone else). */
  foreign: number[];
}

const reg = (chain: Chain) => ({ contract: 'DatanetRegistry', address: chain.addresses.contracts.DatanetRegistry, abi: artifacts.DatanetRegistry.abi });
const PAGE = 5_000;

/** Every indexed event of one kind, oldest first (paged: the index query is bounded). */
function* allEvents(index: ChainIndexRepo, event: string) {
  let from = 0n;
  const seen = new Set<string>();
  for (;;) {
    const page = index.events({ contract: 'DatanetRegistry', event, fromBlock: from, limit: PAGE });
    let fresh = 0;
    for (const e of page) {
      const key = `${e.txHash}:${e.logIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      fresh++;
      yield e;
    }
    if (page.length < PAGE || fresh === 0) return;
    from = page[page.length - 1].blockNumber;
  }
}

export async function reconcileDatanets(deps: ReconcileDeps): Promise<ReconcileReport> {
  const repo = new DatanetRepo(deps.db);
  const say = deps.log ?? (() => {});
  const report: ReconcileReport = { datanetsRebuilt: [], versionsRebuilt: [], purchasesAdded: 0, datanetsRolledBack: [], versionsRolledBack: [], purchasesRolledBack: 0, foreign: [], uploadsDiscarded: [] };

  // ---- uploads a crash cut off while their rows were written (service.ts contribute) ----
  report.uploadsDiscarded = repo.deleteIncompleteUploads();

  // ---- store ahead of chain: roll back derived records, refuse where user data would go ----
  const count = Number(await readContract<bigint>(deps.chain, { ...reg(deps.chain), functionName: 'datanetCount', args: [] }));
  for (const d of repo.allDatanets()) {
    if (d.id > count) {
      if (repo.uploadCount(d.id) > 0) {
        throw configError(`the store holds datanet ${d.id} with contributions, but the chain has only ${count} datanets`, {
          code: 'store_ahead_of_chain',
          hint: 'the chain state file is older than the store (restored from a backup?): restore the matching chain/anvil-state.json, or start a fresh --data-dir',
          details: { datanetId: d.id, chainCount: count },
        });
      }
      repo.tx(() => repo.deleteDatanet(d.id));
      report.datanetsRolledBack.push(d.id);
      continue;
    }
    const latest = Number(await readContract<bigint>(deps.chain, { ...reg(deps.chain), functionName: 'latestVersion', args: [BigInt(d.id)] }));
    for (const v of repo.versions(d.id).filter((x) => x.version > latest).reverse()) {
      repo.tx(() => repo.deleteVersion(d.id, v.version));
      report.versionsRolledBack.push({ datanetId: d.id, version: v.version });
    }
    for (const p of repo.purchases(d.id)) {
      const receipt = await deps.chain.publicClient.getTransactionReceipt({ hash: p.txHash }).catch(() => null);
      if (!receipt) {
        repo.tx(() => repo.deletePurchase(d.id, p.buyer));
        report.purchasesRolledBack++;
      }
    }
  }

  // ---- chain ahead of store: rebuild from events + DA ----
  for (const e of allEvents(deps.chainIndex, 'DatanetCreated')) {
    const id = Number(e.args.datanetId);
    if (repo.datanet(id)) continue;
    const record = await datanetFromChain(deps, e.args as Record<string, unknown>, e.txHash, e.blockNumber);
    if (!record) {
      report.foreign.push(id);
      continue;
    }
    repo.insertDatanet(record);
    report.datanetsRebuilt.push(id);
    say(`reconcile: datanet ${id} was created on chain (tx ${e.txHash}) but not recorded; rebuilt from its metadata blob`);
  }

  for (const e of allEvents(deps.chainIndex, 'VersionCommitted')) {
    const id = Number(e.args.datanetId), version = Number(e.args.version);
    const d = repo.datanet(id);
    if (!d || repo.version(id, version)) continue;
    const commitment = String(e.args.daCommitment) as Hex;
    let bytes: Uint8Array;
    try {
      bytes = openSnapshot(await deps.blobs.get(commitment), deps.daKey ?? null);
    } catch (cause) {
      throw configError(`version ${version} of datanet ${id} is on chain (tx ${e.txHash}) but its snapshot ${commitment} cannot be read: ${(cause as Error).message}`, {
        code: 'snapshot_missing', hint: 'restore the DA blobs (blobs/ in the data dir, or the EigenDA proxy) and start again', cause,
      });
    }
    const rows = parseSnapshot(d.format, new TextDecoder().decode(bytes));
    for (const r of rows) {
      const stored = repo.row(id, r.id);
      if (!stored || stored.hash !== r.hash) {
        throw configError(`version ${version} of datanet ${id} names row ${r.id}, which the store does not hold as it was published`, {
          code: 'store_missing_rows', hint: 'the store is older than the chain: restore store.sqlite from the same moment as the chain state', details: { datanetId: id, version, rowId: r.id },
        });
      }
    }
    const tree = await VersionTree.buildAsync(rows.map((r) => ({ rowHash: r.hash, contributor: r.contributor })));
    if (tree.root.toLowerCase() !== String(e.args.merkleRoot).toLowerCase()) {
      throw configError(`the snapshot of datanet ${id} version ${version} rebuilds root ${tree.root}, the chain holds ${String(e.args.merkleRoot)}`, {
        code: 'snapshot_root_mismatch', hint: 'the snapshot blob does not belong to this version; restore the DA blobs', details: { datanetId: id, version },
      });
    }
    const block = await deps.chain.publicClient.getBlock({ blockNumber: e.blockNumber }).catch(() => null);
    repo.tx(() => repo.insertVersion({
      datanetId: id, version, merkleRoot: tree.root, rowCount: rows.length, snapshotId: contentIdOf(e.args.contentHash), daCommitment: commitment,
      tree: tree.dump(), txHash: e.txHash, blockNumber: Number(e.blockNumber), createdAt: Number(block?.timestamp ?? BigInt(Math.floor(Date.now() / 1000))),
    }, rows.map((r) => r.id)));
    report.versionsRebuilt.push({ datanetId: id, version });
    say(`reconcile: version ${version} of datanet ${id} was committed on chain (tx ${e.txHash}) but not recorded; rebuilt from its snapshot`);
  }

  for (const e of allEvents(deps.chainIndex, 'AccessPurchased')) {
    const id = Number(e.args.datanetId);
    const d = repo.datanet(id);
    if (!d) continue;
    const buyer = getAddress(String(e.args.account));
    if (repo.purchase(id, buyer)) continue;
    recordPurchase(repo, d, buyer, BigInt(String(e.args.price)), e.txHash, Math.floor(Date.now() / 1000));
    report.purchasesAdded++;
  }
  return report;
}

const contentIdOf = (v: unknown): Hex => String(v).toLowerCase() as Hex;

/** The store record of a datanet the node created, from its DatanetCreated event and metadata blob; null when it is not one. */
async function datanetFromChain(deps: ReconcileDeps, args: Record<string, unknown>, txHash: Hex, blockNumber: bigint): Promise<DatanetRecord | null> {
  const uri = String(args.metadataURI ?? '');
  const m = /^da:\/\/(0x[0-9a-fA-F]+)$/.exec(uri);
  if (!m) return null;
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder().decode(await deps.blobs.get(m[1] as Hex)));
  } catch {
    return null;
  }
  // The blob holds `labels: null` for unlabelled formats; the input schema wants it absent.
  const m2 = meta && typeof meta === 'object' ? { ...(meta as Record<string, unknown>) } : meta;
  if (m2 && typeof m2 === 'object' && (m2 as { labels?: unknown }).labels === null) delete (m2 as { labels?: unknown }).labels;
  const parsed = CreateDatanetInput.safeParse(m2);
  if (!parsed.success) return null;
  const x = parsed.data;
  const block = await deps.chain.publicClient.getBlock({ blockNumber }).catch(() => null);
  const bytes = await deps.blobs.get(m[1] as Hex);
  return {
    id: Number(args.datanetId),
    name: x.name,
    summary: x.summary,
    description: x.description,
    tags: x.tags,
    license: x.license,
    format: x.format,
    labels: x.labels ?? null,
    policies: PoliciesSchema.parse(x.policies),
    owner: getAddress(String(args.owner)) as Address,
    metadataBlob: contentId(bytes),
    txHash,
    createdAt: Number((meta as { createdAt?: number }).createdAt ?? block?.timestamp ?? Math.floor(Date.now() / 1000)),
  };
}
