/**
 * Access: owner actions mirrored on chain (validators, grants) and paid access — the buyer's own
 * `purchaseAccess` transaction, or one the node makes with a dev key it holds — with the price
 * credited to contributors by accepted rows (credits.ts). Purchases made directly on chain are
 * picked up from the event index (syncPurchases).
 */
import { getAddress, parseEventLogs, type Account, type Address } from 'viem';
import { actions, artifacts } from '../chain/index.ts';
import type { Hex } from '../da/index.ts';
import { forbidden, invalid } from '../util/errors.ts';
import { isValidator, purchaseAccess } from './chain-facts.ts';
import type { DatanetContext } from './context.ts';
import { recordPurchase } from './credits.ts';

export async function addValidator(s: DatanetContext, id: number, caller: Address, validator: Address): Promise<{ txHash: Hex }> {
  s.record(id);
  await s.requireOwner(id, caller);
  if (await isValidator(s.chain, BigInt(id), validator)) return { txHash: '0x' };
  const r = await actions.addValidator(s.chain, { datanetId: BigInt(id), validator: getAddress(validator) });
  return { txHash: r.txHash };
}

export async function grantAccess(s: DatanetContext, id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
  const d = s.record(id);
  await s.requireOwner(id, caller);
  if (s.policies(d).access.kind === 'open') {
    throw invalid(`datanet ${id} is open: everyone has access already`, { code: 'grant_not_needed', hint: 'grants apply to approval and paid datanets' });
  }
  const r = await actions.grantAccess(s.chain, { datanetId: BigInt(id), grantee: getAddress(grantee) });
  return { txHash: r.txHash, changed: r.changed };
}

export async function revokeAccess(s: DatanetContext, id: number, caller: Address, grantee: Address): Promise<{ txHash: Hex; changed: boolean }> {
  s.record(id);
  await s.requireOwner(id, caller);
  const r = await actions.revokeAccess(s.chain, { datanetId: BigInt(id), grantee: getAddress(grantee) });
  return { txHash: r.txHash, changed: r.changed };
}

/**
 * Records a purchase of a paid datanet and credits the price to its contributors by accepted rows
 * (all to the owner while there are none). With `account` (a key the node holds) the node makes
 * the on-chain purchase; otherwise `txHash` must be the buyer's own `purchaseAccess` transaction.
 */
export async function purchase(s: DatanetContext, id: number, buyer: Address, opts: { account?: Account; txHash?: Hex }) {
  const d = s.record(id);
  const p = s.policies(d);
  if (p.access.kind !== 'paid') throw invalid(`datanet ${id} is not for sale (${p.access.kind})`, { code: 'not_for_sale', hint: 'only paid datanets are bought' });
  const b = getAddress(buyer);
  const prior = s.repo.purchase(id, b);
  if (prior) return { datanetId: id, buyer: b, priceWei: prior.priceWei, txHash: prior.txHash, credits: s.creditsOf(id, prior.txHash) };
  const price = p.access.priceWei;
  let txHash: Hex;
  if (opts.account) {
    if (opts.account.address.toLowerCase() !== b.toLowerCase()) throw forbidden('the purchasing key is not the buyer', { code: 'wrong_buyer', hint: 'buy as yourself' });
    txHash = (await purchaseAccess(s.chain, BigInt(id), price, opts.account)).txHash;
  } else if (opts.txHash) {
    txHash = opts.txHash;
    const receipt = await s.chain.publicClient.getTransactionReceipt({ hash: txHash }).catch(() => null);
    const logs = receipt
      ? (parseEventLogs({ abi: artifacts.DatanetRegistry.abi, logs: receipt.logs, eventName: 'AccessPurchased' } as never) as unknown as Array<{ address: string; args: { datanetId: bigint; account: Address; price: bigint } }>)
      : [];
    const ok = logs.some((l) => l.address.toLowerCase() === s.chain.addresses.contracts.DatanetRegistry.toLowerCase() && l.args.datanetId === BigInt(id) && l.args.account.toLowerCase() === b.toLowerCase());
    if (!ok) throw invalid(`transaction ${txHash} is not a purchase of datanet ${id} by ${b}`, { param: 'txHash', code: 'purchase_not_found', hint: 'call DatanetRegistry.purchaseAccess(datanetId, maxPrice) from the buyer and pass its transaction hash' });
    await s.chain.persist(); // the buyer's own transaction: durable before the store records it
  } else {
    throw invalid('a purchase needs the buyer\'s purchaseAccess transaction', { param: 'txHash', code: 'purchase_tx_required', hint: 'approve the price to DatanetRegistry, call purchaseAccess(datanetId, maxPrice), and pass its txHash' });
  }
  const credits = recordPurchase(s.repo, d, b, price, txHash, s.now());
  return { datanetId: id, buyer: b, priceWei: price.toString(), txHash, credits: credits.map((c) => ({ contributor: c.contributor, amountWei: c.amount.toString() })) };
}

/**
 * Credits purchases that buyers made directly on chain (AccessPurchased events in the chain index)
 * and that the node has not recorded yet. Returns how many were added.
 */
export function syncPurchases(s: DatanetContext, id: number): number {
  const d = s.record(id);
  if (!s.chainIndex) return 0;
  let added = 0;
  for (const e of s.chainIndex.events({ contract: 'DatanetRegistry', event: 'AccessPurchased', args: { datanetId: String(id) } })) {
    const buyer = getAddress(String(e.args.account));
    if (s.repo.purchase(id, buyer)) continue;
    recordPurchase(s.repo, d, buyer, BigInt(String(e.args.price)), e.txHash, s.now());
    added++;
  }
  return added;
}
