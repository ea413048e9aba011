/**
 * The real `openledger` binary: up → status/accounts → SIGTERM → up again keeps chain and store.
 * Also the start-up errors a user meets: data dir in use, port in use, bad flags.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createWalletClient, http, parseEther, erc20Abi, createPublicClient } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { freePort, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'openledger.mjs');
const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL');
});

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

async function up(args: string[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not come up in 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (/node up in/.test(out)) (clearTimeout(t), resolve());
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => (clearTimeout(t), reject(new Error(`node exited ${code}:\n${out}`))));
  });
  return { child, out: () => out };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const code = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  child.kill('SIGTERM');
  const c = await code;
  running.delete(child);
  return c;
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

test('up, status, accounts, SIGTERM, and a restart that keeps everything', { timeout: 240_000 }, async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const chainPort = await freePort();
  const args = ['--data-dir', dataDir, '--port', String(port), '--chain-port', String(chainPort)];
  const api = `http://127.0.0.1:${port}`;

  const first = await up(args);
  const st = JSON.parse(cli(['status', '--json', '--api', api]).stdout);
  assert.equal(st.chainId, 31337);
  const accounts = JSON.parse(cli(['accounts', '--json', '--api', api]).stdout);
  // operator + settler, root submitter, slasher (one key per role) + 4 dev accounts
  assert.deepEqual(accounts.map((a: any) => a.role), ['operator', 'settler', 'rootSubmitter', 'slasher', 'dev', 'dev', 'dev', 'dev']);
  const human = cli(['status', '--api', api]).stdout;
  assert.match(human, /DatanetRegistry\s+0x[0-9a-fA-F]{40}/);

  // A second node on the same data dir is refused while the first runs.
  const second = cli(['up', '--data-dir', dataDir, '--port', String(await freePort()), '--chain-port', String(await freePort())]);
  assert.notEqual(second.status, 0);
  assert.match(second.stderr, /in use by another openledger node/);

  // Move money so the restart has something to keep.
  const mnemonic = readFileSync(join(dataDir, 'keyring', 'mnemonic'), 'utf8').trim();
  const alice = mnemonicToAccount(mnemonic, { addressIndex: 1 });
  const bob = mnemonicToAccount(mnemonic, { addressIndex: 2 });
  const rpc = `http://127.0.0.1:${chainPort}`;
  const wallet = createWalletClient({ account: alice, transport: http(rpc) });
  const pc = createPublicClient({ transport: http(rpc) });
  const token = st.contracts.OpenToken as `0x${string}`;
  const hash = await wallet.writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [bob.address, parseEther('123')], chain: null });
  await pc.waitForTransactionReceipt({ hash });
  const bobBefore = await pc.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [bob.address] });

  assert.equal(await stop(first.child), 0, first.out());
  assert.match(first.out(), /stopped/);
  assert.ok(await portFree(chainPort), 'Anvil stopped with the node');
  assert.ok(await portFree(port), 'API closed');

  const again = await up(args);
  const st2 = JSON.parse(cli(['status', '--json', '--api', api]).stdout);
  assert.deepEqual(st2.contracts, st.contracts, 'same contracts, not redeployed');
  assert.ok(BigInt(st2.blockNumber) >= BigInt(st.blockNumber) + 1n, 'blocks kept');
  const bobAfter = await pc.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [bob.address] });
  assert.equal(bobAfter, bobBefore, 'balances kept across restart');
  const events = ((await (await fetch(`${api}/v1/chain/events?contract=OpenToken&event=Transfer&order=desc&limit=1`)).json()) as { data: Array<{ txHash: string }> }).data;
  assert.equal(events[0].txHash, hash, 'the transfer is in the index after restart');
  assert.equal(await stop(again.child), 0);
});

test('start-up errors name the problem and the fix', { timeout: 120_000 }, async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    const chainBusy = cli(['up', '--data-dir', tempDir(), '--port', String(await freePort()), '--chain-port', String(busyPort)]);
    assert.notEqual(chainBusy.status, 0);
    assert.match(chainBusy.stderr, new RegExp(`${busyPort}.*in use|in use.*${busyPort}`, 's'));
    assert.match(chainBusy.stderr, /--chain-port/);

    const dir = tempDir();
    const apiBusy = cli(['up', '--data-dir', dir, '--port', String(busyPort), '--chain-port', String(await freePort())]);
    assert.notEqual(apiBusy.status, 0);
    assert.match(apiBusy.stderr, /port \d+ .*already in use/);
    assert.match(apiBusy.stderr, /--port/);
  } finally {
    busy.close();
  }
  const badPort = cli(['up', '--data-dir', tempDir(), '--port', 'http']);
  assert.notEqual(badPort.status, 0);
  assert.match(badPort.stderr, /invalid node configuration[\s\S]*port/);

  const noKey = cli(['up', '--data-dir', tempDir(), '--network', 'testnet'], { OPENLEDGER_PRIVATE_KEY: '' });
  assert.match(noKey.stderr, /OPENLEDGER_PRIVATE_KEY/);

  const unreachable = cli(['up', '--data-dir', tempDir(), '--rpc-url', `http://127.0.0.1:${await freePort()}`, '--chain-id', '31337', '--deploy'], {
    OPENLEDGER_PRIVATE_KEY: '0x' + '11'.repeat(32),
    OPENLEDGER_SETTLER_KEY: '0x' + '12'.repeat(32),
    OPENLEDGER_ROOT_SUBMITTER_KEY: '0x' + '13'.repeat(32),
    OPENLEDGER_SLASHER_KEY: '0x' + '14'.repeat(32),
  });
  assert.notEqual(unreachable.status, 0);
  assert.match(unreachable.stderr, /127\.0\.0\.1/);
  // Each role needs its own key on an external chain; the error names the variable.
  const noRoleKeys = cli(['up', '--data-dir', tempDir(), '--rpc-url', 'http://127.0.0.1:9', '--chain-id', '31337'], { OPENLEDGER_PRIVATE_KEY: '0x' + '11'.repeat(32) });
  assert.notEqual(noRoleKeys.status, 0);
  assert.match(noRoleKeys.stderr, /needs a separate settler key in OPENLEDGER_SETTLER_KEY[\s\S]*hint:/);
});

test('an external chain without an expected chain id is refused before connecting', () => {
  const r = cli(['up', '--data-dir', tempDir(), '--rpc-url', 'http://127.0.0.1:9', '--deploy'], { OPENLEDGER_PRIVATE_KEY: '0x' + '11'.repeat(32) });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /needs its chain id[\s\S]*--chain-id/);
});
