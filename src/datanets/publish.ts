/**
 * Publish: accepted rows → Merkle root + JSONL snapshot in DA (sealed for approval / paid datanets)
 * → DatanetRegistry.commitVersion → store. The snapshot is in DA before the transaction, so a
 * version the chain has and the store lacks is rebuilt from it at start (reconcile.ts). Proofs are
 * checked against the root the chain holds.
 */
import type { Address } from 'viem';
import { actions } from '../chain/index.ts';
import { OpenLedgerError, invalid, notFound } from '../util/errors.ts';
import { getVersion } from './chain-facts.ts';
import type { DatanetContext } from './context.ts';
import type { RowData } from './formats.ts';
import { VersionTree, verifyRowProof } from './merkle.ts';
import type { VersionRecord } from './repo.ts';
import { snapshotJsonl } from './snapshot.ts';
import { versionView, type ProofView, type VersionView } from './views.ts';

export async function publish(s: DatanetContext, id: number, caller: Address): Promise<VersionView> {
  const d = s.record(id);
  await s.requireOwner(id, caller);
  return s.locked(id, async () => {
    const rows = s.repo.acceptedRows(id);
    if (rows.length === 0) {
      throw invalid(`datanet ${id} has no accepted rows to publish`, { code: 'nothing_to_publish', hint: 'contribute rows (and have validators approve them) before publishing a version' });
    }
    const latest = s.repo.latestVersion(id);
    if (latest && latest.rowCount === rows.length) {
      const prev = new Set(s.repo.versionRows(id, latest.version).map((r) => r.id));
      if (rows.every((r) => prev.has(r.id))) {
        throw new OpenLedgerError(`version ${latest.version} already holds every accepted row`, { type: 'conflict_error', code: 'version_unchanged', hint: 'accept new rows before publishing another version' });
      }
    }
    const tree = await VersionTree.buildAsync(rows.map((r) => ({ rowHash: r.hash, contributor: r.contributor })));
    const snapshot = snapshotJsonl(d.format, rows.map((r) => ({ id: r.id, hash: r.hash, contributor: r.contributor, data: r.data as RowData })));
    const blob = await s.blobs.put(s.sealFor(s.policies(d), new TextEncoder().encode(snapshot)));
    const res = await actions.commitVersion(s.chain, { datanetId: BigInt(id), merkleRoot: tree.root, rowCount: BigInt(rows.length), daCommitment: blob.commitment, contentHash: blob.id });
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
      createdAt: s.now(),
    };
    s.repo.tx(() => s.repo.insertVersion(record, rows.map((r) => r.id)));
    s.cacheTree(id, record.version, tree);
    return versionView(record);
  });
}

/** A row's inclusion proof in a version, checked against the root DatanetRegistry holds. */
export async function proof(s: DatanetContext, id: number, version: number, rowId: number): Promise<ProofView> {
  const v = s.version(id, version);
  const r = s.repo.row(id, rowId);
  if (!r || !s.repo.versionHasRow(id, version, rowId)) {
    throw notFound(`row ${rowId} is not in version ${version} of datanet ${id}`, { param: 'rowId', code: 'row_not_in_version', hint: 'only accepted rows published in that version have proofs' });
  }
  const key = `${id}:${version}`;
  const tree = s.trees.get(key) ?? s.cacheTree(id, version, await VersionTree.loadAsync(v.tree));
  const p = tree.proof({ rowHash: r.hash, contributor: r.contributor });
  const on = await getVersion(s.chain, BigInt(id), BigInt(version));
  return { datanetId: id, version, rowId, leaf: p.leaf, proof: p.proof, root: p.root, onChainRoot: on.merkleRoot, verified: verifyRowProof(on.merkleRoot, p.leaf, p.proof) };
}
