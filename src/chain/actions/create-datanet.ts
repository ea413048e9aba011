/**
 * DatanetRegistry.createDatanet / createDatanetFor. Without `owner` the signer becomes the owner;
 * with `owner` the operator creates it on that address's behalf (OPERATOR_ROLE).
 */
import type { Address } from 'viem';
import type { AccessPolicy } from '../../contracts/index.ts';
import type { Chain } from '../types.ts';
import { call, eventArgs, txResult, type Signer, type TxResult } from './common.ts';

export interface CreateDatanetParams extends Signer {
  metadataURI: string;
  /** AccessPolicy.Open | Approval | Paid */
  accessPolicy: AccessPolicy;
  /** OPEN wei; > 0 only for Paid. */
  accessPrice?: bigint;
  /** Validator approvals a contribution needs (0 = automatic checks only). */
  requiredApprovals?: number;
  /** Create for this owner (createDatanetFor, operator only). */
  owner?: Address;
}

export interface CreateDatanetResult extends TxResult {
  datanetId: bigint;
  owner: Address;
}

export async function createDatanet(chain: Chain, p: CreateDatanetParams): Promise<CreateDatanetResult> {
  const tail = [p.metadataURI, p.accessPolicy, p.accessPrice ?? 0n, p.requiredApprovals ?? 0] as const;
  const r = p.owner
    ? await call(chain, 'DatanetRegistry', 'createDatanetFor', [p.owner, ...tail], p.account)
    : await call(chain, 'DatanetRegistry', 'createDatanet', tail, p.account);
  const e = eventArgs<{ datanetId: bigint; owner: Address }>(chain, r, 'DatanetRegistry', 'DatanetCreated');
  return { ...txResult(r), datanetId: e.datanetId, owner: e.owner };
}

/** createDatanetFor with an explicit owner (operator only). */
export const createDatanetFor = (chain: Chain, p: CreateDatanetParams & { owner: Address }) => createDatanet(chain, p);
