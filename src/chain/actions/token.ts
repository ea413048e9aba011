/**
 * The payment token (OpenToken locally, wrapped OPEN on OpenLedger chains): balance, transfer,
 * approve, and `mintOpen` (owner-only: after deployment the owner is the OpenTimelock, so new OPEN needs a
 * governance proposal `OpenToken.mint(to, amount)`; dev accounts get theirs at deployment).
 */
import type { Address } from 'viem';
import type { Chain } from '../types.ts';
import { call, read, txResult, type Signer, type TxResult } from './common.ts';

/** Balance in wei, read at the chain's money tag (`finalized` on real chains) unless told otherwise. */
export function tokenBalance(chain: Chain, p: { owner: Address; blockTag?: 'latest' | 'finalized' }): Promise<bigint> {
  return read<bigint>(chain, 'OpenToken', 'balanceOf', [p.owner], p.blockTag ?? chain.moneyReadTag);
}

export function tokenAllowance(chain: Chain, p: { owner: Address; spender: Address; blockTag?: 'latest' | 'finalized' }): Promise<bigint> {
  return read<bigint>(chain, 'OpenToken', 'allowance', [p.owner, p.spender], p.blockTag ?? 'latest');
}

export async function transfer(chain: Chain, p: Signer & { to: Address; amount: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'OpenToken', 'transfer', [p.to, p.amount], p.account));
}

export async function approve(chain: Chain, p: Signer & { spender: Address; amount: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'OpenToken', 'approve', [p.spender, p.amount], p.account));
}

export async function mintOpen(chain: Chain, p: Signer & { to: Address; amount: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'OpenToken', 'mint', [p.to, p.amount], p.account));
}
