/** DatanetRegistry.addValidator / removeValidator (owner or operator). */
import type { Address } from 'viem';
import type { Chain } from '../types.ts';
import { call, txResult, type Signer, type TxResult } from './common.ts';

export interface ValidatorParams extends Signer {
  datanetId: bigint;
  validator: Address;
}

export async function addValidator(chain: Chain, p: ValidatorParams): Promise<TxResult> {
  return txResult(await call(chain, 'DatanetRegistry', 'addValidator', [p.datanetId, p.validator], p.account));
}

export async function removeValidator(chain: Chain, p: ValidatorParams): Promise<TxResult> {
  return txResult(await call(chain, 'DatanetRegistry', 'removeValidator', [p.datanetId, p.validator], p.account));
}
