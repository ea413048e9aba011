/**
 * Staking: validators stake OPEN, unbond after a delay, withdraw released entries; the node's slasher proposes
 * slashes with evidence, which execute after a challenge window unless governance vetoes them.
 */
import { keccak256, stringToHex, type Address, type Hex } from 'viem';
import { OpenLedgerError } from '../../util/errors.ts';
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';
import { approve, tokenAllowance } from './token.ts';

/** Approves the staking contract first when the allowance is short. */
export async function stake(chain: Chain, p: Signer & { amount: bigint }): Promise<TxResult & { newStake: bigint }> {
  const owner = (p.account ?? chain.operator).address;
  const staking = chain.addresses.contracts.Staking;
  if ((await tokenAllowance(chain, { owner, spender: staking })) < p.amount) {
    await approve(chain, { account: p.account, spender: staking, amount: p.amount });
  }
  const r = await call(chain, 'Staking', 'stake', [p.amount], p.account);
  const e = eventArgs<{ newStake: bigint }>(chain, r, 'Staking', 'Staked');
  return { ...txResult(r), newStake: e.newStake };
}

export async function unbond(chain: Chain, p: Signer & { amount: bigint }): Promise<TxResult & { releaseAt: bigint; newStake: bigint }> {
  const r = await call(chain, 'Staking', 'unbond', [p.amount], p.account);
  const e = eventArgs<{ releaseAt: bigint; newStake: bigint }>(chain, r, 'Staking', 'UnbondingStarted');
  return { ...txResult(r), releaseAt: e.releaseAt, newStake: e.newStake };
}

export async function withdrawStake(chain: Chain, p: Signer = {}): Promise<TxResult & { amount: bigint }> {
  const r = await call(chain, 'Staking', 'withdraw', [], p.account);
  const e = eventArgs<{ amount: bigint }>(chain, r, 'Staking', 'Withdrawn');
  return { ...txResult(r), amount: e.amount };
}

export interface ProposeSlashParams extends Signer {
  validator: Address;
  amount: bigint;
  /** bytes32 evidence hash, or a text that is hashed into one (never empty). */
  evidence: Hex | string;
  /** DA commitment of the decision record (never empty). */
  daCommitment: Hex;
}

/**
 * Staking.proposeSlash (SLASHER_ROLE; signed by `chain.roles.slasher` unless `account` is given): a slash capped
 * at maxSlashBps of the validator's stake + unbonding, executable by anyone after the challenge window, vetoable
 * by governance (or a guardian) until then. Freezes the validator's withdrawals until resolved.
 */
export async function proposeSlash(chain: Chain, p: ProposeSlashParams): Promise<TxResult & { slashId: bigint; executableAt: bigint }> {
  if (!p.evidence) {
    throw new OpenLedgerError('a slash needs evidence: an evidence hash and the DA commitment of the decision', {
      type: 'invalid_request_error', param: 'evidence', code: 'missing_evidence', hint: 'store the decision record in the DA layer and pass its commitment and hash',
    });
  }
  const evidence = /^0x[0-9a-fA-F]{64}$/.test(p.evidence) ? (p.evidence as Hex) : keccak256(stringToHex(p.evidence));
  const r = await call(chain, 'Staking', 'proposeSlash', [p.validator, p.amount, evidence, p.daCommitment], p.account ?? chain.roles.slasher);
  const e = eventArgs<{ slashId: bigint; executableAt: bigint }>(chain, r, 'Staking', 'SlashProposed');
  return { ...txResult(r), slashId: e.slashId, executableAt: e.executableAt };
}

/** Staking.executeSlash (anyone, after the window): takes min(amount, what is at stake now) to the treasury. */
export async function executeSlash(chain: Chain, p: Signer & { slashId: bigint }): Promise<TxResult & { amount: bigint; fromStake: bigint; fromUnbonding: bigint }> {
  const r = await call(chain, 'Staking', 'executeSlash', [p.slashId], p.account);
  const e = eventArgs<{ amount: bigint; fromStake: bigint; fromUnbonding: bigint }>(chain, r, 'Staking', 'Slashed');
  return { ...txResult(r), amount: e.amount, fromStake: e.fromStake, fromUnbonding: e.fromUnbonding };
}

/** Staking.vetoSlash (admin = the timelock through a proposal, or a guardian) inside the challenge window. */
export async function vetoSlash(chain: Chain, p: Signer & { slashId: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'Staking', 'vetoSlash', [p.slashId], p.account));
}

export interface SlashProposal {
  account: Address;
  /** 1 pending, 2 vetoed, 3 executed. */
  status: number;
  executableAt: bigint;
  amount: bigint;
  evidenceHash: Hex;
  daCommitment: Hex;
}

export function getSlash(chain: Chain, p: { slashId: bigint }): Promise<SlashProposal> {
  return read<SlashProposal>(chain, 'Staking', 'getSlash', [p.slashId]);
}

export function stakeOf(chain: Chain, p: { owner: Address }): Promise<bigint> {
  return read<bigint>(chain, 'Staking', 'stakeOf', [p.owner], chain.moneyReadTag);
}
