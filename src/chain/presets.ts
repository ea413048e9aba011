/**
 * Chains the node knows by name. `local` is the embedded Anvil; `mainnet` and `testnet` are the
 * OpenLedger OP Stack L2s, where OPEN is the native gas token — there the ERC-20 used for payments is
 * a configured wrapped-OPEN address, never a freshly deployed OpenToken.
 */
import { defineChain, type Chain as ViemChain } from 'viem';

export type PresetName = 'local' | 'mainnet' | 'testnet';

export interface ChainPreset {
  name: PresetName;
  chain: ViemChain;
  /** OPEN pays for gas, so payments use a wrapped-OPEN ERC-20 that must be configured. */
  nativeIsOpen: boolean;
  /** Indexer confirmation depth. OP Stack `latest` is the unsafe head (seconds old, can reorg). */
  confirmations: number;
  /** Block tag for reads that move money (`finalized` cannot revert on an Alt-DA OP chain). */
  moneyReadTag: 'latest' | 'finalized';
  /** Receipt polling interval in ms (2 s blocks on OpenLedger; automine locally). */
  pollingIntervalMs: number;
}

export const localChain = defineChain({
  id: 31337,
  name: 'OpenLedger local (Anvil)',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: ['http://127.0.0.1:8545'] } },
  testnet: true,
});

export const openledgerMainnet = defineChain({
  id: 1612,
  name: 'OpenLedger',
  nativeCurrency: { name: 'Open', symbol: 'OPEN', decimals: 18 },
  rpcUrls: { default: { http: ['https://rpc.openledger.xyz'] } },
  blockExplorers: { default: { name: 'OpenLedger Explorer', url: 'https://scan.openledger.xyz' } },
  testnet: false,
});

export const openledgerTestnet = defineChain({
  id: 161201,
  name: 'OpenLedger Testnet',
  nativeCurrency: { name: 'Open', symbol: 'OPEN', decimals: 18 },
  rpcUrls: { default: { http: ['https://rpctn.openledger.xyz'] } },
  blockExplorers: { default: { name: 'OpenLedger Testnet Explorer', url: 'https://scantn.openledger.xyz' } },
  testnet: true,
});

export const presets: Record<PresetName, ChainPreset> = {
  local: { name: 'local', chain: localChain, nativeIsOpen: false, confirmations: 0, moneyReadTag: 'latest', pollingIntervalMs: 100 },
  mainnet: { name: 'mainnet', chain: openledgerMainnet, nativeIsOpen: true, confirmations: 12, moneyReadTag: 'finalized', pollingIntervalMs: 1_000 },
  testnet: { name: 'testnet', chain: openledgerTestnet, nativeIsOpen: true, confirmations: 12, moneyReadTag: 'finalized', pollingIntervalMs: 1_000 },
};

/** A viem chain for an arbitrary external chain id (no preset). */
export function customChain(id: number, rpcUrl: string): ViemChain {
  return defineChain({
    id,
    name: `EVM chain ${id}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export function presetForChainId(id: number): ChainPreset | undefined {
  return Object.values(presets).find((p) => p.chain.id === id);
}
