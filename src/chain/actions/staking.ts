/** Staking: validators stake OPEN, unbond after a delay, withdraw released entries; the node slashes. */
import { keccak256, stringToHex, type Address, type Hex } from 'viem';
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

export interface SlashParams extends Signer {
  validator: Address;
  amount: bigint;
  /** bytes32 reason, or a short text that is hashed into one. */
  reason: Hex | string;
}

/** Staking.slash (SLASHER_ROLE): takes active stake first, then unbonding entries. */
export async function slash(chain: Chain, p: SlashParams): Promise<TxResult & { fromStake: bigint; fromUnbonding: bigint }> {
  const reason = /^0x[0-9a-fA-F]{64}$/.test(p.reason) ? (p.reason as Hex) : keccak256(stringToHex(p.reason));
  const r = await call(chain, 'Staking', 'slash', [p.validator, p.amount, reason], p.account);
  const e = eventArgs<{ fromStake: bigint; fromUnbonding: bigint }>(chain, r, 'Staking', 'Slashed');
  return { ...txResult(r), fromStake: e.fromStake, fromUnbonding: e.fromUnbonding };
}

export function stakeOf(chain: Chain, p: { owner: Address }): Promise<bigint> {
  return read<bigint>(chain, 'Staking', 'stakeOf', [p.owner], chain.moneyReadTag);
}
