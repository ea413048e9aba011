/** ModelRegistry.updatePrice (owner or operator). */
import type { Chain } from '../types.ts';
import { call, txResult, type Signer, type TxResult } from './common.ts';

export async function updatePrice(
  chain: Chain,
  p: Signer & { modelId: bigint; pricePer1kInput: bigint; pricePer1kOutput: bigint },
): Promise<TxResult> {
  return txResult(await call(chain, 'ModelRegistry', 'updatePrice', [p.modelId, p.pricePer1kInput, p.pricePer1kOutput], p.account));
}
