/** DatanetRegistry.commitVersion: anchor a datanet version (Merkle root of rows, count, DA commitment). */
import type { Hex } from 'viem';
import type { Chain } from '../types.ts';
import { call, eventArgs, txResult, type Signer, type TxResult } from './common.ts';

export interface CommitVersionParams extends Signer {
  datanetId: bigint;
  /** Merkle root over the version's accepted rows (non-zero). */
  merkleRoot: Hex;
  /** > 0 */
  rowCount: bigint;
  /** DA commitment of the snapshot blob (local blob id or EigenDA certificate bytes). */
  daCommitment: Hex;
  /** Content hash of the snapshot blob. */
  contentHash: Hex;
}

export interface CommitVersionResult extends TxResult {
  /** The new version number (1, 2, …). */
  version: bigint;
}

export async function commitVersion(chain: Chain, p: CommitVersionParams): Promise<CommitVersionResult> {
  const r = await call(chain, 'DatanetRegistry', 'commitVersion', [p.datanetId, p.merkleRoot, p.rowCount, p.daCommitment, p.contentHash], p.account);
  const e = eventArgs<{ version: bigint }>(chain, r, 'DatanetRegistry', 'VersionCommitted');
  return { ...txResult(r), version: e.version };
}
