/**
 * Payable inference over HTTP (src/rewards does the work):
 *
 *   GET  /v1/inferences/:id                 one completion's charge and its split (public, like the DA records)
 *   GET  /v1/rewards/epochs                 epochs: status, settlement, root, DA commitment
 *   GET  /v1/rewards/epochs/:epoch/records  the epoch's records from DA (charges, split entries, leaves, root)
 *   POST /v1/rewards/epochs/close           the operator closes the open epoch now (it settles and posts at once)
 *   GET  /v1/rewards/:address               earned per epoch, pending, claimable (+ proof), claimed
 *   POST /v1/rewards/:address/claim         the node relays RewardsDistributor.claim (OPEN goes to :address)
 *   GET  /v1/escrow/:address                InferenceEscrow balance, authorization, pending withdrawal, held, unsettled, available
 *   POST /v1/escrow/authorizations          relay a payer's signed EIP-712 SpendAuthorization (InferenceEscrow.authorizeSpend)
 *   POST /v1/escrow/transactions            broadcast a payer's own signed escrow transaction (depositWithPermit, deposit,
 *                                           requestWithdrawal, cancelWithdrawal, withdraw) after simulating it: a revert is a
 *                                           4xx naming the contract's error, and nothing is sent
 *   GET  /v1/usage/models                   per model and epoch: calls, tokens, revenue
 *   GET  /v1/usage/contributors/:address    earnings by role, datanet and model
 *   GET  /v1/usage/datanets                 revenue per datanet (contributors + validators)
 */
import type { FastifyInstance } from 'fastify';
import { decodeFunctionData, getAddress, isAddress, isHex, parseTransaction, recoverTransactionAddress, verifyTypedData, type Abi, type Address, type Hex } from 'viem';
import { artifacts, toChainError } from '../../chain/index.ts';
import { actions } from '../../chain/index.ts';
import { roleAccount } from '../../rewards/epochs.ts';
import { RewardsService } from '../../rewards/index.ts';
import { forbidden, invalid, OpenLedgerError } from '../../util/errors.ts';
import { requireCaller, type NodeServices } from '../context.ts';
import type { BlobStore } from '../../da/index.ts';

const tags = ['rewards'];
const err = { $ref: 'Error#' };
const obj = { type: 'object', additionalProperties: true } as const;
const addressParam = { type: 'object', required: ['address'], properties: { address: { type: 'string', maxLength: 64 } } };

/** The node's rewards service (created and started by `rewardsRoutes`; null when rewards are disabled). */
export function rewardsModule(s: NodeServices): RewardsService | null {
  return (s.modules.rewards as RewardsService | undefined) ?? null;
}

function address(a: string, param = 'address'): Address {
  if (!isAddress(a, { strict: false })) throw invalid(`"${a.slice(0, 64)}" is not an Ethereum address`, { param, code: 'invalid_address', hint: 'use a 0x-prefixed 20-byte hex address' });
  return getAddress(a);
}

export async function rewardsRoutes(app: FastifyInstance, s: NodeServices) {
  let rewards = rewardsModule(s);
  if (!rewards && s.config.rewards.enabled) {
    rewards = new RewardsService({
      db: s.store.db, chainIndex: s.store.chainIndex, chain: s.chain, blobs: s.modules.da as BlobStore, config: s.config.rewards,
      log: (line) => app.log.warn(line),
    });
    await rewards.start();
    s.modules.rewards = rewards;
  }
  app.addHook('onClose', async () => {
    await rewards?.stop();
    if (s.modules.rewards === rewards) delete s.modules.rewards;
  });
  const need = (): RewardsService => {
    if (!rewards) throw new OpenLedgerError('payable inference is disabled on this node', { type: 'not_found_error', code: 'rewards_disabled', hint: 'start the node with rewards enabled (the default)' });
    return rewards;
  };

  app.get<{ Params: { id: string } }>('/v1/inferences/:id', {
    schema: {
      tags, summary: "One inference (the completion's id): model, caller, usage, hold, fee, its split to protocol / owner / validators / contributors, epoch and settlement",
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 100 } } }, response: { 200: obj, 400: err, 404: err },
    },
  }, async (request) => {
    const id = request.params.id;
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(id)) throw invalid('an inference id is letters, digits, "-" and "_"', { param: 'id', code: 'invalid_inference_id', hint: 'use the id of a completion (chatcmpl-… or cmpl-…)' });
    return need().inference(id);
  });

  app.get<{ Querystring: { limit?: number } }>('/v1/rewards/epochs', {
    schema: { tags, summary: 'Epochs, newest first: status (open → closing → settling → settled → attributed → recorded → posted → done), settlement, Merkle root, DA commitment', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } }, response: { 200: obj } },
  }, async (request) => ({ object: 'list', data: need().epochList(request.query.limit) }));

  app.post('/v1/rewards/epochs/close', {
    schema: {
      tags, summary: "Close the open epoch now and settle it (the node's operator only: demos, tests, an operator who wants settlement before the epoch length is up)",
      security: [{ bearer: [] }], response: { 200: obj, 401: err, 403: err, 502: err },
    },
  }, async (request) => {
    const caller = requireCaller(request);
    if (caller.toLowerCase() !== s.chain.operator.address.toLowerCase()) {
      throw forbidden('only the node operator may close an epoch early', { code: 'not_operator', hint: `sign in as the operator ${s.chain.operator.address} (dev keyring: --as 0); epochs also close by themselves` });
    }
    const epoch = await need().epochs.closeNow();
    return need().epochList(500).find((e) => e.epoch === epoch);
  });

  app.get<{ Params: { epoch: number } }>('/v1/rewards/epochs/:epoch/records', {
    schema: {
      tags, summary: "An epoch's records from DA: every charge (hashing to the settlement's recordsRoot), every split entry, every leaf (address, cumulative) and the root — rebuild the tree and compare it with RewardsDistributor.getRoot(epoch)",
      params: { type: 'object', required: ['epoch'], properties: { epoch: { type: 'integer', minimum: 1, maximum: 18446744073709551615 } } }, response: { 200: obj, 400: err, 404: err },
    },
  }, async (request) => need().records(request.params.epoch));

  app.get<{ Params: { address: string } }>('/v1/rewards/:address', {
    schema: { tags, summary: 'Rewards of an address: earned per epoch, pending, claimable with the Merkle proof of the latest active root, claimed', params: addressParam, response: { 200: obj, 400: err } },
  }, async (request) => need().rewards(address(request.params.address)));

  app.post<{ Params: { address: string }; Body: { cumulative_amount?: unknown; proof?: unknown } | undefined }>('/v1/rewards/:address/claim', {
    schema: {
      tags, summary: "Claim an address's rewards: the node sends RewardsDistributor.claim (it pays the gas, the OPEN goes to the address). Without a body, the node's own leaf and proof.",
      security: [{ bearer: [] }], params: addressParam, response: { 200: obj, 400: err, 401: err, 409: err, 502: err },
    },
  }, async (request) => {
    requireCaller(request);
    const body = (request.body ?? {}) as { cumulative_amount?: unknown; proof?: unknown };
    let leaf: { cumulativeAmount: bigint; proof: Hex[] } | undefined;
    if (body.cumulative_amount !== undefined || body.proof !== undefined) {
      const c = body.cumulative_amount;
      if (typeof c !== 'string' || !/^\d{1,78}$/.test(c)) throw invalid('cumulative_amount must be a decimal string of wei', { param: 'cumulative_amount', code: 'invalid_parameter' });
      if (!Array.isArray(body.proof) || body.proof.length > 64 || !body.proof.every((x) => typeof x === 'string' && isHex(x) && x.length === 66)) {
        throw invalid('proof must be an array (≤ 64) of 32-byte 0x-hex hashes', { param: 'proof', code: 'invalid_parameter', hint: 'GET /v1/rewards/:address gives the proof' });
      }
      leaf = { cumulativeAmount: BigInt(c), proof: body.proof as Hex[] };
    }
    return need().claim(address(request.params.address), leaf);
  });

  app.get<{ Params: { address: string } }>('/v1/escrow/:address', {
    schema: { tags, summary: 'InferenceEscrow for a payer: balance, pending withdrawal, held by running requests, charged but unsettled, available for new requests (wei)', params: addressParam, response: { 200: obj, 400: err } },
  }, async (request) => need().escrow(address(request.params.address)));

  app.post<{ Body: Record<string, unknown> }>('/v1/escrow/authorizations', {
    schema: {
      tags, summary: "Relay a payer's signed spend authorization (EIP-712 SpendAuthorization(address payer,bytes32 scope,uint256 cap,uint64 expiry,uint256 nonce), domain \"OpenLedger InferenceEscrow\" v1): the node sends InferenceEscrow.authorizeSpend and pays the gas",
      security: [{ bearer: [] }], body: obj, response: { 200: obj, 400: err, 401: err, 409: err, 502: err },
    },
  }, async (request) => {
    requireCaller(request);
    const b = (request.body ?? {}) as Record<string, unknown>;
    const payer = address(String(b.payer ?? ''), 'payer');
    const scope = b.scope ?? `0x${'00'.repeat(32)}`;
    if (typeof scope !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(scope)) throw invalid('scope must be a 32-byte 0x-hex value (0x00…00 = any model and key)', { param: 'scope', code: 'invalid_parameter' });
    const uint = (k: string, max: bigint) => {
      const v = b[k];
      const str = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
      if (typeof str !== 'string' || !/^\d{1,78}$/.test(str) || BigInt(str) > max) throw invalid(`${k} must be a non-negative integer (decimal string)`, { param: k, code: 'invalid_parameter' });
      return BigInt(str);
    };
    const auth = { payer, scope: scope as Hex, cap: uint('cap', (1n << 256n) - 1n), expiry: uint('expiry', (1n << 64n) - 1n), nonce: uint('nonce', (1n << 256n) - 1n) };
    const signature = b.signature;
    if (typeof signature !== 'string' || !isHex(signature) || signature.length !== 132) throw invalid('signature must be a 65-byte 0x-hex EIP-712 signature by the payer', { param: 'signature', code: 'invalid_parameter' });
    if (auth.expiry <= BigInt(Math.floor(Date.now() / 1000))) throw invalid(`the authorization expired at ${new Date(Number(auth.expiry) * 1000).toISOString()}`, { param: 'expiry', code: 'authorization_expired', hint: 'sign one with a later expiry' });
    const ok = await verifyTypedData({ address: payer, ...actions.spendAuthorizationTypedData(s.chain, auth), signature: signature as Hex } as never).catch(() => false);
    if (!ok) throw invalid(`the signature is not ${payer}'s over this SpendAuthorization on chain ${s.chain.chainId} for escrow ${s.chain.addresses.contracts.InferenceEscrow}`, { param: 'signature', code: 'invalid_signature', hint: 'sign the EIP-712 typed data with the payer key, for this chain id and escrow address' });
    const r = await actions.authorizeSpend(s.chain, { auth, signature: signature as Hex, account: roleAccount(s.chain, 'relayer') });
    return { payer, scope, cap: auth.cap.toString(), expiry: Number(auth.expiry), nonce: auth.nonce.toString(), tx_hash: r.txHash, block_number: r.blockNumber.toString() };
  });

  const PAYER_CALLS = new Set(['deposit', 'depositWithPermit', 'requestWithdrawal', 'cancelWithdrawal', 'withdraw', 'approveSpend']);
  // The token's custom errors too: a deposit without allowance reverts inside the token.
  const escrowAbi = [...artifacts.InferenceEscrow.abi, ...(artifacts.OpenToken.abi as Abi).filter((x) => x.type === 'error')] as Abi;
  app.post<{ Body: { signed_transaction?: unknown } }>('/v1/escrow/transactions', {
    schema: {
      tags, summary: "Broadcast a payer's own signed InferenceEscrow transaction (depositWithPermit, deposit, requestWithdrawal, cancelWithdrawal, withdraw, approveSpend), simulated first: a revert is refused with the contract's error and nothing is sent",
      body: obj, response: { 200: obj, 400: err, 409: err, 502: err },
    },
  }, async (request) => {
    const raw = request.body?.signed_transaction;
    if (typeof raw !== 'string' || !isHex(raw) || raw.length > 20_000) throw invalid('signed_transaction must be a 0x-hex signed transaction (at most 10 kB)', { param: 'signed_transaction', code: 'invalid_parameter' });
    let tx: ReturnType<typeof parseTransaction>;
    let from: Address;
    try {
      tx = parseTransaction(raw as Hex);
      from = await recoverTransactionAddress({ serializedTransaction: raw as never });
    } catch {
      throw invalid('signed_transaction is not a signed transaction viem can parse', { param: 'signed_transaction', code: 'invalid_transaction', hint: 'sign it with the payer key (legacy, EIP-2930 or EIP-1559)' });
    }
    const escrow = s.chain.addresses.contracts.InferenceEscrow;
    if (!tx.to || tx.to.toLowerCase() !== escrow.toLowerCase()) throw invalid(`the transaction goes to ${tx.to ?? 'no address'}, not to InferenceEscrow ${escrow}`, { param: 'signed_transaction', code: 'wrong_contract', hint: 'this route only relays escrow calls' });
    if (tx.chainId !== undefined && tx.chainId !== s.chain.chainId) throw invalid(`the transaction is for chain ${tx.chainId}, this node's chain is ${s.chain.chainId}`, { param: 'signed_transaction', code: 'wrong_chain_id' });
    if (tx.value && tx.value > 0n) throw invalid('escrow calls carry no native value', { param: 'signed_transaction', code: 'unexpected_value' });
    let call: { functionName: string; args?: readonly unknown[] };
    try {
      call = decodeFunctionData({ abi: artifacts.InferenceEscrow.abi, data: tx.data ?? '0x' }) as never;
    } catch {
      throw invalid('the transaction does not call an InferenceEscrow function', { param: 'signed_transaction', code: 'unknown_function' });
    }
    if (!PAYER_CALLS.has(call.functionName)) throw invalid(`${call.functionName} is not a payer's escrow call`, { param: 'signed_transaction', code: 'function_not_relayed', hint: `relayed: ${[...PAYER_CALLS].join(', ')}` });
    const where = `InferenceEscrow.${call.functionName}`;
    try {
      await s.chain.publicClient.simulateContract({ account: from, address: escrow, abi: escrowAbi, functionName: call.functionName, args: call.args ?? [] } as never);
    } catch (e) {
      throw toChainError(e, where);
    }
    let hash: Hex;
    try {
      hash = await s.chain.publicClient.sendRawTransaction({ serializedTransaction: raw as Hex });
    } catch (e) {
      throw toChainError(e, where);
    }
    const receipt = await s.chain.publicClient.waitForTransactionReceipt({ hash, timeout: s.chain.embedded ? 30_000 : 180_000 }).catch((e) => { throw toChainError(e, `${where} (waiting for ${hash})`); });
    if (receipt.status !== 'success') throw new OpenLedgerError(`${where} transaction ${hash} reverted on chain in block ${receipt.blockNumber}`, { type: 'chain_error', code: 'transaction_reverted', hint: 'the chain state changed between simulation and inclusion; sign again' });
    rewards?.charging.invalidate([from]);
    return { from, function: call.functionName, tx_hash: hash, block_number: receipt.blockNumber.toString() };
  });

  app.get<{ Querystring: { limit?: number } }>('/v1/usage/models', {
    schema: { tags, summary: 'Per model and epoch: calls, prompt and completion tokens, revenue (wei)', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } } }, response: { 200: obj } },
  }, async (request) => ({ object: 'list', data: need().usageModels(request.query.limit) }));

  app.get<{ Params: { address: string } }>('/v1/usage/contributors/:address', {
    schema: { tags, summary: 'What an address earned, by role (contributor, validator, owner, protocol), datanet and model (wei)', params: addressParam, response: { 200: obj, 400: err } },
  }, async (request) => need().usageContributor(address(request.params.address)));

  app.get('/v1/usage/datanets', {
    schema: { tags, summary: 'Revenue per datanet: what its contributors and validators earned (wei)', response: { 200: obj } },
  }, async () => ({ object: 'list', data: need().usageDatanets() }));
}
