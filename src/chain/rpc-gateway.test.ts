/**
 * Issue 9 item 2: the embedded chain's RPC is not usable by web pages. A page can reach 127.0.0.1
 * (fetch, no-cors simple POSTs, DNS rebinding), so the gateway on --chain-port must refuse foreign
 * origins, foreign Host headers, text/plain bodies and every state-rewriting method; Anvil itself has
 * no unlocked account, no CORS, and no secret on its command line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { startChain, type Chain } from './index.ts';
import { freePort, tempDataDir, TEST_MNEMONIC } from './test-utils.ts';
import { methodAllowed } from './rpc-gateway.ts';

let chain: Chain;
let port: number;
const data = tempDataDir();

/** Raw HTTP (fetch refuses to set Host): what a browser or a rebinding page would send. */
function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const rpcBody = (method: string, params: unknown[] = []) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
const json = { 'content-type': 'application/json' };

before(async () => {
  port = await freePort();
  chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: port, mnemonic: TEST_MNEMONIC, allowedOrigins: ['http://127.0.0.1:7420'] });
});
after(async () => {
  await chain?.stop();
  data.remove();
});

describe('embedded chain RPC gateway', () => {
  test('wallet reads and raw transactions pass; the public URL is the gateway, not Anvil', async () => {
    assert.equal(chain.publicRpcUrl, `http://127.0.0.1:${port}`);
    assert.notEqual(chain.rpcUrl, chain.publicRpcUrl);
    const r = await post(chain.publicRpcUrl, rpcBody('eth_chainId'), json);
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).result, '0x7a69');
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'no CORS header for a request without Origin');
  });

  test('state-rewriting and signing methods are refused, alone or in a batch', async () => {
    for (const m of ['anvil_setBalance', 'anvil_setCode', 'evm_revert', 'evm_snapshot', 'anvil_dumpState', 'hardhat_setBalance', 'eth_sendTransaction', 'eth_sign', 'personal_sign', 'debug_traceTransaction', 'anvil_impersonateAccount']) {
      const r = await post(chain.publicRpcUrl, rpcBody(m, []), json);
      assert.equal(JSON.parse(r.body).error?.code, -32601, `${m} refused`);
    }
    const batch = JSON.parse((await post(chain.publicRpcUrl, JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] },
      { jsonrpc: '2.0', id: 2, method: 'anvil_setBalance', params: ['0x0000000000000000000000000000000000000001', '0x1'] },
    ]), json)).body);
    assert.ok(batch[0].result, 'the read in the batch answered');
    assert.equal(batch[1].id, 2);
    assert.equal(batch[1].error.code, -32601);
    assert.equal(methodAllowed('eth_getBalance'), true);
    assert.equal(methodAllowed('eth_sendRawTransaction'), true);
  });

  test('web pages: foreign Origin 403 (no CORS), allowed origin gets its CORS header, text/plain 415, rebinding Host 403', async () => {
    const evil = await post(chain.publicRpcUrl, rpcBody('eth_chainId'), { ...json, origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const studio = await post(chain.publicRpcUrl, rpcBody('eth_chainId'), { ...json, origin: 'http://127.0.0.1:7420' });
    assert.equal(studio.status, 200);
    assert.equal(studio.headers['access-control-allow-origin'], 'http://127.0.0.1:7420');
    // A no-cors "simple" POST needs no preflight: it must not reach Anvil.
    const simple = await post(chain.publicRpcUrl, rpcBody('eth_blockNumber'), { 'content-type': 'text/plain' });
    assert.equal(simple.status, 415);
    // DNS rebinding: the page's own name resolves to 127.0.0.1, so the Host header is the page's.
    const rebound = await post(chain.publicRpcUrl, rpcBody('eth_chainId'), { ...json, host: `evil.example:${port}` });
    assert.equal(rebound.status, 403);
  });

  test('Anvil: no unlocked accounts, no CORS, no mnemonic on its command line', async () => {
    const accounts = await post(chain.rpcUrl, rpcBody('eth_accounts'), json);
    assert.deepEqual(JSON.parse(accounts.body).result, []);
    const argv = readFileSync(`/proc/${chain.anvilPid}/cmdline`, 'utf8').split('\0');
    assert.ok(!argv.includes('--mnemonic'), 'no --mnemonic');
    assert.ok(!argv.some((a) => a.includes('test test test')), 'no mnemonic words');
    assert.ok(argv.includes('--no-cors'));
    assert.equal(argv[argv.indexOf('--accounts') + 1], '0');
    const plain = await post(chain.rpcUrl, rpcBody('eth_chainId'), { 'content-type': 'text/plain' });
    assert.ok(!JSON.parse(plain.body).result, 'Anvil ignores text/plain bodies');
  });

  test('a raw transaction sent through the gateway is durable before its answer (state file written)', async () => {
    const statePath = `${data.dir}/chain/anvil-state.json`;
    const before = readFileSync(statePath).length;
    const wallet = chain.walletFor(chain.operator);
    const hash = await wallet.sendTransaction({ account: chain.operator, to: '0x0000000000000000000000000000000000000002', value: 1n, chain: undefined } as never);
    await chain.publicClient.waitForTransactionReceipt({ hash });
    await chain.persist();
    const dumped = JSON.parse(readFileSync(statePath, 'utf8')) as { block?: { number?: string }; best_block_number?: string };
    assert.ok(readFileSync(statePath).length >= before);
    assert.ok(dumped.best_block_number ?? dumped.block, 'the state file is a loadable Anvil state');
  });
});
