/**
 * InferenceEscrow: callers prepay OPEN (`deposit`), take it back after a delay
 * (`requestWithdrawal` → `withdraw`), and the node debits usage per epoch (`settleEpoch`).
 */
import type { Address, Hex } from 'viem';
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';
import { approve, tokenAllowance } from './token.ts';

/** Approves the escrow first when the allowance is short (one extra tx), then deposits. */
export async function deposit(chain: Chain, p: Signer & { amount: bigint }): Promise<TxResult & { newBalance: bigint }> {
  const owner = (p.account ?? chain.operator).address;
  const escrow = chain.addresses.contracts.InferenceEscrow;
  if ((await tokenAllowance(chain, { owner, spender: escrow })) < p.amount) {
    await approve(chain, { account: p.account, spender: escrow, amount: p.amount });
  }
  const r = await call(chain, 'InferenceEscrow', 'deposit', [p.amount], p.account);
  const e = eventArgs<{ newBalance: bigint }>(chain, r, 'InferenceEscrow', 'Deposited');
  return { ...txResult(r), newBalance: e.newBalance };
}

export async function requestWithdrawal(chain: Chain, p: Signer & { amount: bigint }): Promise<TxResult & { availableAt: bigint }> {
  const r = await call(chain, 'InferenceEscrow', 'requestWithdrawal', [p.amount], p.account);
  const e = eventArgs<{ availableAt: bigint }>(chain, r, 'InferenceEscrow', 'WithdrawalRequested');
  return { ...txResult(r), availableAt: e.availableAt };
}

export async function withdraw(chain: Chain, p: Signer = {}): Promise<TxResult & { amount: bigint }> {
  const r = await call(chain, 'InferenceEscrow', 'withdraw', [], p.account);
  const e = eventArgs<{ amount: bigint }>(chain, r, 'InferenceEscrow', 'Withdrawn');
  return { ...txResult(r), amount: e.amount };
}

export interface SettleEpochParams extends Signer {
  epoch: bigint;
  /** Parallel arrays: amounts[i] wei debited from accounts[i]. */
  accounts: Address[];
  amounts: bigint[];
  /** Merkle root of the epoch's attribution records. */
  recordsRoot: Hex;
}

/** InferenceEscrow.settle (SETTLER_ROLE): debits every account and moves the total to the rewards contract. */
export async function settleEpoch(chain: Chain, p: SettleEpochParams): Promise<TxResult & { total: bigint }> {
  const r = await call(chain, 'InferenceEscrow', 'settle', [p.epoch, p.accounts, p.amounts, p.recordsRoot], p.account);
  const e = eventArgs<{ total: bigint }>(chain, r, 'InferenceEscrow', 'EpochSettled');
  return { ...txResult(r), total: e.total };
}

/** Escrow balance and the part not waiting for withdrawal, at the money tag. */
export async function escrowBalance(chain: Chain, p: { owner: Address; blockTag?: 'latest' | 'finalized' }) {
  const tag = p.blockTag ?? chain.moneyReadTag;
  const [balance, spendable] = await Promise.all([
    read<bigint>(chain, 'InferenceEscrow', 'balanceOf', [p.owner], tag),
    read<bigint>(chain, 'InferenceEscrow', 'spendableBalance', [p.owner], tag),
  ]);
  return { balance, spendable };
}
