/** DatanetRegistry.purchaseAccess: the signer buys access to a Paid datanet (price goes to its owner). */
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';
import { approve, tokenAllowance } from './token.ts';

/** Approves the registry for the price first when the allowance is short. */
export async function purchaseAccess(chain: Chain, p: Signer & { datanetId: bigint }): Promise<TxResult & { price: bigint }> {
  const buyer = (p.account ?? chain.operator).address;
  const registry = chain.addresses.contracts.DatanetRegistry;
  const { accessPrice } = await read<{ accessPrice: bigint }>(chain, 'DatanetRegistry', 'getDatanet', [p.datanetId]);
  if (accessPrice > 0n && (await tokenAllowance(chain, { owner: buyer, spender: registry })) < accessPrice) {
    await approve(chain, { account: p.account, spender: registry, amount: accessPrice });
  }
  const r = await call(chain, 'DatanetRegistry', 'purchaseAccess', [p.datanetId], p.account);
  const e = eventArgs<{ price: bigint }>(chain, r, 'DatanetRegistry', 'AccessPurchased');
  return { ...txResult(r), price: e.price };
}
