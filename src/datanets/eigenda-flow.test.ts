/**
 * A datanet published through the EigenDA proxy client (against the in-process fake proxy): the
 * snapshot's certificate is what DatanetRegistry records as daCommitment, the sha256 content id is
 * the contentHash, and the snapshot read back by certificate checks out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { EigenDaProxyBlobStore, contentId } from '../da/index.ts';
import { startFakeEigenDaProxy, type FakeEigenDaProxy } from '../da/testing/fake-eigenda-proxy.ts';
import { getVersion } from './chain-facts.ts';
import { prepareRows } from './upload.ts';
import { signContribution } from './signature.ts';
import type { DatanetService } from './service.ts';

let proxy: FakeEigenDaProxy;
let node: RunningNode & { dataDir: string };
before(async () => {
  proxy = await startFakeEigenDaProxy();
  node = await startTestNode({
    extend: async (s) => {
      s.modules.da = await EigenDaProxyBlobStore.connect({ url: proxy.url, indexDir: join(s.config.dataDir, 'da-index') });
    },
  });
});
after(async () => {
  await node?.stop();
  await proxy?.close();
});

test('publish through EigenDA: certificate on chain, snapshot retrievable and checked', async () => {
  const svc = node.services.modules.datanets as DatanetService;
  const da = node.services.modules.da as EigenDaProxyBlobStore;
  assert.equal(da.kind, 'eigenda');
  const [owner, alice] = node.services.keyring!.accounts;
  const d = await svc.create(owner.address, { name: 'EigenDA notes', format: 'text' });
  const rows = [{ text: 'Blobs on EigenDA are kept for about two weeks.' }, { text: 'Certificates are random, so we keep our own content hash.' }];
  const prepared = prepareRows(rows, 'text');
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
  const signature = await signContribution(alice, svc.domain, { contributor: alice.address, datanetId: BigInt(d.id), rowsRoot: prepared.rowsRoot, rowCount: 2n, nonce: 1n, deadline });
  const report = await svc.contribute(d.id, { contributor: alice.address, source: { kind: 'rows', rows }, nonce: 1n, deadline, signature });
  assert.equal(report.accepted, 2);
  assert.ok(proxy.log.includes('POST /put'));

  const v = await svc.publish(d.id, owner.address);
  const on = await getVersion(node.services.chain, BigInt(d.id), BigInt(v.version));
  assert.match(on.daCommitment, /^0x02[0-9a-f]{320}$/); // an EigenDA certificate, not a hash
  assert.equal(on.contentHash, v.snapshotId);
  const snapshot = await da.get(on.daCommitment);
  assert.equal(contentId(snapshot), on.contentHash);
  assert.equal(new TextDecoder().decode(snapshot).trim().split('\n').length, 2);
  const p = await svc.proof(d.id, v.version, report.results[1].rowId!);
  assert.equal(p.verified, true);
});
