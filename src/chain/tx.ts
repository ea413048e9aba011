/**
 * The one path every state-changing contract call takes:
 *   simulate (so a revert is decoded into the contract's custom error before anything is signed)
 *   → sign and send with a nonce handed out under a per-sender lock (concurrent API requests from the
 *     same account must not reuse a nonce) → wait for the receipt → fail on a reverted receipt.
 * Reads go through `readContract` with the chain's money tag when they move money.
 */
import type { Abi, Account, Address, Hash, TransactionReceipt } from 'viem';
import { OpenLedgerError } from '../util/errors.ts';
import { toChainError } from './errors.ts';
import type { Chain } from './types.ts';

export interface ContractCall {
  /** For messages: "DatanetRegistry". */
  contract: string;
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  value?: bigint;
  /** Sender; default the operator. */
  account?: Account;
}

/** Per-sender promise chains: sends from one account run one at a time. */
const locks = new WeakMap<Chain, Map<string, Promise<unknown>>>();
const NONCE_CLASH = /nonce too low|nonce.*already been used|already known|replacement transaction underpriced/i;

function withSenderLock<T>(chain: Chain, sender: string, fn: () => Promise<T>): Promise<T> {
  let m = locks.get(chain);
  if (!m) locks.set(chain, (m = new Map()));
  const prev = m.get(sender) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  m.set(sender, run.catch(() => {}));
  return run;
}

export async function sendContractTx(chain: Chain, call: ContractCall): Promise<TransactionReceipt> {
  const account = call.account ?? chain.operator;
  const where = `${call.contract}.${call.functionName}`;
  const sender = account.address.toLowerCase();
  const hash = await withSenderLock(chain, sender, async (): Promise<Hash> => {
    try {
      // Embedded Anvil mines only on demand, so `latest` can be a block from minutes ago: a time-dependent call
      // (vote after the voting delay, queue/execute, withdraw or claim after a delay) would be judged at that old
      // timestamp. Anvil's `pending` block carries the current time, as the mined transaction will.
      const blockTag = chain.embedded ? ('pending' as const) : undefined;
      const { request } = await chain.publicClient.simulateContract({
        account,
        address: call.address,
        abi: call.abi,
        functionName: call.functionName,
        args: call.args,
        value: call.value,
        ...(blockTag ? { blockTag } : {}),
      } as never);
      const gas = withGasMargin(await chain.publicClient.estimateContractGas({
        account, address: call.address, abi: call.abi, functionName: call.functionName, args: call.args, value: call.value,
        ...(blockTag ? { blockTag } : {}),
      } as never));
      // Nonce from the node's pending count, taken under the lock so two sends never share one. A
      // load-balanced RPC may lag behind its own mempool: a "nonce too low" is retried with a fresh count.
      for (let attempt = 0; ; attempt++) {
        const nonce = await chain.publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' });
        try {
          return await chain.walletFor(account).writeContract({ ...(request as object), account, nonce, gas } as never);
        } catch (err) {
          if (attempt < 2 && NONCE_CLASH.test(err instanceof Error ? err.message : String(err))) {
            await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
            continue;
          }
          throw err;
        }
      }
    } catch (err) {
      throw toChainError(err, where);
    }
  });
  let receipt: TransactionReceipt;
  try {
    receipt = await chain.publicClient.waitForTransactionReceipt({ hash, timeout: chain.embedded ? 30_000 : 180_000 });
  } catch (err) {
    throw toChainError(err, `${where} (waiting for ${hash})`);
  }
  if (receipt.status !== 'success') {
    throw new OpenLedgerError(`${where} transaction ${hash} reverted on chain in block ${receipt.blockNumber}`, {
      type: 'chain_error',
      code: 'transaction_reverted',
      hint: 'the chain state changed between simulation and inclusion; retry the request',
      details: { hash, blockNumber: receipt.blockNumber.toString() },
    });
  }
  return receipt;
}

export async function readContract<T>(
  chain: Chain,
  call: Omit<ContractCall, 'account' | 'value'> & { blockTag?: 'latest' | 'finalized' | 'safe' },
): Promise<T> {
  try {
    return (await chain.publicClient.readContract({
      address: call.address,
      abi: call.abi,
      functionName: call.functionName,
      args: call.args,
      blockTag: call.blockTag,
    } as never)) as T;
  } catch (err) {
    throw toChainError(err, `${call.contract}.${call.functionName}`);
  }
}

/**
 * Gas limit with a margin over the estimate. The estimate runs against the pending block; the mined block can
 * differ in ways that cost more gas — OPEN is ERC20Votes with a timestamp clock, so a transfer by a delegating
 * account updates a vote checkpoint when the estimate's block has the same timestamp as the last checkpoint but
 * pushes a new one (a fresh storage slot, ~20k gas more) when it is mined a second later. Without a margin such
 * a transaction runs out of gas now and then. Unused gas is refunded.
 */
export function withGasMargin(estimate: bigint): bigint {
  return (estimate * 13n) / 10n + 50_000n;
}
