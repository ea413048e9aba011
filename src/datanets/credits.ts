import type { Address, Hex } from 'viem';
import type { DatanetRecord, DatanetRepo } from './repo.ts';
import { splitByRows } from './split.ts';

/**
 * Records a purchase of a paid datanet and splits its price among the contributors of accepted rows
 * (all to the owner while there are none), in one store transaction. Used by the purchase route and
 * by start-up reconciliation (purchases made on chain that the store has not seen).
 */
export function recordPurchase(repo: DatanetRepo, d: DatanetRecord, buyer: Address, price: bigint, txHash: Hex, now: number) {
  const byContributor = new Map<Address, number>();
  for (const r of repo.acceptedRows(d.id)) byContributor.set(r.contributor, (byContributor.get(r.contributor) ?? 0) + 1);
  let credits = splitByRows(price, [...byContributor].map(([contributor, rows]) => ({ contributor, rows })));
  if (credits.length === 0) credits = [{ contributor: d.owner, amount: price }];
  repo.tx(() => repo.insertPurchase(d.id, buyer, price, txHash, credits, now));
  return credits;
}
