/**
 * The studio's server side, in process: the production build served at / with the right cache
 * and security headers, client routes falling back to index.html without shadowing the API,
 * assets by name only, the dev signer (embedded chain only, dev accounts only, SIWE and typed
 * data for this chain only; escrow Permits, SpendAuthorizations and payer transactions for this
 * node's contracts only), and the adapter download route's refusals.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { encodeFunctionData, hexToSignature, recoverMessageAddress, verifyTypedData } from 'viem';
import { actions, artifacts } from '../../src/chain/index.ts';
import { SPEND_AUTHORIZATION_TYPES } from '../../src/chain/actions/index.ts';
import { createSiweMessage } from 'viem/siwe';
import { startTestNode, siweToken, tempDir } from '../helpers.ts';
import type { RunningNode } from '../../src/node.ts';
import { studioRoutes, STUDIO_DIR } from '../../src/server/routes/studio.ts';
import { errorHandler, errorSchema } from '../../src/server/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let node: RunningNode & { dataDir: string };

before(async () => {
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  node = await startTestNode();
});
after(async () => {
  await node?.stop();
});

const get = (url: string, headers: Record<string, string> = {}) => node.app.inject({ method: 'GET', url, headers });

describe('serving the studio', () => {
  test('/ and client routes answer index.html, no-cache, with a strict CSP', async () => {
    for (const url of ['/', '/datanets', '/datanets/3/rows', '/factory/jobs/ftjob-1', '/playground', '/models', '/wallet', '/signin', '/datanets?x=1']) {
      const r = await get(url);
      assert.equal(r.statusCode, 200, url);
      assert.match(r.headers['content-type'] as string, /^text\/html/);
      assert.equal(r.headers['cache-control'], 'no-cache');
      assert.match(r.headers['content-security-policy'] as string, /script-src 'self'/);
      assert.match(r.body, /<div id="root"><\/div>/);
      assert.match(r.body, /src="\/assets\/index-[\w-]+\.js"/);
    }
  });

  test('hashed assets are cached for a year; unknown or crafted names are JSON 404s', async () => {
    const js = readdirSync(join(STUDIO_DIR, 'assets')).find((f) => f.endsWith('.js'))!;
    const r = await get(`/assets/${js}`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(r.headers['content-type'] as string, /^text\/javascript/);
    for (const url of ['/assets/nope.js', '/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e%2findex.html', '/assets/.source-hash']) {
      const x = await get(url);
      assert.equal(x.statusCode, 404, url);
      assert.equal(x.json().error.type, 'not_found_error', url);
    }
  });

  test('the API keeps its answers: /v1, /health, /openapi.json, /docs, unknown paths', async () => {
    assert.deepEqual((await get('/health')).json(), { ok: true });
    assert.equal((await get('/v1/nope')).json().error.code, 'route_not_found');
    assert.equal((await get('/v1/datanets/999')).statusCode, 404);
    assert.match((await get('/v1/datanets/999')).headers['content-type'] as string, /json/);
    assert.equal((await get('/openapi.json')).json().openapi, '3.1.0');
    assert.doesNotMatch((await get('/docs/')).body, /<div id="root"><\/div>/);
    const unknown = await get('/no-such-page');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, 'route_not_found');
    // the studio routes are not in the API description
    assert.ok(!Object.keys((await get('/openapi.json')).json().paths).some((p) => p === '/' || p.startsWith('/assets')));
  });

  test('without a build the node says how to build, instead of a blank page', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    app.addSchema(errorSchema);
    await studioRoutes(app, { keyring: null, chain: { embedded: false, chainId: 1 } } as never, { dir: tempDir() });
    const r = await app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /The studio is not built/);
    assert.match(r.body, /npm run build/);
    await app.close();
  });
});

describe('POST /v1/dev/sign', () => {
  // As the studio's own page sends it: Host = the node's origin, same-origin (no foreign Origin).
  const ownHost = () => `127.0.0.1:${node.services.config.port}`;
  const sign = (payload: object, headers: Record<string, string> = { host: ownHost() }) => node.app.inject({ method: 'POST', url: '/v1/dev/sign', headers, payload });

  test('refuses pages of other sites and DNS-rebound hosts (a page on this machine reaches 127.0.0.1 too)', async () => {
    const dev = node.services.keyring!.accounts[0];
    const message = createSiweMessage({ domain: 'localhost', address: dev.address, uri: 'http://localhost/', version: '1', chainId: node.services.chain.chainId, nonce: 'abcdefgh12345678' });
    const cross = await sign({ account: dev.address, message }, { host: ownHost(), origin: 'https://evil.example' });
    assert.equal(cross.statusCode, 403, cross.body);
    assert.equal(cross.json().error.code, 'dev_signing_wrong_origin');
    const rebound = await sign({ account: dev.address, message }, { host: 'evil.example:7420' });
    assert.equal(rebound.statusCode, 403, rebound.body);
    assert.equal(rebound.json().error.code, 'dev_signing_wrong_origin');
    const same = await sign({ account: dev.address, message }, { host: ownHost(), origin: `http://${ownHost()}` });
    assert.equal(same.statusCode, 200, same.body);
  });

  test('signs a SIWE message for this chain with a dev account', async () => {
    const dev = node.services.keyring!.accounts[0];
    const message = createSiweMessage({ domain: 'localhost', address: dev.address, uri: 'http://localhost/', version: '1', chainId: node.services.chain.chainId, nonce: 'abcdefgh12345678' });
    const r = await sign({ account: dev.address.toLowerCase(), message });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await recoverMessageAddress({ message, signature: r.json().signature }), dev.address);
  });

  test('signs the contribution typed data the node prepared (as a wallet gets it)', async () => {
    const dev = node.services.keyring!.accounts[1];
    const token = await siweToken(node, dev);
    const d = (await node.app.inject({ method: 'POST', url: '/v1/datanets', headers: { authorization: `Bearer ${token}` }, payload: { name: 'Signed', format: 'text' } })).json();
    const prep = await node.app.inject({ method: 'POST', url: `/v1/datanets/${d.id}/contributions/prepare`, headers: { authorization: `Bearer ${token}` }, payload: { rows: [{ text: 'A row with enough words in it to pass the checks.' }, { text: '' }] } });
    assert.equal(prep.statusCode, 200, prep.body);
    const p = prep.json();
    // the report before signing: one row passes, the empty one is rejected with its reason
    assert.equal(p.report.rows, 2);
    assert.equal(p.report.accepted, 1);
    assert.equal(p.report.rejected, 1);
    assert.equal(p.report.results[1].reasons[0].code, 'empty');
    const r = await sign({ account: dev.address, typedData: p.typedData });
    assert.equal(r.statusCode, 200, r.body);
    const { EIP712Domain: _omit, ...types } = p.typedData.types;
    const m = p.typedData.message;
    assert.ok(await verifyTypedData({ address: dev.address, domain: p.typedData.domain, types, primaryType: 'Contribution', message: { ...m, datanetId: BigInt(m.datanetId), rowCount: BigInt(m.rowCount), nonce: BigInt(m.nonce), deadline: BigInt(m.deadline) }, signature: r.json().signature }));
    // and the node takes the upload signed that way
    const up = await node.app.inject({ method: 'POST', url: `/v1/datanets/${d.id}/contributions`, headers: { authorization: `Bearer ${token}` }, payload: { rows: [{ text: 'A row with enough words in it to pass the checks.' }, { text: '' }], nonce: m.nonce, deadline: m.deadline, signature: r.json().signature } });
    assert.equal(up.statusCode, 201, up.body);
    assert.equal(up.json().accepted, 1);
  });

  test('escrow: a Permit to the escrow and the deposit transaction, relayed by /v1/escrow/transactions; a SpendAuthorization the node relays', async () => {
    const chain = node.services.chain;
    const dev = node.services.keyring!.accounts[2];
    const token = await siweToken(node, dev);
    const { OpenToken, InferenceEscrow } = chain.addresses.contracts;
    const info = (await get(`/v1/studio/permit/${dev.address}`)).json();
    assert.equal(info.token, OpenToken);
    assert.equal(info.spender, InferenceEscrow);
    assert.equal(info.chain_id, chain.chainId);
    assert.equal((await get('/v1/studio/permit/not-an-address')).json().error.code, 'invalid_address');
    const deadline = String(Math.floor(Date.now() / 1000) + 3600);
    const amount = 2n * 10n ** 18n;
    const permitTypes = { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] };
    const permit = (over: Record<string, unknown> = {}, domain: Record<string, unknown> = {}) => ({
      domain: { name: info.name, version: info.version, chainId: info.chain_id, verifyingContract: OpenToken, ...domain },
      types: permitTypes, primaryType: 'Permit', message: { owner: dev.address, spender: InferenceEscrow, value: amount.toString(), nonce: info.nonce, deadline, ...over },
    });
    const r = await sign({ account: dev.address, typedData: permit() });
    assert.equal(r.statusCode, 200, r.body);
    const sig = hexToSignature(r.json().signature);
    const data = encodeFunctionData({ abi: artifacts.InferenceEscrow.abi, functionName: 'depositWithPermit', args: [amount, BigInt(deadline), Number(sig.v), sig.r, sig.s] } as never);
    const tx = await sign({ account: dev.address, transaction: { to: InferenceEscrow, data } });
    assert.equal(tx.statusCode, 200, tx.body);
    const sent = await node.app.inject({ method: 'POST', url: '/v1/escrow/transactions', payload: { signed_transaction: tx.json().signed_transaction } });
    assert.equal(sent.statusCode, 200, sent.body);
    assert.equal(sent.json().from, dev.address);
    assert.equal(sent.json().function, 'depositWithPermit');
    assert.equal((await actions.escrowBalance(chain, { owner: dev.address })).balance, amount);
    // a SpendAuthorization by the dev account, relayed by the node
    const auth = { payer: dev.address, scope: `0x${'00'.repeat(32)}`, cap: amount.toString(), expiry: String(Math.floor(Date.now() / 1000) + 86_400), nonce: '12345' };
    const td = { domain: { name: 'OpenLedger InferenceEscrow', version: '1', chainId: chain.chainId, verifyingContract: InferenceEscrow }, types: SPEND_AUTHORIZATION_TYPES, primaryType: 'SpendAuthorization', message: auth };
    const a = await sign({ account: dev.address, typedData: td });
    assert.equal(a.statusCode, 200, a.body);
    const relayed = await node.app.inject({ method: 'POST', url: '/v1/escrow/authorizations', headers: { authorization: `Bearer ${token}` }, payload: { ...auth, signature: a.json().signature } });
    assert.equal(relayed.statusCode, 200, relayed.body);
    assert.equal((await get(`/v1/escrow/${dev.address}`)).json().authorization.cap, amount.toString());

    // refused: a permit to another spender, of another token, by someone else; an authorization for another payer or escrow
    const other = node.services.keyring!.accounts[3].address;
    for (const [what, typedData] of [
      ['spender', permit({ spender: other })],
      ['token', permit({}, { verifyingContract: chain.addresses.contracts.DatanetRegistry })],
      ['owner', permit({ owner: other })],
      ['payer', { ...td, message: { ...auth, payer: other } }],
      ['escrow', { ...td, domain: { ...td.domain, verifyingContract: OpenToken } }],
    ] as const) {
      const x = await sign({ account: dev.address, typedData });
      assert.equal(x.statusCode, 400, what);
      assert.equal(x.json().error.code, 'typed_data_not_allowed', what);
    }
    // transactions: only payer calls to this node's escrow
    const toToken = await sign({ account: dev.address, transaction: { to: OpenToken, data } });
    assert.equal(toToken.json().error.code, 'transaction_not_allowed');
    const settle = encodeFunctionData({ abi: artifacts.InferenceEscrow.abi, functionName: 'settle', args: [1n, [], [], `0x${'00'.repeat(32)}`] } as never);
    const s2 = await sign({ account: dev.address, transaction: { to: InferenceEscrow, data: settle } });
    assert.equal(s2.statusCode, 400);
    assert.equal(s2.json().error.code, 'transaction_not_allowed');
    assert.equal((await sign({ account: dev.address, transaction: { to: InferenceEscrow, data: '0xdeadbeef' } })).json().error.code, 'unknown_function');
    assert.equal((await sign({ account: dev.address, transaction: { to: InferenceEscrow, data: '0x' }, message: 'x' })).json().error.code, 'invalid_request');
    assert.equal((await sign({ account: node.services.chain.operator.address, transaction: { to: InferenceEscrow, data } })).json().error.code, 'not_a_dev_account');
  });

  test('refuses the operator, strangers, other chains, non-SIWE text and bad bodies', async () => {
    const chainId = node.services.chain.chainId;
    const dev = node.services.keyring!.accounts[0].address;
    const op = node.services.chain.operator.address;
    const siwe = (address: string, c = chainId) => createSiweMessage({ domain: 'localhost', address: address as `0x${string}`, uri: 'http://localhost/', version: '1', chainId: c, nonce: 'abcdefgh12345678' });
    const registry = node.services.chain.addresses.contracts.DatanetRegistry;
    const contribution = {
      domain: { name: 'OpenLedger', version: '1', chainId, verifyingContract: registry },
      types: { Contribution: [{ name: 'contributor', type: 'address' }, { name: 'datanetId', type: 'uint256' }, { name: 'rowsRoot', type: 'bytes32' }, { name: 'rowCount', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
      primaryType: 'Contribution',
      message: { contributor: dev, datanetId: '1', rowsRoot: `0x${'11'.repeat(32)}`, rowCount: '1', nonce: '1', deadline: '9999999999' },
    };
    // e.g. an escrow spend authorization for the same chain: not something the browser may get signed
    const spend = {
      domain: { name: 'OpenLedger InferenceEscrow', version: '1', chainId, verifyingContract: node.services.chain.addresses.contracts.InferenceEscrow },
      types: { SpendAuthorization: [{ name: 'payer', type: 'address' }, { name: 'scope', type: 'bytes32' }, { name: 'cap', type: 'uint256' }, { name: 'expiry', type: 'uint64' }, { name: 'nonce', type: 'uint256' }] },
      primaryType: 'SpendAuthorization',
      message: { payer: dev, scope: `0x${'00'.repeat(32)}`, cap: '1000000000000000000000', expiry: '9999999999', nonce: '1' },
    };
    assert.equal((await sign({ account: dev, typedData: contribution })).statusCode, 200, 'the well-formed contribution is signed');
    const cases: [object, number, string][] = [
      [{ account: op, message: siwe(op) }, 403, 'not_a_dev_account'],
      [{ account: '0x000000000000000000000000000000000000dEaD', message: siwe(dev) }, 403, 'not_a_dev_account'],
      [{ account: 'nope', message: siwe(dev) }, 400, 'invalid_address'],
      [{ account: dev, message: 'transfer everything' }, 400, 'not_siwe_for_this_chain'],
      [{ account: dev, message: siwe(dev, 1) }, 400, 'not_siwe_for_this_chain'],
      [{ account: dev, message: siwe(op) }, 400, 'not_siwe_for_this_chain'],
      [{ account: dev, typedData: { domain: { chainId: 1 }, types: {}, primaryType: 'X', message: {} } }, 400, 'wrong_chain'],
      [{ account: dev, typedData: { domain: { chainId }, types: {}, primaryType: 'Nope', message: {} } }, 400, 'typed_data_not_allowed'],
      // a SpendAuthorization is signed only for the account itself (its own is allowed: the escrow test above)
      [{ account: dev, typedData: { ...spend, message: { ...spend.message, payer: op } } }, 400, 'typed_data_not_allowed'],
      [{ account: dev, typedData: { ...contribution, message: { ...contribution.message, contributor: op } } }, 400, 'typed_data_not_allowed'],
      [{ account: dev, typedData: { ...contribution, domain: { ...contribution.domain, verifyingContract: '0x000000000000000000000000000000000000dEaD' } } }, 400, 'typed_data_not_allowed'],
      [{ account: dev, typedData: { ...contribution, message: { ...contribution.message, rowCount: 'many' } } }, 400, 'invalid_typed_data'],
      [{ account: dev }, 400, 'invalid_request'],
      [{ account: dev, message: siwe(dev), typedData: {} }, 400, 'invalid_request'],
    ];
    for (const [payload, status, code] of cases) {
      const r = await sign(payload);
      assert.equal(r.statusCode, status, `${JSON.stringify(payload).slice(0, 80)} → ${r.body}`);
      assert.equal(r.json().error.code, code);
      assert.ok(r.json().error.hint, 'every refusal has a hint');
    }
  });

  test('only for browsers on the node\'s machine', async () => {
    const dev = node.services.keyring!.accounts[0].address;
    const message = createSiweMessage({ domain: 'localhost', address: dev, uri: 'http://localhost/', version: '1', chainId: node.services.chain.chainId, nonce: 'abcdefgh12345678' });
    const r = await node.app.inject({ method: 'POST', url: '/v1/dev/sign', remoteAddress: '192.168.1.23', payload: { account: dev, message } });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error.code, 'dev_signing_local_only');
    // a forwarded-for header does not make a remote caller local (the node trusts no proxy)
    const f = await node.app.inject({ method: 'POST', url: '/v1/dev/sign', remoteAddress: '192.168.1.23', headers: { 'x-forwarded-for': '127.0.0.1' }, payload: { account: dev, message } });
    assert.equal(f.statusCode, 403);
  });

  test('on an external chain (no dev keyring) it is refused with the way forward', async () => {
    const app = Fastify();
    app.setErrorHandler(errorHandler);
    app.addSchema(errorSchema);
    await studioRoutes(app, { keyring: null, chain: { embedded: false, chainId: 1612 } } as never, { dir: tempDir() });
    const r = await app.inject({ method: 'POST', url: '/v1/dev/sign', payload: { account: '0x000000000000000000000000000000000000dEaD', message: 'x' } });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error.code, 'dev_signing_unavailable');
    assert.match(r.json().error.hint, /wallet/);
    await app.close();
  });
});

describe('GET /v1/fine_tuning/jobs/:id/adapter/:file', () => {
  test('needs a caller, a listed file and your own job', async () => {
    const token = await siweToken(node, node.services.keyring!.accounts[2]);
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await get('/v1/fine_tuning/jobs/ftjob-x/adapter/adapter.gguf')).statusCode, 401);
    const bad = await get('/v1/fine_tuning/jobs/ftjob-x/adapter/..%2F..%2Fkeyring%2Fmnemonic', auth);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.param, 'file');
    const missing = await get('/v1/fine_tuning/jobs/ftjob-x/adapter/adapter.gguf', auth);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'job_not_found');
  });
});
