/**
 * Issue 9 item 6: a 100 000-row contribution must not stall the node. Parsing, validation, hashing
 * and the store write run off the event loop or in yielding chunks; /health is polled the whole time
 * and its slowest answer must stay far below the 10 s the node used to stall for.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { prepareFile, signContribution } from './index.ts';

let node: RunningNode;
const owner = privateKeyToAccount(generatePrivateKey());
const contributor = privateKeyToAccount(generatePrivateKey());
const ROWS = Number(process.env.OPENLEDGER_BIG_UPLOAD_ROWS ?? 100_000);

before(async () => {
  node = await startTestNode({ listen: true });
});
after(async () => {
  await node?.stop();
});

test(`a ${ROWS}-row contribution keeps /health answering`, { timeout: 600_000 }, async () => {
  const base = node.url!;
  const auth = async (a: typeof owner) => ({ authorization: `Bearer ${await siweToken(node, a)}` });
  const ho = await auth(owner), hc = await auth(contributor);
  const c = await fetch(`${base}/v1/datanets`, { method: 'POST', headers: { ...ho, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'big', format: 'text', policies: { quota: { userBytesPerDay: 64 * 1024 * 1024, datanetBytesPerDay: 64 * 1024 * 1024 } } }) });
  const created = await c.text();
  assert.equal(c.status, 201, created);
  const id = (JSON.parse(created) as { id: number }).id;
  const text = Array.from({ length: ROWS }, (_, i) => JSON.stringify({ text: `row number ${i}: ${(i * 2654435761) % 1_000_003} distinct words ${i.toString(36)}` })).join('\n');
  const bytes = new TextEncoder().encode(text);
  const prepared = await prepareFile(bytes, 'rows.jsonl', 'text');
  const chain = node.services.chain;
  const nonce = 1n, deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const signature = await signContribution(contributor, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
    contributor: contributor.address, datanetId: BigInt(id), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce, deadline,
  });
  const latencies: number[] = [];
  let done = false;
  const poll = (async () => {
    while (!done) {
      const t = performance.now();
      await fetch(`${base}/health`);
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  // The node runs in this process: the event loop's own delay is what /health waits for.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const up = await fetch(`${base}/v1/datanets/${id}/contributions?filename=rows.jsonl&nonce=${nonce}&deadline=${deadline}&signature=${signature}`, { method: 'POST', headers: { ...hc, 'content-type': 'application/octet-stream' }, body: bytes });
  const took = performance.now() - t0;
  loop.disable();
  done = true;
  await poll;
  const body = await up.text();
  assert.equal(up.status, 201, body.slice(0, 500));
  assert.equal(JSON.parse(body).accepted, ROWS);
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)], max = latencies[latencies.length - 1];
  const loopMax = loop.max / 1e6, loopP99 = loop.percentile(99) / 1e6;
  console.log(`upload of ${ROWS} rows: ${(took / 1000).toFixed(1)} s; /health ${latencies.length} polls, p50 ${latencies[latencies.length >> 1].toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms; event-loop delay p99 ${loopP99.toFixed(0)} ms, max ${loopMax.toFixed(0)} ms`);
  // The node used to stall 10 s here. What is left is GC, the worker's reply (100 000 records
  // cloned in) and 500-row store transactions: measured max 0.7–1.6 s on a 2-core machine at load
  // average 15–18, so the bound leaves room for a busy CI machine and still fails the old stall.
  assert.ok(max < 3_000, `/health stalled for ${max.toFixed(0)} ms`);
  assert.ok(loopMax < 3_000, `the event loop stalled for ${loopMax.toFixed(0)} ms`);
});
