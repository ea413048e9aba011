/**
 * InferenceEscrow: callers prepay OPEN (`deposit`), consent to spending (`signSpendAuthorization` →
 * `authorizeSpend`, or `approveSpend`), take it back after a delay (`requestWithdrawal` → `withdraw`), and the
 * node's settler debits usage per epoch within that consent (`settleEpoch`).
 */
import { parseEventLogs, type Account, type Address, type Hex, type TransactionReceipt } from 'viem';
import { OpenLedgerError } from '../../util/errors.ts';
import { artifacts } from '../contracts.ts';
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
  /** Parallel arrays: amounts[i] wei asked from accounts[i]. */
  accounts: Address[];
  amounts: bigint[];
  /** Merkle root of the epoch's attribution records. */
  recordsRoot: Hex;
}

export interface SettleEpochResult extends TxResult {
  /** OPEN wei actually moved to the rewards contract. */
  total: bigint;
  /** What was debited, per account (Debited events). */
  debited: { account: Address; amount: bigint }[];
  /** Accounts whose spend authorization did not cover the amount: nothing debited (DebitRefused). */
  refused: { account: Address; requested: bigint; authorizedRemaining: bigint }[];
  /** Accounts whose balance was short: what was there was taken (Shortfall). */
  shortfalls: { account: Address; requested: bigint; debited: bigint }[];
}

/**
 * InferenceEscrow.settle (SETTLER_ROLE; signed by `chain.roles.settler` unless `account` is given). Never reverts
 * because of one account: each is debited within its spend authorization and balance; the receipt says who was
 * debited, refused or short.
 */
export async function settleEpoch(chain: Chain, p: SettleEpochParams): Promise<SettleEpochResult> {
  const r = await call(chain, 'InferenceEscrow', 'settle', [p.epoch, p.accounts, p.amounts, p.recordsRoot], p.account ?? chain.roles.settler);
  const e = eventArgs<{ total: bigint }>(chain, r, 'InferenceEscrow', 'EpochSettled');
  const logs = escrowLogs(chain, r);
  return {
    ...txResult(r),
    total: e.total,
    debited: logs.filter((l) => l.eventName === 'Debited').map((l) => ({ account: l.args.account as Address, amount: l.args.amount as bigint })),
    refused: logs.filter((l) => l.eventName === 'DebitRefused').map((l) => ({
      account: l.args.account as Address, requested: l.args.requested as bigint, authorizedRemaining: l.args.authorizedRemaining as bigint,
    })),
    shortfalls: logs.filter((l) => l.eventName === 'Shortfall').map((l) => ({
      account: l.args.account as Address, requested: l.args.requested as bigint, debited: l.args.debited as bigint,
    })),
  };
}

function escrowLogs(chain: Chain, r: TransactionReceipt) {
  const address = chain.addresses.contracts.InferenceEscrow.toLowerCase();
  return (parseEventLogs({ abi: artifacts.InferenceEscrow.abi, logs: r.logs } as never) as unknown as {
    address: string; eventName: string; args: Record<string, unknown>;
  }[]).filter((l) => l.address.toLowerCase() === address);
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

// ---- spend authorizations (EIP-712) ----

/** A payer's consent: the settler may debit up to `cap` wei until `expiry` (unix seconds). */
export interface SpendAuthorization {
  payer: Address;
  /** bytes32(0) = any model / API key; otherwise e.g. keccak256 of an API key id or model id (node-enforced). */
  scope: Hex;
  cap: bigint;
  expiry: bigint;
  nonce: bigint;
}

export const SPEND_AUTHORIZATION_TYPES = {
  SpendAuthorization: [
    { name: 'payer', type: 'address' },
    { name: 'scope', type: 'bytes32' },
    { name: 'cap', type: 'uint256' },
    { name: 'expiry', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
  ],
} as const;

/** The EIP-712 typed data of a spend authorization for this chain's escrow (one builder for signers and checks). */
export function spendAuthorizationTypedData(chain: Chain, auth: SpendAuthorization) {
  return {
    domain: {
      name: 'OpenLedger InferenceEscrow',
      version: '1',
      chainId: chain.chainId,
      verifyingContract: chain.addresses.contracts.InferenceEscrow,
    },
    types: SPEND_AUTHORIZATION_TYPES,
    primaryType: 'SpendAuthorization' as const,
    message: auth,
  };
}

/** Signs `auth` as `account` (which must be the payer). Returns the 65-byte signature. */
export async function signSpendAuthorization(chain: Chain, account: Account, auth: SpendAuthorization): Promise<Hex> {
  if (account.address.toLowerCase() !== auth.payer.toLowerCase()) {
    throw new OpenLedgerError(`the signing account ${account.address} is not the payer ${auth.payer}`, {
      type: 'invalid_request_error', param: 'payer', code: 'wrong_signer', hint: 'a spend authorization is signed by the payer itself',
    });
  }
  return chain.walletFor(account).signTypedData({ account, ...spendAuthorizationTypedData(chain, auth) } as never);
}

/** InferenceEscrow.authorizeSpend: installs a signed authorization (anyone may relay; default the relayer). */
export async function authorizeSpend(chain: Chain, p: Signer & { auth: SpendAuthorization; signature: Hex }): Promise<TxResult> {
  const a = p.auth;
  return txResult(await call(chain, 'InferenceEscrow', 'authorizeSpend', [{ payer: a.payer, scope: a.scope, cap: a.cap, expiry: a.expiry, nonce: a.nonce }, p.signature], p.account));
}

/** InferenceEscrow.approveSpend: the signer authorizes directly on chain (no signature). */
export async function approveSpend(chain: Chain, p: Signer & { scope?: Hex; cap: bigint; expiry: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'InferenceEscrow', 'approveSpend', [p.scope ?? ZERO32, p.cap, p.expiry], p.account));
}

export interface SpendAuthorizationState {
  scope: Hex;
  cap: bigint;
  spent: bigint;
  expiry: bigint;
  nonce: bigint;
  /** What settle may still debit now (cap − spent while unexpired, plus a lowered authorization's carry). */
  remaining: bigint;
}

export async function getSpendAuthorization(chain: Chain, p: { payer: Address; blockTag?: 'latest' | 'finalized' }): Promise<SpendAuthorizationState> {
  const tag = p.blockTag ?? 'latest';
  const [[scope, cap, spent, expiry, nonce], remaining] = await Promise.all([
    read<readonly [Hex, bigint, bigint, bigint, bigint]>(chain, 'InferenceEscrow', 'spendAuthorization', [p.payer], tag),
    read<bigint>(chain, 'InferenceEscrow', 'authorizedRemaining', [p.payer], tag),
  ]);
  return { scope, cap, spent, expiry, nonce, remaining };
}

const ZERO32 = ('0x' + '00'.repeat(32)) as Hex;
