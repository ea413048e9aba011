import type { Address } from 'viem';
import { readContract, sendContractTx, artifacts, actions, type Chain } from '../chain/index.ts';
import type { Hex } from '../da/index.ts';

/**
 * The reads and the two calls the datanet service makes on DatanetRegistry that the chain
 * module has no action for (getDatanet, getVersion, hasAccess, isValidator, purchaseAccess).
 * Reads use `latest`: they gate access, they do not move money.
 */
export interface OnChainDatanet {
  owner: Address;
  accessPolicy: number;
  requiredApprovals: number;
  latestVersion: bigint;
  accessPrice: bigint;
  metadataURI: string;
}
export interface OnChainVersion {
  merkleRoot: Hex;
  contentHash: Hex;
  rowCount: bigint;
  committedAt: bigint;
  daCommitment: Hex;
}

const reg = (chain: Chain) => ({ contract: 'DatanetRegistry', address: chain.addresses.contracts.DatanetRegistry, abi: artifacts.DatanetRegistry.abi });

export function getDatanet(chain: Chain, id: bigint): Promise<OnChainDatanet> {
  return readContract<OnChainDatanet>(chain, { ...reg(chain), functionName: 'getDatanet', args: [id] });
}
export function getVersion(chain: Chain, id: bigint, version: bigint): Promise<OnChainVersion> {
  return readContract<OnChainVersion>(chain, { ...reg(chain), functionName: 'getVersion', args: [id, version] });
}
export function hasAccess(chain: Chain, id: bigint, account: Address): Promise<boolean> {
  return readContract<boolean>(chain, { ...reg(chain), functionName: 'hasAccess', args: [id, account] });
}
export function isValidator(chain: Chain, id: bigint, account: Address): Promise<boolean> {
  return readContract<boolean>(chain, { ...reg(chain), functionName: 'isValidator', args: [id, account] });
}
export function stakeOf(chain: Chain, account: Address): Promise<bigint> {
  return actions.stakeOf(chain, { owner: account });
}

/**
 * Buys access as `account` (a key the node holds, e.g. a dev-keyring account): approves the price
 * to the registry when the allowance is short, then `purchaseAccess`. Returns the purchase tx.
 */
export async function purchaseAccess(chain: Chain, id: bigint, price: bigint, account: import('viem').Account): Promise<{ txHash: Hex; blockNumber: bigint }> {
  const registry = chain.addresses.contracts.DatanetRegistry;
  if ((await actions.tokenAllowance(chain, { owner: account.address, spender: registry })) < price) {
    await actions.approve(chain, { account, spender: registry, amount: price });
  }
  // maxPrice = the price the node showed the buyer: a price raised on chain in between reverts PriceAboveMax.
  const r = await sendContractTx(chain, { ...reg(chain), functionName: 'purchaseAccess', args: [id, price], account });
  return { txHash: r.transactionHash, blockNumber: r.blockNumber };
}
