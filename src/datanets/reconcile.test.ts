/**
 * Start-up reconciliation (issue 9 item 1), in process against a real node: the windows a crash
 * leaves are reproduced exactly — the chain transaction is sent as the node would, the store write is
 * skipped (or undone) — and the next start must bring store and chain back into agreement.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { actions } from '../chain/index.ts';
import type { BlobStore } from '../da/index.ts';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { prepareFile, signContribution } from './index.ts';

let node: RunningNode & { dataDir: string };
const owner = privateKeyToAccount(generatePrivateKey());
const contributor = privateKeyToAccount(generatePrivateKey());
const tokens = new Map<string, string>();
const call = (method: 'GET' | 'POST', url: string, who?: typeof owner, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({ method, url, payload: payload as never, headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers } });

async function restart() {
  const dataDir = node.dataDir;
  await node.stop();
  node = await startTestNode({ dataDir });
  tokens.clear();
  for (const a of [owner, contributor]) tokens.set(a.address, await siweToken(node, a));
}

before(async () => {
  node = await startTestNode();
  for (const a of [owner, contributor]) tokens.set(a.address, await siweToken(node, a));
});
after(async () => {
  await node?.stop();
});

test('a datanet and a version on chain but not in the store (node died between the two) are rebuilt at start', async () => {
  // A datanet the node created: metadata blob in DA, then the chain transaction — and no store row.
  const blobs = node.services.modules.da as BlobStore;
  const meta = { name: 'orphan', summary: 's', description: '', tags: ['t'], license: 'MIT', format: 'text', labels: null, policies: { access: { kind: 'open' } }, createdAt: 1_800_000_000 };
  const blob = await blobs.put(new TextEncoder().encode(JSON.stringify(meta)));
  const { datanetId } = await actions.createDatanet(node.services.chain, { metadataURI: `da://${blob.commitment}`, accessPolicy: 0, accessPrice: 0n, requiredApprovals: 0, owner: owner.address } as never);
  await restart();
  const d = await call('GET', `/v1/datanets/${datanetId}`);
  assert.equal(d.statusCode, 200, d.body);
  assert.equal(d.json().name, 'orphan');
  assert.equal(d.json().owner, owner.address);
  assert.equal(d.json().createdAt, 1_800_000_000);
  // The next create gets the next id (no 500 on a reused one).
  const next = await call('POST', '/v1/datanets', owner, { name: 'next', format: 'text' });
  assert.equal(next.statusCode, 201, next.body);
  assert.equal(next.json().id, Number(datanetId) + 1);

  // A version committed on chain whose store write was lost: publish, then delete the store rows.
  const id = next.json().id as number;
  const bytes = new TextEncoder().encode('{"text":"one fact"}\n{"text":"another fact entirely"}\n');
  const prepared = await prepareFile(bytes, 'rows.jsonl', 'text');
  const chain = node.services.chain;
  const sig = await signContribution(contributor, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
    contributor: contributor.address, datanetId: BigInt(id), rowsRoot: prepared.rowsRoot, rowCount: 2n, nonce: 7n, deadline: BigInt(Math.floor(Date.now() / 1000) + 600),
  });
  const up = await call('POST', `/v1/datanets/${id}/contributions?filename=rows.jsonl&nonce=7&deadline=${Math.floor(Date.now() / 1000) + 600}&signature=${sig}`, contributor, Buffer.from(bytes), { 'content-type': 'application/octet-stream' });
  assert.equal(up.statusCode, 201, up.body);
  const v = await call('POST', `/v1/datanets/${id}/versions`, owner);
  assert.equal(v.statusCode, 201, v.body);
  const root = v.json().merkleRoot;
  const db = new Database(join(node.dataDir, 'store.sqlite'));
  db.prepare('DELETE FROM datanet_version_rows WHERE datanet_id = ?').run(id);
  db.prepare('DELETE FROM datanet_versions WHERE datanet_id = ?').run(id);
  db.close();
  await restart();
  const again = await call('GET', `/v1/datanets/${id}/versions/1`);
  assert.equal(again.statusCode, 200, again.body);
  assert.equal(again.json().merkleRoot, root);
  const proof = await call('GET', `/v1/datanets/${id}/versions/1/rows/${up.json().results[0].rowId}/proof`);
  assert.equal(proof.statusCode, 200, proof.body);
  assert.equal(proof.json().verified, true);
});

test('an upload cut off while its rows were written is removed at start (all or nothing)', async () => {
  const c = await call('POST', '/v1/datanets', owner, { name: 'half', format: 'text' });
  const id = c.json().id as number;
  const db = new Database(join(node.dataDir, 'store.sqlite'));
  const uid = Number(db.prepare(`INSERT INTO datanet_uploads (datanet_id, contributor, filename, kind, bytes, blob_id, blob_commitment, rows_root, row_count, nonce, deadline, signature, accepted, pending, rejected, report, created_at)
    VALUES (?, ?, 'x.jsonl', 'jsonl', 1, '0x00', '0x00', '0x00', 2, '99', 0, '0x', 2, 0, 0, '{"writing":true}', 0)`).run(id, contributor.address).lastInsertRowid);
  db.prepare(`INSERT INTO datanet_rows (datanet_id, upload_id, item, line, contributor, hash, dedup_key, minhash, data, status, created_at)
    VALUES (?, ?, 1, 1, ?, '0x01', '0x01', x'00', '{"text":"half"}', 'accepted', 0)`).run(id, uid, contributor.address);
  db.close();
  await restart();
  const rows = await call('GET', `/v1/datanets/${id}/rows`);
  assert.equal(rows.statusCode, 200, rows.body);
  assert.deepEqual(rows.json().data, []);
  assert.equal((await call('GET', `/v1/datanets/${id}/contributions/${uid}`)).statusCode, 404);
});
