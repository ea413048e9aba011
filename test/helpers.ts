/** Shared helpers for end-to-end tests: free ports, temp data dirs, an in-process node. */
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { LocalAccount } from 'viem';
import { createSiweMessage } from 'viem/siwe';
import { parseNodeConfig } from '../src/config/index.ts';
import { startNode, type RunningNode, type StartOptions } from '../src/node.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const tempDir = (prefix = 'ol-test-') => mkdtempSync(join(tmpdir(), prefix));

/** Start a node with the embedded chain in a temp data dir (no HTTP port unless listen). */
export async function startTestNode(opts: StartOptions & { dataDir?: string } = {}): Promise<RunningNode & { dataDir: string }> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = parseNodeConfig({
    dataDir,
    port: opts.listen ? await freePort() : 7420,
    chain: { mode: 'embedded', chainPort: await freePort() },
    logLevel: 'silent',
  });
  const node = await startNode(config, { listen: false, ...opts });
  return Object.assign(node, { dataDir });
}

/** Sign in to an in-process node with SIWE (nonce → signed message → session); the bearer token. */
export async function siweToken(node: Pick<RunningNode, 'app'>, acct: LocalAccount): Promise<string> {
  const { nonce, chainId, domain } = (await node.app.inject({ method: 'POST', url: '/v1/auth/nonce' })).json();
  const message = createSiweMessage({ domain, address: acct.address, uri: 'http://localhost/', version: '1', chainId, nonce });
  const res = await node.app.inject({ method: 'POST', url: '/v1/auth/siwe', payload: { message, signature: await acct.signMessage({ message }) } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().token;
}

/**
 * Import a GGUF LoRA adapter into an in-process node the way a client must (the node reads no path a
 * request names): upload it with POST /v1/files (purpose=adapter), then POST /v1/fine_tuning/models/import
 * with its file id. `body` carries the import's other fields (model, name, prices, register).
 */
export async function importAdapterFile(node: Pick<RunningNode, 'app'>, token: string, ggufPath: string, body: Record<string, unknown>) {
  const { readFileSync } = await import('node:fs');
  const headers = { authorization: `Bearer ${token}` };
  const u = await node.app.inject({ method: 'POST', url: '/v1/files?filename=adapter.gguf&purpose=adapter', headers: { ...headers, 'content-type': 'application/octet-stream' }, payload: readFileSync(ggufPath) });
  assert.equal(u.statusCode, 201, u.body);
  return node.app.inject({ method: 'POST', url: '/v1/fine_tuning/models/import', headers, payload: { ...body, file: u.json().id } });
}

let contributionNonce = 1n;
/**
 * Contribute alpaca rows to a datanet of an in-process node as a client does: the rows as a JSONL
 * file, an EIP-712 Contribution signed by `acct` over their Merkle root, posted with `token`; asserts 201.
 */
export async function uploadSignedRows(node: Pick<RunningNode, 'app' | 'services'>, acct: LocalAccount, token: string, datanetId: number, rows: unknown[]): Promise<void> {
  const { prepareFile, signContribution } = await import('../src/datanets/index.ts');
  const bytes = new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n'));
  const prepared = await prepareFile(bytes, 'rows.jsonl', 'alpaca');
  const nonce = contributionNonce++, deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
  const chain = node.services.chain;
  const signature = await signContribution(acct, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
    contributor: acct.address, datanetId: BigInt(datanetId), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce, deadline,
  });
  const res = await node.app.inject({
    method: 'POST', url: `/v1/datanets/${datanetId}/contributions?filename=rows.jsonl&nonce=${nonce}&deadline=${deadline}&signature=${signature}`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes),
  });
  assert.equal(res.statusCode, 201, res.body);
}

/** Run the real `openledger` binary against a listening in-process node (its API and data dir); output collected. */
export function runCli(node: Pick<RunningNode, 'url'> & { dataDir: string }, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'bin', 'openledger.mjs'), ...args, '--api', node.url!, '--data-dir', node.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
