/**
 * The payer's side of InferenceEscrow, signed by the payer's own key (the CLI's dev account, or
 * any viem account): deposit with an EIP-2612 permit (one transaction, no approve), deposit from
 * an allowance, request a withdrawal, complete it after the delay. Each checks first what the
 * contract would refuse and says so plainly, so nothing is sent that would only revert.
 */
import { hexToSignature, type Account, type Address } from 'viem';
import { actions, artifacts, type Chain } from '../chain/index.ts';
import { call, eventArgs, read, txResult } from '../chain/actions/common.ts';
import { OpenLedgerError, invalid } from '../util/errors.ts';

const escrowOf = (chain: Chain) => chain.addresses.contracts.InferenceEscrow;

/** Deposit `amount` wei. permit (default): sign EIP-2612 and call depositWithPermit; else use the existing allowance. */
export async function depositToEscrow(chain: Chain, p: { account: Account & { signTypedData?: unknown }; amount: bigint; permit?: boolean }) {
  if (p.amount <= 0n) throw invalid('the amount must be more than 0', { param: 'amount', code: 'invalid_amount' });
  const owner = p.account.address;
  const balance = await actions.tokenBalance(chain, { owner, blockTag: 'latest' });
  if (balance < p.amount) {
    throw invalid(`${owner} holds ${balance} wei OPEN, less than the ${p.amount} wei to deposit`, { param: 'amount', code: 'insufficient_open', hint: 'deposit less, or get OPEN first' });
  }
  const escrow = escrowOf(chain);
  if (p.permit === false) {
    const allowance = await actions.tokenAllowance(chain, { owner, spender: escrow });
    if (allowance < p.amount) {
      throw invalid(`InferenceEscrow may take ${allowance} wei of ${owner}'s OPEN, less than the ${p.amount} wei to deposit: no allowance`, {
        param: 'amount', code: 'insufficient_allowance', hint: `approve ${escrow} for the amount first, or deposit with a permit (the default, without --no-permit)`,
      });
    }
    const r = await call(chain, 'InferenceEscrow', 'deposit', [p.amount], p.account);
    return { ...txResult(r), newBalance: eventArgs<{ newBalance: bigint }>(chain, r, 'InferenceEscrow', 'Deposited').newBalance, permit: false };
  }
  const sign = (p.account as { signTypedData?: (a: unknown) => Promise<`0x${string}`> }).signTypedData;
  if (!sign) throw invalid('this account cannot sign typed data (EIP-2612 permit)', { param: 'account', code: 'cannot_sign', hint: 'deposit from an allowance instead (--no-permit)' });
  const token = chain.addresses.contracts.OpenToken;
  const [nonce, name] = await Promise.all([read<bigint>(chain, 'OpenToken', 'nonces', [owner], 'latest'), read<string>(chain, 'OpenToken', 'name', [], 'latest')]);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const signature = await sign.call(p.account, {
    domain: { name, version: '1', chainId: chain.chainId, verifyingContract: token },
    types: { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    primaryType: 'Permit', message: { owner, spender: escrow, value: p.amount, nonce, deadline },
  });
  const { r, s, v, yParity } = hexToSignature(signature);
  const r2 = await call(chain, 'InferenceEscrow', 'depositWithPermit', [p.amount, deadline, Number(v ?? BigInt(27 + (yParity ?? 0))), r, s], p.account);
  return { ...txResult(r2), newBalance: eventArgs<{ newBalance: bigint }>(chain, r2, 'InferenceEscrow', 'Deposited').newBalance, permit: true };
}

/** Ask for `amount` back; it stays debitable for usage already served until `withdrawEscrow` after the delay. */
export async function requestEscrowWithdrawal(chain: Chain, p: { account: Account; amount: bigint }) {
  if (p.amount <= 0n) throw invalid('the amount must be more than 0', { param: 'amount', code: 'invalid_amount' });
  const { balance } = await actions.escrowBalance(chain, { owner: p.account.address, blockTag: 'latest' });
  if (balance < p.amount) throw invalid(`the escrow holds ${balance} wei for ${p.account.address}, less than the ${p.amount} wei asked for`, { param: 'amount', code: 'insufficient_escrow', hint: '`openledger escrow balance` shows it' });
  return actions.requestWithdrawal(chain, { account: p.account, amount: p.amount });
}

/** Complete the pending withdrawal (after the delay). */
export async function withdrawEscrow(chain: Chain, p: { account: Account }) {
  const pending = await pendingWithdrawal(chain, p.account.address);
  if (!pending) throw new OpenLedgerError(`${p.account.address} has no pending withdrawal`, { type: 'conflict_error', code: 'no_pending_withdrawal', hint: 'request one first: `openledger escrow withdraw <OPEN>`' });
  const now = (await chain.publicClient.getBlock({ blockTag: 'latest' })).timestamp;
  if (now < pending.availableAt) {
    throw invalid(`the withdrawal of ${pending.amount} wei is not ready: it can be completed at ${new Date(Number(pending.availableAt) * 1000).toISOString()} (in ${pending.availableAt - now} s)`, {
      param: 'withdrawal', code: 'withdrawal_not_ready', hint: 'wait for the escrow\'s withdrawal delay, then run `openledger escrow withdraw --complete` again',
    });
  }
  return actions.withdraw(chain, { account: p.account });
}

export async function pendingWithdrawal(chain: Chain, owner: Address): Promise<{ amount: bigint; availableAt: bigint } | null> {
  const p = await chain.publicClient.readContract({ address: escrowOf(chain), abi: artifacts.InferenceEscrow.abi, functionName: 'pendingWithdrawal', args: [owner] } as never) as { amount: bigint; availableAt: bigint };
  return p.availableAt > 0n ? p : null;
}
