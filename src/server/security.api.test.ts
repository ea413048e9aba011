/**
 * Issue 9 (hardening) regressions at the API, against a real node (embedded Anvil, SQLite, local DA):
 * SIWE domain (item 3), nonce throttle and relay budget (item 7), and item 8's smaller holes —
 * private upload records, sealed DA blobs, file modes, a 2^256 price, NUL / bidi names, the 414
 * shape, 5xx logging.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { freePort, siweToken, tempDir } from '../../test/helpers.ts';
import { parseNodeConfig } from '../config/index.ts';
import { startNode, type RunningNode } from '../node.ts';
import { prepareFile, signContribution } from '../datanets/index.ts';
import { isSealed } from '../datanets/sealed.ts';
import { configureServerErrorLog, errorHandler } from './errors.ts';

let node: RunningNode;
let dataDir: string;
const owner = privateKeyToAccount(generatePrivateKey());
const alice = privateKeyToAccount(generatePrivateKey());
const tokens = new Map<string, string>();

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, who?: LocalAccount, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({ method, url, payload: payload as never, headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers } });
const errOf = (r: { json(): any }) => r.json().error;

before(async () => {
  dataDir = tempDir();
  const config = parseNodeConfig({
    dataDir, port: 7420, chain: { mode: 'embedded', chainPort: await freePort() }, logLevel: 'silent',
    relayBudget: { maxTransactions: 4, windowSeconds: 3600 }, authNoncesPerMinute: 10,
  });
  node = await startNode(config, { listen: false });
  for (const a of [owner, alice]) tokens.set(a.address, await siweToken(node, a));
});
after(async () => {
  await node?.stop();
});

describe('sign-in (SIWE) is bound to this node', () => {
  test('a message signed for another site gives no session; one for this node does', async () => {
    const who = privateKeyToAccount(generatePrivateKey());
    const { nonce, chainId, domain } = (await call('POST', '/v1/auth/nonce')).json();
    assert.equal(domain, '127.0.0.1:7420', 'the node names its own origin, not the Host header it was sent');
    const evil = createSiweMessage({ domain: 'evil.example', address: who.address, uri: 'https://evil.example/', version: '1', chainId, nonce });
    const r = await call('POST', '/v1/auth/siwe', undefined, { message: evil, signature: await who.signMessage({ message: evil }) });
    assert.equal(r.statusCode, 401, r.body);
    assert.equal(errOf(r).code, 'siwe_wrong_domain');
    assert.match(errOf(r).message, /evil\.example/);
    // The nonce was not burnt by the refused message: the right domain signs in with it.
    const good = createSiweMessage({ domain, address: who.address, uri: 'http://127.0.0.1:7420/', version: '1', chainId, nonce });
    const ok = await call('POST', '/v1/auth/siwe', undefined, { message: good, signature: await who.signMessage({ message: good }) });
    assert.equal(ok.statusCode, 200, ok.body);
    // A Host header naming another site does not make that site's domain acceptable.
    const spoof = (await node.app.inject({ method: 'POST', url: '/v1/auth/nonce', headers: { host: 'evil.example' } })).json();
    assert.equal(spoof.domain, '127.0.0.1:7420');
  });

  test('nonce issuance is throttled per client IP: 429 with Retry-After in the API shape', async () => {
    let last;
    for (let i = 0; i < 12; i++) last = await node.app.inject({ method: 'POST', url: '/v1/auth/nonce', remoteAddress: '10.9.9.9' });
    assert.equal(last!.statusCode, 429, last!.body);
    assert.equal(errOf(last!).type, 'rate_limit_error');
    assert.equal(errOf(last!).code, 'nonce_rate_limited');
    assert.ok(Number(last!.headers['retry-after']) >= 1);
    const other = await node.app.inject({ method: 'POST', url: '/v1/auth/nonce', remoteAddress: '10.9.9.10' });
    assert.equal(other.statusCode, 200, 'another IP is not affected');
  });
});

describe('item 8: smaller holes', () => {
  let approvalId: number;
  let uploadId: number;

  test('the data dir is 0700 and the store, keys and blobs are 0600', () => {
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    for (const f of ['store.sqlite', 'keyring/mnemonic', 'keyring/da-key', 'chain/anvil-state.json']) {
      assert.equal(statSync(join(dataDir, f)).mode & 0o077, 0, `${f} is not readable by others`);
    }
  });

  test('names with NUL or bidi-override characters are refused with a 400 naming the field', async () => {
    for (const name of ['evil\u0000name', 'invoice\u202Etxt.exe', 'a\u2066b']) {
      const r = await call('POST', '/v1/datanets', owner, { name, format: 'text' });
      assert.equal(r.statusCode, 400, r.body);
      assert.match(errOf(r).message, /name: .*control characters .*bidirectional/);
      assert.equal(errOf(r).param, 'name');
    }
    const tag = await call('POST', '/v1/datanets', owner, { name: 'ok', format: 'text', tags: ['x\u202Ey'] });
    assert.equal(tag.statusCode, 400, tag.body);
    const key = await call('POST', '/v1/api-keys', owner, { name: 'ci\u202Eyek' });
    assert.equal(key.statusCode, 400, key.body);
    assert.equal(errOf(key).param, 'name');
  });

  test('a price of 2^256 is a 400 saying the chain stores uint256, not a 502 with the chain client\'s text', async () => {
    const r = await call('POST', '/v1/datanets', owner, { name: 'pricey', format: 'text', policies: { access: { kind: 'paid', priceWei: (1n << 256n).toString() } } });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(errOf(r).message, /2\^256/);
    assert.doesNotMatch(r.body, /viem|Version: /);
    const job = await call('POST', '/v1/fine_tuning/jobs', owner, { model: 'starter', training_file: 'file-x', price_per_1k_input: (1n << 256n).toString() });
    assert.ok([400, 404].includes(job.statusCode), job.body);
  });

  test('an approval datanet: its upload record is private, and its raw data goes to DA sealed', async () => {
    const c = await call('POST', '/v1/datanets', owner, { name: 'private', format: 'text', policies: { access: { kind: 'approval' } } });
    assert.equal(c.statusCode, 201, c.body);
    approvalId = c.json().id;
    assert.equal((await call('POST', `/v1/datanets/${approvalId}/access`, owner, { address: alice.address })).statusCode, 200);
    const secret = 'the launch code is 0000';
    const bytes = new TextEncoder().encode(JSON.stringify({ text: secret }) + '\n');
    const prepared = await prepareFile(bytes, 'rows.jsonl', 'text');
    const nonce = 1n, deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
    const chain = node.services.chain;
    const signature = await signContribution(alice, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
      contributor: alice.address, datanetId: BigInt(approvalId), rowsRoot: prepared.rowsRoot, rowCount: 1n, nonce, deadline,
    });
    const up = await call('POST', `/v1/datanets/${approvalId}/contributions?filename=rows.jsonl&nonce=${nonce}&deadline=${deadline}&signature=${signature}`, alice, Buffer.from(bytes), { 'content-type': 'application/octet-stream' });
    assert.equal(up.statusCode, 201, up.body);
    uploadId = up.json().uploadId;
    // The upload record: not for anonymous callers or strangers; for its contributor and the owner.
    const stranger = privateKeyToAccount(generatePrivateKey());
    tokens.set(stranger.address, await siweToken(node, stranger));
    assert.equal((await call('GET', `/v1/datanets/${approvalId}/contributions/${uploadId}`)).statusCode, 403);
    assert.equal((await call('GET', `/v1/datanets/${approvalId}/contributions/${uploadId}`, stranger)).statusCode, 403);
    assert.equal((await call('GET', `/v1/datanets/${approvalId}/contributions/${uploadId}`, alice)).statusCode, 200);
    assert.equal((await call('GET', `/v1/datanets/${approvalId}/contributions/${uploadId}`, owner)).statusCode, 200);
    // Publish: the snapshot in DA is sealed too; no blob holds the text in the clear.
    const v = await call('POST', `/v1/datanets/${approvalId}/versions`, owner);
    assert.equal(v.statusCode, 201, v.body);
    const blobDir = join(dataDir, 'blobs');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : files.push(join(d, e.name)));
    };
    walk(blobDir);
    let sealed = 0;
    for (const f of files) {
      const b = readFileSync(f);
      assert.ok(!b.toString('utf8').includes(secret), `blob ${f} holds the row in the clear`);
      if (isSealed(b)) sealed++;
    }
    assert.ok(sealed >= 2, `raw upload and snapshot sealed (${sealed} sealed blobs)`);
    // The node still reads it: the owner exports the version.
    const ex = await call('GET', `/v1/datanets/${approvalId}/versions/1/export`, owner);
    assert.equal(ex.statusCode, 200, ex.body);
    assert.match(ex.body, /launch code/);
  });

  test('an over-long path segment is a 414 in the API error shape, without the URL echoed', async () => {
    const r = await call('GET', `/v1/fine_tuning/jobs/${'x'.repeat(5000)}`, owner);
    assert.equal(r.statusCode, 414, r.body);
    assert.equal(errOf(r).code, 'uri_too_long');
    assert.equal(errOf(r).type, 'invalid_request_error');
    assert.ok(r.body.length < 400);
  });

  test('error messages never show absolute paths of the node', async () => {
    const { OpenLedgerError } = await import('../util/errors.ts');
    const { toErrorBody } = await import('./errors.ts');
    const b = toErrorBody(new OpenLedgerError(`cannot read ${join(dataDir, 'keyring', 'mnemonic')}`, { type: 'invalid_request_error', hint: `look in ${dataDir}` }));
    assert.equal(b.body.error.message, 'cannot read <data-dir>/keyring/mnemonic');
    assert.equal(b.body.error.hint, 'look in <data-dir>');
  });

  test('a 500 is logged with its stack whatever the log level', () => {
    const lines: string[] = [];
    configureServerErrorLog((l) => lines.push(l));
    let status = 0;
    const reply = { status(s: number) { status = s; return this; }, header() { return this; }, send() { return this; } };
    errorHandler(new Error('disk on fire'), { method: 'GET', url: '/v1/x?q=1', id: 'req-1', log: { error() {} } } as never, reply as never);
    configureServerErrorLog(() => {});
    assert.equal(status, 500);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /500 GET \/v1\/x \(req-1\): Error: disk on fire/);
  });
});

describe('item 7: relay budget', () => {
  test('on-chain actions the operator pays for are limited per address: 429 + Retry-After, others unaffected', async () => {
    const who = privateKeyToAccount(generatePrivateKey());
    tokens.set(who.address, await siweToken(node, who));
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await call('POST', '/v1/datanets', who, { name: `budget ${i}`, format: 'text' })).statusCode);
    assert.deepEqual(codes, [201, 201, 201, 201, 429]);
    const r = await call('POST', '/v1/datanets', who, { name: 'one more', format: 'text' });
    assert.equal(errOf(r).code, 'relay_budget_exhausted');
    assert.ok(Number(r.headers['retry-after']) > 0);
    const other = privateKeyToAccount(generatePrivateKey());
    tokens.set(other.address, await siweToken(node, other));
    assert.equal((await call('POST', '/v1/datanets', other, { name: 'other', format: 'text' })).statusCode, 201);
    // Reads are not relayed and stay free.
    assert.equal((await call('GET', '/v1/datanets', who)).statusCode, 200);
  });
});
