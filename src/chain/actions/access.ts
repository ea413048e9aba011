/**
 * DatanetRegistry.grantAccess / revokeAccess (owner or operator) for Approval/Paid datanets.
 * Idempotent on chain: `changed` is false when the grantee already had (or lacked) access.
 */
import { parseEventLogs, type Address } from 'viem';
import { artifacts } from '../contracts.ts';
import type { Chain } from '../types.ts';
import { call, txResult, type Signer, type TxResult } from './common.ts';

export interface AccessParams extends Signer {
  datanetId: bigint;
  /** The address that gains or loses access (`account`, when given, signs). */
  grantee: Address;
}

export interface AccessResult extends TxResult {
  changed: boolean;
}

async function run(chain: Chain, fn: 'grantAccess' | 'revokeAccess', ev: string, p: AccessParams): Promise<AccessResult> {
  const r = await call(chain, 'DatanetRegistry', fn, [p.datanetId, p.grantee], p.account);
  const changed = parseEventLogs({ abi: artifacts.DatanetRegistry.abi, logs: r.logs, eventName: ev } as never).length > 0;
  return { ...txResult(r), changed };
}

export const grantAccess = (chain: Chain, p: AccessParams) => run(chain, 'grantAccess', 'AccessGranted', p);
export const revokeAccess = (chain: Chain, p: AccessParams) => run(chain, 'revokeAccess', 'AccessRevoked', p);
