/**
 * The payer's side of InferenceEscrow from the browser. The user signs everything: a dev account
 * through the node's dev signer (POST /v1/dev/sign: the EIP-2612 Permit, the SpendAuthorization,
 * and the escrow transaction, which POST /v1/escrow/transactions simulates and broadcasts), an
 * injected wallet with eth_signTypedData_v4 and eth_sendTransaction. Amounts are bigint wei.
 */
import { encodeFunctionData } from 'viem';
export { parseOpen } from './amount';
import { ApiError, get, post, type NodeStatus } from './api';
import { sendAndWait, type Signer } from './wallet';

const escrowAbi = [
  { type: 'function', name: 'depositWithPermit', stateMutability: 'nonpayable', inputs: [{ name: 'amount', type: 'uint256' }, { name: 'deadline', type: 'uint256' }, { name: 'v', type: 'uint8' }, { name: 'r', type: 'bytes32' }, { name: 's', type: 'bytes32' }], outputs: [] },
  { type: 'function', name: 'requestWithdrawal', stateMutability: 'nonpayable', inputs: [{ name: 'amount', type: 'uint256' }], outputs: [] },
  { type: 'function', name: 'withdraw', stateMutability: 'nonpayable', inputs: [], outputs: [{ type: 'uint256' }] },
] as const;

/** Sends an escrow call as the signer: dev accounts sign through the node and it relays; wallets send it themselves. */
async function sendEscrow(signer: Signer, status: NodeStatus, data: `0x${string}`): Promise<string> {
  const escrow = status.contracts.InferenceEscrow as `0x${string}`;
  if (signer.kind === 'injected') return sendAndWait(signer.address, escrow, data);
  const { signed_transaction } = await post('/v1/dev/sign', { account: signer.address, transaction: { to: escrow, data } });
  return (await post('/v1/escrow/transactions', { signed_transaction })).tx_hash;
}

/** Deposit with an EIP-2612 permit (one transaction, no approve). */
export async function deposit(signer: Signer, status: NodeStatus, amount: bigint): Promise<string> {
  const p = await get(`/v1/studio/permit/${signer.address}`);
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const typedData = {
    domain: { name: p.name, version: p.version, chainId: p.chain_id, verifyingContract: p.token },
    types: {
      EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }],
      Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }],
    },
    primaryType: 'Permit',
    message: { owner: signer.address, spender: p.spender, value: amount.toString(), nonce: p.nonce, deadline: deadline.toString() },
  };
  const sig = await signer.signTypedData(typedData);
  if (!/^0x[0-9a-fA-F]{130}$/.test(sig)) throw new ApiError({ message: 'The signer returned a signature that is not 65 bytes.', type: 'wallet_error', param: null, code: 'invalid_signature', hint: 'Sign with an EIP-712 capable wallet (eth_signTypedData_v4).' }, 0);
  // r ‖ s ‖ v (v as 27/28; some signers give 0/1) — split by hand: viem's signature helpers pull the curve code into the bundle
  const r = `0x${sig.slice(2, 66)}` as `0x${string}`;
  const s = `0x${sig.slice(66, 130)}` as `0x${string}`;
  let v = parseInt(sig.slice(130, 132), 16);
  if (v < 27) v += 27;
  return sendEscrow(signer, status, encodeFunctionData({ abi: escrowAbi, functionName: 'depositWithPermit', args: [amount, deadline, v, r, s] }));
}

/** Signs a SpendAuthorization (any model and key, `days` long) and has the node relay it. */
export async function authorize(signer: Signer, status: NodeStatus, cap: bigint, days = 30): Promise<{ tx_hash: string }> {
  const expiry = Math.floor(Date.now() / 1000) + days * 86400;
  const rnd = crypto.getRandomValues(new Uint8Array(16));
  const nonce = BigInt(`0x${[...rnd].map((b) => b.toString(16).padStart(2, '0')).join('')}`).toString();
  const scope = `0x${'00'.repeat(32)}`;
  const typedData = {
    domain: { name: 'OpenLedger InferenceEscrow', version: '1', chainId: status.chainId, verifyingContract: status.contracts.InferenceEscrow },
    types: {
      EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }],
      SpendAuthorization: [{ name: 'payer', type: 'address' }, { name: 'scope', type: 'bytes32' }, { name: 'cap', type: 'uint256' }, { name: 'expiry', type: 'uint64' }, { name: 'nonce', type: 'uint256' }],
    },
    primaryType: 'SpendAuthorization',
    message: { payer: signer.address, scope, cap: cap.toString(), expiry: String(expiry), nonce },
  };
  const signature = await signer.signTypedData(typedData);
  return post('/v1/escrow/authorizations', { payer: signer.address, scope, cap: cap.toString(), expiry: String(expiry), nonce, signature });
}

export const requestWithdrawal = (signer: Signer, status: NodeStatus, amount: bigint) =>
  sendEscrow(signer, status, encodeFunctionData({ abi: escrowAbi, functionName: 'requestWithdrawal', args: [amount] }));

export const completeWithdrawal = (signer: Signer, status: NodeStatus) => sendEscrow(signer, status, encodeFunctionData({ abi: escrowAbi, functionName: 'withdraw', args: [] }));
