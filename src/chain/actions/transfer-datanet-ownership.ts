/** DatanetRegistry.transferDatanetOwnership (owner or operator). */
import type { Address } from 'viem';
import type { Chain } from '../types.ts';
import { call, txResult, type Signer, type TxResult } from './common.ts';

export async function transferDatanetOwnership(chain: Chain, p: Signer & { datanetId: bigint; newOwner: Address }): Promise<TxResult> {
  return txResult(await call(chain, 'DatanetRegistry', 'transferDatanetOwnership', [p.datanetId, p.newOwner], p.account));
}
