/**
 * viem clients for one RPC endpoint. The public client retries a little (transient HTTP errors);
 * the start-up probe does not retry at all, so an unreachable RPC fails in seconds with its URL named.
 */
import {
  createPublicClient,
  createWalletClient,
  http,
  type Account,
  type Chain as ViemChain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { OpenLedgerError } from '../util/errors.ts';

export type NodePublicClient = PublicClient<Transport, ViemChain>;
export type NodeWalletClient = WalletClient<Transport, ViemChain, Account>;

export function makePublicClient(rpcUrl: string, chain: ViemChain, pollingIntervalMs: number): NodePublicClient {
  return createPublicClient({
    chain,
    transport: http(rpcUrl, { timeout: 15_000, retryCount: 2, retryDelay: 200 }),
    pollingInterval: pollingIntervalMs,
    // Multicall batching would hide which call reverted; keep calls one to one.
    batch: { multicall: false },
  }) as NodePublicClient;
}

export function makeWalletClient(rpcUrl: string, chain: ViemChain, account: Account, pollingIntervalMs: number): NodeWalletClient {
  return createWalletClient({
    chain,
    account,
    transport: http(rpcUrl, { timeout: 30_000, retryCount: 0 }),
    pollingInterval: pollingIntervalMs,
  });
}

/** Redacts credentials that providers embed in URLs (`https://x.io/v3/<key>`, `user:pass@`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    u.search = u.search ? '?…' : '';
    return u.toString().replace(/\/[0-9a-f]{24,}\b/gi, '/…');
  } catch {
    return url;
  }
}

/**
 * `eth_chainId` with one short try, for start-up. Unreachable, timing out, or not JSON-RPC → a
 * chain_error naming the URL.
 */
export async function probeChainId(rpcUrl: string, timeoutMs = 5_000): Promise<number> {
  const shown = redactUrl(rpcUrl);
  let body: { result?: unknown; error?: { message?: string } };
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    body = (await res.json()) as typeof body;
  } catch (cause) {
    const why = cause instanceof Error
      ? (cause.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((cause.cause as Error | undefined)?.message ?? cause.message))
      : String(cause);
    throw new OpenLedgerError(`cannot reach the chain RPC at ${shown}: ${why}`, {
      type: 'chain_error',
      param: 'rpcUrl',
      code: 'rpc_unreachable',
      hint: 'check --rpc-url (scheme, host, port) and that the node behind it is running and reachable from here',
      cause,
    });
  }
  if (typeof body.result !== 'string') {
    throw new OpenLedgerError(`the RPC at ${shown} did not answer eth_chainId${body.error?.message ? `: ${body.error.message}` : ''}`, {
      type: 'chain_error', param: 'rpcUrl', code: 'rpc_invalid', hint: 'point --rpc-url at an EVM JSON-RPC endpoint',
    });
  }
  return Number(BigInt(body.result));
}
