/**
 * Signers: an injected EIP-1193 wallet (MetaMask and friends), or — on a node running the embedded
 * chain — a dev-keyring account that the node signs for (POST /v1/dev/sign). Both sign the same
 * things: the SIWE message and EIP-712 typed data (contributions).
 */
import { createSiweMessage } from 'viem/siwe';
import { ApiError, post } from './api';

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<any>;
}

export interface Signer {
  kind: 'injected' | 'dev';
  address: `0x${string}`;
  signMessage(message: string): Promise<`0x${string}`>;
  signTypedData(typedData: unknown): Promise<`0x${string}`>;
}

export const injectedProvider = (): Eip1193 | null => ((window as unknown as { ethereum?: Eip1193 }).ethereum ?? null);

export function devSigner(address: `0x${string}`): Signer {
  return {
    kind: 'dev',
    address,
    signMessage: async (message) => (await post('/v1/dev/sign', { account: address, message })).signature,
    signTypedData: async (typedData) => (await post('/v1/dev/sign', { account: address, typedData })).signature,
  };
}

/** Errors from the wallet (EIP-1193 codes) in the API's error shape, with a hint. */
export function walletError(e: unknown): ApiError {
  const err = e as { code?: number; message?: string };
  if (err?.code === 4001) return new ApiError({ message: 'You rejected the request in your wallet.', type: 'wallet_error', param: null, code: 'user_rejected', hint: 'Approve it in the wallet to continue.' }, 0);
  if (err?.code === 4100) return new ApiError({ message: 'The wallet has not authorized this site.', type: 'wallet_error', param: null, code: 'unauthorized', hint: 'Connect the wallet again and allow this site.' }, 0);
  return new ApiError({ message: `Wallet error: ${err?.message ?? String(e)}`, type: 'wallet_error', param: null, code: err?.code != null ? String(err.code) : null, hint: 'Check the wallet extension and try again.' }, 0);
}

const wrongChain = (walletChain: number, nodeChain: number) =>
  new ApiError(
    {
      message: `Your wallet is on chain ${walletChain}, but this node runs chain ${nodeChain}.`,
      type: 'wallet_error',
      param: 'chainId',
      code: 'wrong_chain',
      hint: `Switch the wallet to chain ${nodeChain} (the button below asks it to), then sign in again.`,
    },
    0,
  );

/** Connects the injected wallet and checks its chain; returns a signer for its first account. */
export async function connectInjected(nodeChainId: number): Promise<Signer> {
  const eth = injectedProvider();
  if (!eth) {
    throw new ApiError({ message: 'No browser wallet found.', type: 'wallet_error', param: null, code: 'no_wallet', hint: 'Install a wallet extension (e.g. MetaMask), or pick a dev account on a local node.' }, 0);
  }
  let accounts: string[];
  let chainHex: string;
  try {
    accounts = await eth.request({ method: 'eth_requestAccounts' });
    chainHex = await eth.request({ method: 'eth_chainId' });
  } catch (e) {
    throw walletError(e);
  }
  const chainId = Number(chainHex);
  if (chainId !== nodeChainId) throw wrongChain(chainId, nodeChainId);
  if (!accounts?.length) throw new ApiError({ message: 'The wallet returned no account.', type: 'wallet_error', param: null, code: 'no_account', hint: 'Unlock the wallet and allow this site an account.' }, 0);
  return injectedSigner(eth, accounts[0] as `0x${string}`);
}

export function injectedSigner(eth: Eip1193, address: `0x${string}`): Signer {
  return {
    kind: 'injected',
    address,
    signMessage: async (message) => {
      try {
        return await eth.request({ method: 'personal_sign', params: [message, address] });
      } catch (e) {
        throw walletError(e);
      }
    },
    signTypedData: async (typedData) => {
      // the wallet may have moved to another chain since sign-in: say so before it refuses
      const want = Number((typedData as { domain?: { chainId?: number | string } }).domain?.chainId);
      let chainId: number;
      try {
        chainId = Number(await eth.request({ method: 'eth_chainId' }));
      } catch (e) {
        throw walletError(e);
      }
      if (want && chainId !== want) throw wrongChain(chainId, want);
      try {
        return await eth.request({ method: 'eth_signTypedData_v4', params: [address, JSON.stringify(typedData)] });
      } catch (e) {
        throw walletError(e);
      }
    },
  };
}

/** Asks the wallet to switch to the node's chain (adding it when the wallet does not know it). */
export async function switchChain(chainId: number, rpcUrl: string): Promise<void> {
  const eth = injectedProvider();
  if (!eth) return;
  const hex = `0x${chainId.toString(16)}`;
  try {
    await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: hex }] });
  } catch (e) {
    if ((e as { code?: number }).code !== 4902) throw walletError(e);
    try {
      await eth.request({ method: 'wallet_addEthereumChain', params: [{ chainId: hex, chainName: `OpenLedger node (${chainId})`, rpcUrls: [rpcUrl], nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 } }] });
    } catch (e2) {
      throw walletError(e2);
    }
  }
}

/** SIWE: nonce from the node → message → signature → session token. */
export async function siweSignIn(signer: Signer): Promise<{ token: string; address: `0x${string}`; expiresAt: string }> {
  const { nonce, chainId, domain } = await post('/v1/auth/nonce');
  const message = createSiweMessage({
    domain,
    address: signer.address,
    statement: 'Sign in to the OpenLedger studio',
    uri: location.origin,
    version: '1',
    chainId,
    nonce,
    issuedAt: new Date(),
  });
  const signature = await signer.signMessage(message);
  return post('/v1/auth/siwe', { message, signature });
}

/** Sends a transaction from the injected wallet and waits for it to be mined (status checked). */
export async function sendAndWait(from: `0x${string}`, to: `0x${string}`, data: `0x${string}`): Promise<`0x${string}`> {
  const eth = injectedProvider();
  if (!eth) throw new ApiError({ message: 'No browser wallet found.', type: 'wallet_error', param: null, code: 'no_wallet', hint: 'Sign in with a wallet extension to send transactions.' }, 0);
  let hash: `0x${string}`;
  try {
    hash = await eth.request({ method: 'eth_sendTransaction', params: [{ from, to, data }] });
  } catch (e) {
    throw walletError(e);
  }
  for (let i = 0; i < 240; i++) {
    const r = await eth.request({ method: 'eth_getTransactionReceipt', params: [hash] }).catch(() => null);
    if (r) {
      if (r.status !== '0x1') throw new ApiError({ message: `Transaction ${hash} failed on chain.`, type: 'chain_error', param: null, code: 'tx_reverted', hint: 'Check your OPEN and gas balance, then try again.' }, 0);
      return hash;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new ApiError({ message: `Transaction ${hash} was not mined within 2 minutes.`, type: 'chain_error', param: null, code: 'tx_timeout', hint: 'Check it in your wallet; the node picks the purchase up from the chain once it is mined.' }, 0);
}
