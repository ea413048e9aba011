/**
 * The indexer against a real Anvil: events land in the sink decoded and JSON-safe, in chain order,
 * chunked ranges give the same result, waitFor gives read-your-writes, confirmations hold events
 * back, and a reorg (evm_snapshot → evm_revert → different blocks) is detected and re-indexed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccessPolicy } from '../contracts/index.ts';
import { actions, devAccounts, startChain, startIndexer, type Chain } from './index.ts';
import { MemorySink, TEST_MNEMONIC, freePort, rpc, tempDataDir } from './test-utils.ts';

const ROOT = ('0x' + '11'.repeat(32)) as `0x${string}`;
const HASH = ('0x' + '22'.repeat(32)) as `0x${string}`;

describe('indexer', () => {
  const data = tempDataDir();
  let chain: Chain;
  const [alice, bob] = devAccounts(TEST_MNEMONIC, 2);

  before(async () => {
    chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC });
  });
  after(async () => {
    await chain?.stop();
    data.remove();
  });

  test('picks up events, decoded and JSON-safe, in order; waitFor gives read-your-writes', async () => {
    const sink = new MemorySink();
    const seen: string[] = [];
    const ix = startIndexer(chain, sink, { pollMs: 50, onEvents: (evs) => seen.push(...evs.map((e) => e.event)) });
    try {
      const created = await actions.createDatanet(chain, { account: alice, metadataURI: 'ipfs://ix', accessPolicy: AccessPolicy.Approval, requiredApprovals: 2 });
      const v = await actions.commitVersion(chain, {
        account: alice, datanetId: created.datanetId, merkleRoot: ROOT, rowCount: 42n, daCommitment: '0xc0ffee', contentHash: HASH,
      });
      await ix.waitFor(v.blockNumber);
      const c = sink.events.find((e) => e.event === 'DatanetCreated' && e.args.datanetId === created.datanetId.toString());
      assert.ok(c, 'DatanetCreated indexed');
      assert.equal(c.contract, 'DatanetRegistry');
      assert.equal(c.address, chain.addresses.contracts.DatanetRegistry);
      assert.equal(c.txHash, created.txHash);
      assert.deepEqual(c.args, {
        datanetId: created.datanetId.toString(), owner: alice.address, accessPolicy: AccessPolicy.Approval, accessPrice: '0',
        requiredApprovals: 2, metadataURI: 'ipfs://ix',
      });
      const vc = sink.events.find((e) => e.event === 'VersionCommitted' && e.txHash === v.txHash);
      assert.ok(vc);
      assert.deepEqual(vc.args, {
        datanetId: created.datanetId.toString(), version: '1', merkleRoot: ROOT, rowCount: '42', contentHash: HASH, daCommitment: '0xc0ffee',
      });
      assert.doesNotThrow(() => JSON.stringify(sink.events.map((e) => e.args)));
      // Deployment-time events are indexed too: the dev mints (Transfer) and the role grants.
      assert.ok(seen.includes('Transfer') && seen.includes('RoleGranted'));
      for (let i = 1; i < sink.events.length; i++) {
        const a = sink.events[i - 1], b = sink.events[i];
        assert.ok(a.blockNumber < b.blockNumber || (a.blockNumber === b.blockNumber && a.logIndex < b.logIndex), 'chain order');
      }
      assert.equal(sink.cursor()?.blockNumber, await chain.publicClient.getBlockNumber());
    } finally {
      await ix.stop();
    }
    // A fresh sink indexed in 2-block chunks gets exactly the same events.
    const chunked = new MemorySink();
    const ix2 = startIndexer(chain, chunked, { pollMs: 60_000, maxRange: 2n });
    await ix2.syncOnce();
    await ix2.stop();
    assert.deepEqual(chunked.events, sink.events);
  });

  test('waitFor a block that never comes times out with a clear error', async () => {
    const sink = new MemorySink();
    const ix = startIndexer(chain, sink, { pollMs: 50 });
    try {
      const head = await chain.publicClient.getBlockNumber();
      await assert.rejects(ix.waitFor(head + 100n, { timeoutMs: 300 }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'index_timeout');
        assert.match(err.message, new RegExp(`block ${head + 100n}.*cursor at ${head}`));
        return true;
      });
    } finally {
      await ix.stop();
    }
  });

  test('confirmations hold back the newest blocks', async () => {
    const sink = new MemorySink();
    const deep = { ...chain, confirmations: 3 };
    const ix = startIndexer(deep, sink, { pollMs: 60_000 });
    try {
      const t = await actions.transfer(chain, { account: alice, to: bob.address, amount: 1n });
      await ix.syncOnce();
      assert.equal(sink.cursor()?.blockNumber, t.blockNumber - 3n);
      assert.ok(!sink.events.some((e) => e.txHash === t.txHash));
      await rpc(chain.rpcUrl, 'anvil_mine', ['0x3']);
      await ix.syncOnce();
      assert.ok(sink.events.some((e) => e.txHash === t.txHash && e.event === 'Transfer'));
    } finally {
      await ix.stop();
    }
  });

  test('a reorg is detected, rewound to the common ancestor and re-indexed', async () => {
    const sink = new MemorySink();
    const reorgs: { detectedAt: bigint; rewoundTo: bigint }[] = [];
    const ix = startIndexer(chain, sink, { pollMs: 60_000, onReorg: (r) => reorgs.push(r) });
    try {
      await ix.syncOnce();
      const fork = await chain.publicClient.getBlockNumber();
      const snap = await rpc<string>(chain.rpcUrl, 'evm_snapshot');
      // Fork A: two blocks with events, indexed.
      const a1 = await actions.transfer(chain, { account: alice, to: bob.address, amount: 111n });
      const a2 = await actions.createDatanet(chain, { account: alice, metadataURI: 'ipfs://fork-a', accessPolicy: AccessPolicy.Open });
      await ix.syncOnce();
      assert.ok(sink.events.some((e) => e.txHash === a1.txHash));
      assert.ok(sink.events.some((e) => e.txHash === a2.txHash));
      const hashA = sink.cursor()!.blockHash;

      // Fork B replaces both blocks (and one more) with different transactions.
      assert.equal(await rpc(chain.rpcUrl, 'evm_revert', [snap]), true);
      const b1 = await actions.transfer(chain, { account: bob, to: alice.address, amount: 222n });
      await rpc(chain.rpcUrl, 'anvil_mine', ['0x1']);
      const b3 = await actions.createDatanet(chain, { account: bob, metadataURI: 'ipfs://fork-b', accessPolicy: AccessPolicy.Open });
      assert.equal(b1.blockNumber, fork + 1n);
      assert.notEqual((await chain.publicClient.getBlock({ blockNumber: a2.blockNumber })).hash, hashA);

      await ix.syncOnce();
      assert.equal(reorgs.length, 1);
      assert.equal(reorgs[0].detectedAt, a2.blockNumber);
      assert.equal(reorgs[0].rewoundTo, fork, 'walked back to the last block both forks share');
      assert.ok(!sink.events.some((e) => e.txHash === a1.txHash || e.txHash === a2.txHash), 'fork A events dropped');
      assert.ok(sink.events.some((e) => e.txHash === b1.txHash && e.args.value === '222'));
      assert.ok(sink.events.some((e) => e.txHash === b3.txHash && e.event === 'DatanetCreated'));
      assert.equal(sink.cursor()?.blockNumber, b3.blockNumber);
      assert.equal(sink.cursor()?.blockHash, (await chain.publicClient.getBlock({ blockNumber: b3.blockNumber })).hash);

      // Same as a fresh index of the winning fork.
      const fresh = new MemorySink();
      const ix2 = startIndexer(chain, fresh, { pollMs: 60_000 });
      await ix2.syncOnce();
      await ix2.stop();
      assert.deepEqual(sink.events, fresh.events);
    } finally {
      await ix.stop();
    }
  });

  test('a reorg to a shorter chain (cursor block gone) is handled', async () => {
    const sink = new MemorySink();
    const ix = startIndexer(chain, sink, { pollMs: 60_000 });
    try {
      await ix.syncOnce();
      const snap = await rpc<string>(chain.rpcUrl, 'evm_snapshot');
      const gone = await actions.transfer(chain, { account: alice, to: bob.address, amount: 333n });
      await ix.syncOnce();
      assert.ok(sink.events.some((e) => e.txHash === gone.txHash));
      await rpc(chain.rpcUrl, 'evm_revert', [snap]);
      await ix.syncOnce();
      assert.ok(!sink.events.some((e) => e.txHash === gone.txHash));
      assert.equal(sink.cursor()?.blockNumber, await chain.publicClient.getBlockNumber());
    } finally {
      await ix.stop();
    }
  });
});
