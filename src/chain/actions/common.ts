/**
 * Shared plumbing for the actions: send a call to one of the node's contracts (by name, at the
 * address-book address) and pull the decoded event that carries the result out of the receipt.
 */
import { parseEventLogs, type Account, type Hash, type TransactionReceipt } from 'viem';
import { OpenLedgerError } from '../../util/errors.ts';
import type { ContractName } from '../address-book.ts';
import { artifacts } from '../contracts.ts';
import { readContract, sendContractTx } from '../tx.ts';
import type { Chain } from '../types.ts';

/** Every action's result carries where its transaction landed (for `indexer.waitFor(blockNumber)`). */
export interface TxResult {
  txHash: Hash;
  blockNumber: bigint;
}

/** `account` signs the transaction; default the node's operator. */
export interface Signer {
  account?: Account;
}

export async function call(
  chain: Chain,
  contract: ContractName,
  functionName: string,
  args: readonly unknown[],
  account?: Account,
): Promise<TransactionReceipt> {
  return sendContractTx(chain, {
    contract,
    address: chain.addresses.contracts[contract],
    abi: artifacts[contract].abi,
    functionName,
    args,
    account,
  });
}

export function read<T>(chain: Chain, contract: ContractName, functionName: string, args: readonly unknown[], blockTag?: 'latest' | 'finalized'): Promise<T> {
  return readContract<T>(chain, {
    contract,
    address: chain.addresses.contracts[contract],
    abi: artifacts[contract].abi,
    functionName,
    args,
    blockTag,
  });
}

/** Args of the first `eventName` log that `contract` emitted in `receipt`. */
export function eventArgs<T>(chain: Chain, receipt: TransactionReceipt, contract: ContractName, eventName: string): T {
  const address = chain.addresses.contracts[contract].toLowerCase();
  const logs = parseEventLogs({ abi: artifacts[contract].abi, logs: receipt.logs, eventName } as never) as unknown as {
    address: string;
    args: T;
  }[];
  const log = logs.find((l) => l.address.toLowerCase() === address);
  if (!log) {
    throw new OpenLedgerError(`${contract}: transaction ${receipt.transactionHash} emitted no ${eventName} event`, {
      type: 'internal_error', code: 'missing_event',
    });
  }
  return log.args;
}

export const txResult = (r: TransactionReceipt): TxResult => ({ txHash: r.transactionHash, blockNumber: r.blockNumber });
