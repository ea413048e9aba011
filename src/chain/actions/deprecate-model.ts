/** ModelRegistry.deprecate (owner or operator); a deprecated model can no longer be priced or served. */
import type { Chain } from '../types.ts';
import { call, txResult, type Signer, type TxResult } from './common.ts';

export async function deprecateModel(chain: Chain, p: Signer & { modelId: bigint }): Promise<TxResult> {
  return txResult(await call(chain, 'ModelRegistry', 'deprecate', [p.modelId], p.account));
}
