/**
 * The HTTP API against a real node (embedded Anvil, real store), called in process with inject.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSiweMessage } from 'viem/siwe';
import { mnemonicToAccount, generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startTestNode } from './helpers.ts';
import type { RunningNode } from '../src/node.ts';

let node: RunningNode & { dataDir: string };
before(async () => {
  node = await startTestNode();
});
after(async () => {
  await node?.stop();
});

const inject = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, token?: string) =>
  node.app.inject({ method, url, payload: payload as any, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function siweMessage(address: `0x${string}`, over: Partial<Parameters<typeof createSiweMessage>[0]> = {}) {
  const { nonce, chainId, domain } = (await inject('POST', '/v1/auth/nonce')).json();
  return createSiweMessage({ domain, address, uri: 'http://localhost/', version: '1', chainId, nonce, ...over });
}

describe('node API', () => {
  test('GET /health and /v1/status', async () => {
    assert.deepEqual((await inject('GET', '/health')).json(), { ok: true });
    const st = (await inject('GET', '/v1/status')).json();
    assert.equal(st.chainId, 31337);
    assert.equal(st.embeddedChain, true);
    assert.match(st.blockNumber, /^\d+$/);
    for (const name of ['OpenToken', 'DatanetRegistry', 'ModelRegistry', 'InferenceEscrow', 'RewardsDistributor', 'Staking']) {
      assert.match(st.contracts[name], /^0x[0-9a-fA-F]{40}$/, name);
    }
    assert.equal(st.operator, node.services.keyring!.operator.address);
  });

  test('OpenAPI document and interactive docs are served', async () => {
    const doc = (await inject('GET', '/openapi.json')).json();
    assert.equal(doc.openapi, '3.1.0');
    assert.ok(doc.paths['/v1/status']);
    assert.ok(doc.paths['/v1/auth/siwe'].post);
    const docs = await inject('GET', '/docs/');
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
  });

  test('dev accounts are funded with OPEN; events of the deployment are indexed', async () => {
    const { data } = (await inject('GET', '/v1/accounts')).json();
    assert.equal(data[0].role, 'operator');
    const devs = data.filter((a: any) => a.role === 'dev');
    assert.equal(devs.length, 4);
    for (const d of devs) assert.ok(BigInt(d.open) > 0n, `${d.address} has OPEN`);
    await node.services.waitForIndex(await node.services.chain.publicClient.getBlockNumber());
    const ev = (await inject('GET', '/v1/chain/events?contract=OpenToken&event=Transfer&order=asc')).json().data;
    const minted = new Set(ev.map((e: any) => String(e.args.to).toLowerCase()));
    for (const d of devs) assert.ok(minted.has(d.address.toLowerCase()), 'mint to dev account indexed');
  });

  test('SIWE sign-in → session → API key → revoke', async () => {
    const acct = node.services.keyring!.accounts[0];
    const message = await siweMessage(acct.address);
    const signature = await acct.signMessage({ message });
    const res = await inject('POST', '/v1/auth/siwe', { message, signature });
    assert.equal(res.statusCode, 200, res.body);
    const { token, address } = res.json();
    assert.equal(address, acct.address);
    assert.equal((await inject('GET', '/v1/auth/session', undefined, token)).json().address, acct.address);

    const key = (await inject('POST', '/v1/api-keys', { name: 'ci' }, token)).json();
    assert.match(key.key, /^olk_/);
    assert.equal((await inject('GET', '/v1/auth/session', undefined, key.key)).json().address, acct.address);
    const list = (await inject('GET', '/v1/api-keys', undefined, token)).json().data;
    assert.equal(list.length, 1);
    assert.equal(list[0].name, 'ci');
    assert.equal((await inject('DELETE', `/v1/api-keys/${key.apiKey.id}`, undefined, token)).statusCode, 200);
    const denied = await inject('GET', '/v1/auth/session', undefined, key.key);
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.json().error.code, 'invalid_token');

    // Replaying the same signed message fails: the nonce was consumed.
    const replay = await inject('POST', '/v1/auth/siwe', { message, signature });
    assert.equal(replay.statusCode, 401);
    assert.equal(replay.json().error.code, 'siwe_bad_nonce');

    assert.equal((await inject('POST', '/v1/auth/logout', undefined, token)).statusCode, 200);
    assert.equal((await inject('GET', '/v1/auth/session', undefined, token)).statusCode, 401);
  });

  test('SIWE with an address that did not sign, another chain, or no SIWE at all is refused', async () => {
    const signer = privateKeyToAccount(generatePrivateKey());
    const victim = mnemonicToAccount('test test test test test test test test test test test junk');
    const forged = await siweMessage(victim.address);
    const r1 = await inject('POST', '/v1/auth/siwe', { message: forged, signature: await signer.signMessage({ message: forged }) });
    assert.equal(r1.statusCode, 401);
    assert.equal(r1.json().error.code, 'siwe_bad_signature');

    const other = await siweMessage(signer.address, { chainId: 1 });
    const r2 = await inject('POST', '/v1/auth/siwe', { message: other, signature: await signer.signMessage({ message: other }) });
    assert.equal(r2.json().error.code, 'siwe_wrong_chain');

    const r3 = await inject('POST', '/v1/auth/siwe', { message: 'hello', signature: '0x1234' });
    assert.equal(r3.statusCode, 400);
    assert.equal(r3.json().error.code, 'siwe_malformed');
  });

  test('errors share one shape: validation, unknown route, unauthenticated', async () => {
    const v = await inject('POST', '/v1/auth/siwe', { message: 'x' });
    assert.equal(v.statusCode, 400);
    assert.equal(v.json().error.type, 'invalid_request_error');
    assert.equal(v.json().error.param, 'signature');
    const nf = await inject('GET', '/v1/nope');
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.json().error.type, 'not_found_error');
    const un = await inject('GET', '/v1/api-keys');
    assert.equal(un.statusCode, 401);
    assert.equal(un.json().error.code, 'unauthenticated');
    assert.ok(un.json().error.hint);
    const bad = await inject('GET', '/v1/accounts/0x123');
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.param, 'address');
  });
});

test('a data dir bound to one chain refuses a chain with another genesis', async () => {
  const { startTestNode } = await import('./helpers.ts');
  const n = await startTestNode();
  const dir = n.dataDir;
  n.services.store.meta.set('genesis_hash', '0x' + 'ab'.repeat(32));
  await n.stop();
  await assert.rejects(startTestNode({ dataDir: dir }), (e: any) => e.code === 'store_wrong_chain' && /genesis/.test(e.message) && !!e.hint);
  // Nothing was left running: the same data dir starts once the binding is corrected.
  const { openStore } = await import('../src/store/index.ts');
  const s = openStore(dir);
  s.db.prepare("DELETE FROM node_meta WHERE key = 'genesis_hash'").run();
  s.close();
  const again = await startTestNode({ dataDir: dir });
  await again.stop();
});
