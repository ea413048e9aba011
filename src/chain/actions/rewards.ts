/**
 * RewardsDistributor: the node's root submitter (`chain.roles.rootSubmitter`) submits a cumulative Merkle root
 * per epoch — its total may not exceed `totalFunded` (settlements + access revenue + `fundRewards`) — and may
 * disable it before it activates; anyone claims `cumulative − claimed` with a proof. Governance sets the fee
 * split and epoch length the node reads with `protocolParams`.
 */
import type { Address, Hex } from 'viem';
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';
import { approve } from './token.ts';

export interface SubmitRootParams extends Signer {
  epoch: bigint;
  /** StandardMerkleTree root over [account, cumulativeAmount] leaves. */
  root: Hex;
  /** Sum of all cumulative amounts in the tree (caps total claims). */
  totalCumulative: bigint;
  /** DA commitment of the epoch's records and leaves. */
  daCommitment: Hex;
}

export async function submitRoot(chain: Chain, p: SubmitRootParams): Promise<TxResult & { activatedAt: bigint }> {
  const r = await call(chain, 'RewardsDistributor', 'submitRoot', [p.epoch, p.root, p.totalCumulative, p.daCommitment], p.account ?? chain.roles.rootSubmitter);
  const e = eventArgs<{ activatedAt: bigint }>(chain, r, 'RewardsDistributor', 'RootSubmitted');
  return { ...txResult(r), activatedAt: e.activatedAt };
}

export async function disableRoot(chain: Chain, p: Signer & { epoch: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'RewardsDistributor', 'disableRoot', [p.epoch], p.account ?? chain.roles.rootSubmitter));
}

export interface ClaimParams extends Signer {
  /** Who receives the OPEN (anyone may send the claim). */
  claimant: Address;
  cumulativeAmount: bigint;
  proof: Hex[];
}

export async function claim(chain: Chain, p: ClaimParams): Promise<TxResult & { amount: bigint; epoch: bigint }> {
  const r = await call(chain, 'RewardsDistributor', 'claim', [p.claimant, p.cumulativeAmount, p.proof], p.account);
  const e = eventArgs<{ amount: bigint; epoch: bigint }>(chain, r, 'RewardsDistributor', 'Claimed');
  return { ...txResult(r), amount: e.amount, epoch: e.epoch };
}

/** Adds OPEN to the distributor's pool (approves first). */
export async function fundRewards(chain: Chain, p: Signer & { amount: bigint }): Promise<TxResult> {
  await approve(chain, { account: p.account, spender: chain.addresses.contracts.RewardsDistributor, amount: p.amount });
  return txResult(await call(chain, 'RewardsDistributor', 'fund', [p.amount], p.account));
}

export function claimedAmount(chain: Chain, p: { owner: Address }): Promise<bigint> {
  return read<bigint>(chain, 'RewardsDistributor', 'claimed', [p.owner], chain.moneyReadTag);
}

export interface ProtocolParams {
  /** Fee split in basis points (sums to 10_000). */
  feeShares: { protocolBps: number; modelOwnerBps: number; validatorsBps: number; contributorsBps: number };
  /** Settlement epoch length in seconds. */
  epochLength: bigint;
  /** Everything paid into the distributor (the ceiling of any root's total) and everything claimed. */
  totalFunded: bigint;
  totalClaimed: bigint;
  activationDelay: bigint;
  minActivationDelay: bigint;
}

/** The governed parameters the node applies at epoch close, read from the RewardsDistributor. */
export async function protocolParams(chain: Chain): Promise<ProtocolParams> {
  const [fs, epochLength, totalFunded, totalClaimed, activationDelay, minActivationDelay] = await Promise.all([
    read<readonly [number, number, number, number]>(chain, 'RewardsDistributor', 'feeShares', []),
    read<bigint>(chain, 'RewardsDistributor', 'epochLength', []),
    read<bigint>(chain, 'RewardsDistributor', 'totalFunded', []),
    read<bigint>(chain, 'RewardsDistributor', 'totalClaimed', []),
    read<bigint>(chain, 'RewardsDistributor', 'activationDelay', []),
    read<bigint>(chain, 'RewardsDistributor', 'minActivationDelay', []),
  ]);
  return {
    feeShares: { protocolBps: fs[0], modelOwnerBps: fs[1], validatorsBps: fs[2], contributorsBps: fs[3] },
    epochLength, totalFunded, totalClaimed, activationDelay, minActivationDelay,
  };
}
