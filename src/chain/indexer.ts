/**
 * Event indexer: copies the contracts' events into the store, behind a cursor, `confirmations`
 * blocks behind the head, and safe against reorgs.
 *
 * One sync round:
 *   1. reorg check — the chain's hash at the cursor must equal the recorded one; if not, walk back
 *      (at most `maxReorgDepth` blocks, then fall back to a full re-index from the deployment block)
 *      to the newest recorded block the chain still agrees with, and `sink.rewind` to it;
 *   2. index (cursor, head − confirmations] in chunks of ≤ maxRange blocks (OpenLedger's RPC caps
 *      eth_getLogs at 1,000 blocks): hash of the chunk's last block → eth_getLogs → re-check that
 *      hash and the cursor's, so a reorg during the round aborts it instead of mixing forks;
 *   3. `sink.apply(events, to)` appends the chunk and moves the cursor in one transaction.
 *
 * The sink must remember the hash of every block it was given as `to` and of every block that
 * held an event (`blockHash(n)`); blocks it knows nothing about are skipped during the walk back.
 */
import { decodeEventLog, type Abi, type Address, type Hex, type Log } from 'viem';
import { OpenLedgerError } from '../util/errors.ts';
import { jsonSafe, toChainError } from './errors.ts';
import { nodeContracts } from './contracts.ts';
import type { Chain, IndexedContract } from './types.ts';

export interface IndexedEvent {
  blockNumber: bigint;
  blockHash: Hex;
  txHash: Hex;
  logIndex: number;
  address: Address;
  /** 'DatanetRegistry' */
  contract: string;
  /** 'VersionCommitted' */
  event: string;
  /** JSON-safe: bigint → decimal string; nested structs and arrays likewise. */
  args: Record<string, unknown>;
}

export interface BlockRef {
  blockNumber: bigint;
  blockHash: Hex;
}

/** Implemented by the store. */
export interface IndexerSink {
  /** Last fully indexed block, or null before the first apply. */
  cursor(): BlockRef | null;
  /** Hash recorded for an indexed block (a cursor position or a block with events), if any. */
  blockHash(blockNumber: bigint): Hex | null;
  /** Atomically append `events` (all in blocks ≤ to) and move the cursor to `to`. */
  apply(events: IndexedEvent[], to: BlockRef): void;
  /** Drop every event and block hash above `toBlockNumber` and move the cursor to it (reorg). */
  rewind(toBlockNumber: bigint): void;
}

export type { IndexedContract } from './types.ts';

export interface IndexerOptions {
  /** Poll interval; default 250 ms embedded, 2 s external. */
  pollMs?: number;
  /** Blocks per eth_getLogs; default 1000. */
  maxRange?: bigint;
  /** How far back to look for a common ancestor before re-indexing from the deployment block. Default 128. */
  maxReorgDepth?: bigint;
  /** Called after each applied chunk with its events (may be empty chunks: not called then). */
  onEvents?: (events: IndexedEvent[]) => void;
  /** Called when a reorg was detected, with the block the index was rewound to. */
  onReorg?: (info: { detectedAt: bigint; rewoundTo: bigint }) => void;
  /** Errors of background rounds (the next round retries). Default: console.warn once per message. */
  onError?: (err: unknown) => void;
  /** Contracts to index; default the six in `chain.addresses` with their generated ABIs. */
  contracts?: IndexedContract[];
}

export interface Indexer {
  stop(): Promise<void>;
  /** Runs one round now (serialized with the background loop); resolves to the number of events applied. */
  syncOnce(): Promise<number>;
  /** Resolves once the cursor is at or past `blockNumber` (read-your-writes). Default timeout 120 s. */
  waitFor(blockNumber: bigint, opts?: { timeoutMs?: number }): Promise<void>;
}

/** Thrown inside a round when the chain moved under it; the next round starts with the reorg check. */
class ChainMoved extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sameHash = (a: string | null | undefined, b: string | null | undefined) => !!a && !!b && a.toLowerCase() === b.toLowerCase();

export function startIndexer(chain: Chain, sink: IndexerSink, opts: IndexerOptions = {}): Indexer {
  const contracts = opts.contracts ?? nodeContracts(chain);
  const byAddress = new Map(contracts.map((c) => [c.address.toLowerCase(), c]));
  const addresses = contracts.map((c) => c.address);
  const pollMs = opts.pollMs ?? (chain.embedded ? 250 : 2_000);
  const maxRange = opts.maxRange ?? 1000n;
  const maxReorgDepth = opts.maxReorgDepth ?? 128n;
  const start = chain.addresses.deploymentBlock;
  const client = chain.publicClient;
  const seenErrors = new Set<string>();
  const onError = opts.onError ?? ((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    if (!seenErrors.has(msg)) {
      seenErrors.add(msg);
      console.warn(`indexer: ${msg}`);
    }
  });

  const hashAt = async (n: bigint): Promise<Hex | null> => {
    try {
      return (await client.getBlock({ blockNumber: n })).hash;
    } catch (err) {
      // A block above the (shortened) head after a reorg does not exist.
      if (err instanceof Error && /not be found|BlockNotFound/i.test(err.message)) return null;
      throw err;
    }
  };

  /** Newest block ≤ cursor that the chain and the sink agree on; start − 1 when none is found in range. */
  const commonAncestor = async (cursor: BlockRef): Promise<bigint> => {
    const floor = start - 1n;
    const limit = cursor.blockNumber - maxReorgDepth;
    for (let n = cursor.blockNumber - 1n; n > floor && n >= limit; n--) {
      const recorded = sink.blockHash(n);
      if (!recorded) continue;
      if (sameHash(recorded, await hashAt(n))) return n;
    }
    return floor;
  };

  const decode = (log: Log<bigint, number, false>): IndexedEvent | null => {
    const src = byAddress.get(log.address.toLowerCase());
    if (!src) return null;
    let decoded: { eventName?: string; args?: unknown };
    try {
      decoded = decodeEventLog({ abi: src.abi, data: log.data, topics: log.topics }) as typeof decoded;
    } catch {
      return null; // an event not in our ABI (e.g. emitted by a library); nothing to index
    }
    const args = jsonSafe(decoded.args ?? {});
    return {
      blockNumber: log.blockNumber!,
      blockHash: log.blockHash!,
      txHash: log.transactionHash!,
      logIndex: log.logIndex!,
      address: src.address,
      contract: src.name,
      event: decoded.eventName ?? 'unknown',
      args: (Array.isArray(args) ? Object.fromEntries(args.map((v, i) => [String(i), v])) : args) as Record<string, unknown>,
    };
  };

  const round = async (): Promise<number> => {
    let cursor = sink.cursor();
    if (cursor) {
      const onChain = await hashAt(cursor.blockNumber);
      if (!sameHash(onChain, cursor.blockHash)) {
        const to = await commonAncestor(cursor);
        sink.rewind(to);
        opts.onReorg?.({ detectedAt: cursor.blockNumber, rewoundTo: to });
        cursor = sink.cursor();
      }
    }
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const target = head - BigInt(chain.confirmations);
    let from = cursor ? cursor.blockNumber + 1n : start;
    let applied = 0;
    while (from <= target) {
      const to = from + maxRange - 1n < target ? from + maxRange - 1n : target;
      const toHash = await hashAt(to);
      if (!toHash) throw new ChainMoved();
      const logs = await client.getLogs({ address: addresses, fromBlock: from, toBlock: to });
      // The chain must not have moved while we read: same `to`, same cursor, no removed logs.
      if (!sameHash(await hashAt(to), toHash)) throw new ChainMoved();
      if (cursor && !sameHash(await hashAt(cursor.blockNumber), cursor.blockHash)) throw new ChainMoved();
      if (logs.some((l) => l.removed || (l.blockNumber === to && !sameHash(l.blockHash, toHash)))) throw new ChainMoved();
      const events = logs
        .map((l) => decode(l as Log<bigint, number, false>))
        .filter((e): e is IndexedEvent => e !== null)
        .sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));
      const ref = { blockNumber: to, blockHash: toHash };
      sink.apply(events, ref);
      if (events.length) opts.onEvents?.(events);
      applied += events.length;
      cursor = ref;
      from = to + 1n;
    }
    return applied;
  };

  // All rounds run one after another on this chain of promises.
  let tail: Promise<unknown> = Promise.resolve();
  const syncOnce = (): Promise<number> => {
    const run = tail.then(async () => {
      try {
        return await round();
      } catch (err) {
        if (err instanceof ChainMoved) return 0; // next round handles the reorg
        throw toChainError(err, 'indexer');
      }
    });
    tail = run.catch(() => {});
    return run;
  };

  let stopped = false;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!stopped) {
      try {
        await syncOnce();
      } catch (err) {
        onError(err);
      }
      if (stopped) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, pollMs).unref?.();
      });
      wake = null;
    }
  })();

  return {
    syncOnce,
    async waitFor(blockNumber: bigint, w: { timeoutMs?: number } = {}) {
      const deadline = Date.now() + (w.timeoutMs ?? 120_000);
      for (;;) {
        const c = sink.cursor();
        if (c && c.blockNumber >= blockNumber) return;
        if (stopped) throw new OpenLedgerError('indexer stopped before reaching the block', { type: 'internal_error' });
        if (Date.now() > deadline) {
          throw new OpenLedgerError(`timed out waiting for block ${blockNumber} to be indexed (cursor at ${c?.blockNumber ?? 'none'})`, {
            type: 'chain_error',
            code: 'index_timeout',
            hint: 'the chain RPC may be slow or the block is not yet confirmed; retry shortly',
          });
        }
        try {
          await syncOnce();
        } catch {
          /* retried below */
        }
        const c2 = sink.cursor();
        if (c2 && c2.blockNumber >= blockNumber) return;
        await sleep(Math.min(pollMs, 200));
      }
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      await tail;
    },
  };
}
