/**
 * DatanetRegistry.purchaseAccess(datanetId, maxPrice): the signer buys access to a Paid datanet. The price goes
 * into the rewards pool, split between the owner and the latest version's contributors (AccessRevenue event).
 * `maxPrice` is the most the buyer agreed to pay (the price they were shown); a price raised in front of the
 * purchase reverts PriceAboveMax.
 */
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';
import { approve, tokenAllowance } from './token.ts';

/** Approves the registry for the price first when the allowance is short. */
export async function purchaseAccess(chain: Chain, p: Signer & { datanetId: bigint; maxPrice: bigint }): Promise<TxResult & { price: bigint }> {
  const buyer = (p.account ?? chain.operator).address;
  const registry = chain.addresses.contracts.DatanetRegistry;
  const { accessPrice } = await read<{ accessPrice: bigint }>(chain, 'DatanetRegistry', 'getDatanet', [p.datanetId]);
  // Approve at most maxPrice: the allowance is never more than the buyer agreed to.
  const allowance = accessPrice < p.maxPrice ? accessPrice : p.maxPrice;
  if (allowance > 0n && (await tokenAllowance(chain, { owner: buyer, spender: registry })) < allowance) {
    await approve(chain, { account: p.account, spender: registry, amount: allowance });
  }
  const r = await call(chain, 'DatanetRegistry', 'purchaseAccess', [p.datanetId, p.maxPrice], p.account);
  const e = eventArgs<{ price: bigint }>(chain, r, 'DatanetRegistry', 'AccessPurchased');
  return { ...txResult(r), price: e.price };
}
