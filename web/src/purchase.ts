/**
 * Buying access to a paid datanet. A dev account: the node buys with its key (POST …/purchase).
 * A browser wallet: the wallet approves the price to DatanetRegistry and calls
 * purchaseAccess(datanetId, maxPrice) itself — maxPrice = the price the page showed, so a price raised
 * meanwhile reverts instead of charging more — then the node records the purchase from that transaction.
 */
import { encodeFunctionData } from 'viem';
import { post, type Datanet, type NodeStatus } from './api';
import { sendAndWait } from './wallet';

const abi = [
  { type: 'function', name: 'approve', stateMutability: 'nonpayable', inputs: [{ name: 'spender', type: 'address' }, { name: 'amount', type: 'uint256' }], outputs: [{ type: 'bool' }] },
  { type: 'function', name: 'purchaseAccess', stateMutability: 'nonpayable', inputs: [{ name: 'datanetId', type: 'uint256' }, { name: 'maxPrice', type: 'uint256' }], outputs: [] },
] as const;

export async function buyAccess(d: Datanet, who: { address: `0x${string}`; kind: 'injected' | 'dev' }, status: NodeStatus, onStep: (s: string) => void = () => {}): Promise<{ txHash: string; priceWei: string }> {
  if (who.kind === 'dev') return post(`/v1/datanets/${d.id}/purchase`);
  const a = d.policies.access;
  if (a.kind !== 'paid') return post(`/v1/datanets/${d.id}/purchase`); // the node names the problem
  const registry = status.contracts.DatanetRegistry as `0x${string}`;
  const token = status.contracts.OpenToken as `0x${string}`;
  onStep('Approve the price in your wallet…');
  await sendAndWait(who.address, token, encodeFunctionData({ abi, functionName: 'approve', args: [registry, BigInt(a.priceWei)] }));
  onStep('Confirm the purchase in your wallet…');
  const txHash = await sendAndWait(who.address, registry, encodeFunctionData({ abi, functionName: 'purchaseAccess', args: [BigInt(d.id), BigInt(a.priceWei)] }));
  onStep('Recording the purchase…');
  return post(`/v1/datanets/${d.id}/purchase`, { txHash });
}
