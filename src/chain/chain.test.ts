/**
 * Embedded chain lifecycle against a real Anvil: first-start deploy and address book, restart
 * keeps state, and every start-up failure (port in use, corrupt/foreign address book, corrupt state
 * file, a deploy that fails half-way, a parent that exits without stopping) ends cleanly.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Roles, AccessPolicy } from '../contracts/index.ts';
import { mnemonicToAccount } from 'viem/accounts';
import { EMBEDDED_ROLE_INDEXES, actions, artifacts, checkGovernance, defaultAddressBookPath, devAccounts, readAddressBook, startChain, type Chain } from './index.ts';
import { MemorySink, TEST_MNEMONIC, freePort, rejectsWith, tempDataDir } from './test-utils.ts';
import { startIndexer } from './indexer.ts';
import { pidAlive } from './anvil.ts';

const OPEN = 10n ** 18n;

const alive = pidAlive;

describe('embedded chain', () => {
  const data = tempDataDir();
  let port: number;
  let chain: Chain;

  before(async () => {
    port = await freePort();
    chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
  });
  after(async () => {
    await chain?.stop();
    data.remove();
  });

  test('first start deploys the contracts, timelock and governor, wires one key per role, funds dev accounts and writes the address book', async () => {
    const path = defaultAddressBookPath(data.dir);
    const book = readAddressBook(path);
    assert.ok(book, 'address book written');
    assert.equal(book.chainId, 31337);
    assert.equal(chain.chainId, 31337);
    assert.equal(chain.embedded, true);
    assert.equal(chain.moneyReadTag, 'latest');
    assert.equal(chain.confirmations, 0);
    assert.deepEqual(book.contracts, chain.addresses.contracts);
    assert.equal(book.DatanetRegistry, book.contracts.DatanetRegistry);
    assert.equal(book.genesisHash, (await chain.publicClient.getBlock({ blockNumber: 0n })).hash);
    assert.ok(book.deploymentBlock >= 1n);
    for (const [name, address] of Object.entries(book.contracts)) {
      const code = await chain.publicClient.getCode({ address });
      assert.ok(code && code.length > 2, `code at ${name}`);
    }
    const hasRole = (name: keyof typeof artifacts, role: keyof typeof Roles, who: `0x${string}`) =>
      chain.publicClient.readContract({
        address: book.contracts[name], abi: artifacts[name].abi, functionName: 'hasRole', args: [Roles[role], who],
      } as never);
    // One key per power, from the dev keyring at fixed indexes; the operator (relayer) holds only OPERATOR_ROLE.
    const r = chain.roles;
    assert.equal(r.relayer.address, chain.operator.address);
    assert.equal(r.settler.address, mnemonicToAccount(TEST_MNEMONIC, { addressIndex: EMBEDDED_ROLE_INDEXES.settler }).address);
    assert.equal(new Set([r.relayer, r.settler, r.rootSubmitter, r.slasher].map((a) => a.address)).size, 4);
    assert.equal(await hasRole('DatanetRegistry', 'OPERATOR_ROLE', r.relayer.address), true);
    assert.equal(await hasRole('ModelRegistry', 'OPERATOR_ROLE', r.relayer.address), true);
    assert.equal(await hasRole('InferenceEscrow', 'SETTLER_ROLE', r.settler.address), true);
    assert.equal(await hasRole('RewardsDistributor', 'ROOT_SUBMITTER_ROLE', r.rootSubmitter.address), true);
    assert.equal(await hasRole('Staking', 'SLASHER_ROLE', r.slasher.address), true);
    assert.equal(await hasRole('InferenceEscrow', 'SETTLER_ROLE', r.relayer.address), false);
    assert.equal(await hasRole('Staking', 'SLASHER_ROLE', r.settler.address), false);
    for (const name of ['DatanetRegistry', 'ModelRegistry', 'RewardsDistributor', 'InferenceEscrow', 'Staking', 'OpenTimelock'] as const) {
      assert.equal(await hasRole(name, 'DEFAULT_ADMIN_ROLE', book.timelock), true, `timelock admin of ${name}`);
      assert.equal(await hasRole(name, 'DEFAULT_ADMIN_ROLE', r.relayer.address), false, `deployer not admin of ${name}`);
    }
    assert.deepEqual(await checkGovernance(chain.publicClient, book), []);
    assert.equal(book.timelock, book.contracts.OpenTimelock);
    assert.equal(book.treasury, book.timelock);
    // The embedded timelock delay is short (60 s) so a local proposal completes in minutes; role keys have gas.
    assert.equal(await chain.publicClient.readContract({ address: book.timelock, abi: artifacts.OpenTimelock.abi, functionName: 'getMinDelay' } as never), 60n);
    assert.ok((await chain.publicClient.getBalance({ address: r.settler.address })) >= 10n ** 18n);
    // The settlement epoch (governed, read by the node) is shorter than the withdrawal delay.
    assert.equal((await actions.protocolParams(chain)).epochLength, 600n);
    // OPEN counts as votes once delegated (ERC20Votes); a dev account delegates to itself.
    const [dev] = devAccounts(TEST_MNEMONIC, 1);
    assert.equal(await actions.votesOf(chain, { owner: dev!.address }), 0n);
    await actions.delegateVotes(chain, { account: dev });
    assert.equal(await actions.votesOf(chain, { owner: dev!.address }), 1_000_000n * OPEN);
    for (const dev of devAccounts(TEST_MNEMONIC, 4)) {
      assert.equal(await actions.tokenBalance(chain, { owner: dev.address }), 1_000_000n * OPEN);
    }
    assert.equal(await actions.tokenBalance(chain, { owner: chain.operator.address }), 1_000_000n * OPEN);
    // The operator is account 0 of the mnemonic.
    assert.equal(chain.operator.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    assert.ok(chain.anvilPid && alive(chain.anvilPid));
  });

  test('stop + start keeps balances, registries and events (state file)', async () => {
    const [alice, bob] = devAccounts(TEST_MNEMONIC, 2);
    const { datanetId } = await actions.createDatanet(chain, { account: alice, metadataURI: 'ipfs://persist', accessPolicy: AccessPolicy.Open });
    await actions.transfer(chain, { account: alice, to: bob.address, amount: 7n * OPEN });
    const before = new MemorySink();
    const ix = startIndexer(chain, before, { pollMs: 60_000 });
    await ix.syncOnce();
    await ix.stop();
    const head = await chain.publicClient.getBlockNumber();
    const pid = chain.anvilPid!;

    await chain.stop();
    assert.equal(alive(pid), false, 'anvil exited');
    assert.ok(existsSync(join(data.dir, 'chain', 'anvil-state.json')), 'state dumped');

    chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
    assert.equal(await chain.publicClient.getBlockNumber(), head);
    assert.equal(await actions.tokenBalance(chain, { owner: bob.address }), 1_000_007n * OPEN);
    const d = (await chain.publicClient.readContract({
      address: chain.addresses.contracts.DatanetRegistry, abi: artifacts.DatanetRegistry.abi, functionName: 'getDatanet', args: [datanetId],
    } as never)) as { owner: string };
    assert.equal(d.owner, alice.address);
    const after = new MemorySink();
    const ix2 = startIndexer(chain, after, { pollMs: 60_000 });
    await ix2.syncOnce();
    await ix2.stop();
    assert.deepEqual(after.events, before.events, 'the same events, block hashes included');
    assert.ok(after.events.some((e) => e.event === 'DatanetCreated' && e.args.datanetId === datanetId.toString()));
  });

  test('many restarts keep the same chain identity (Anvil rebuilds block 0 at each load)', async () => {
    const book = readAddressBook(defaultAddressBookPath(data.dir))!;
    for (let i = 0; i < 12; i++) {
      await chain.stop();
      chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
      assert.equal(chain.addresses.genesisHash, book.genesisHash, `restart ${i + 1}`);
    }
  });

  test('a port in use is refused with a hint to pass --chain-port', async () => {
    const other = tempDataDir();
    try {
      await rejectsWith(startChain({ mode: 'embedded', dataDir: other.dir, chainPort: port, mnemonic: TEST_MNEMONIC }), 'port_in_use', /--chain-port/);
      // A foreign listener too (not an Anvil of ours).
      const srv = createServer().listen(0, '127.0.0.1');
      await new Promise((r) => srv.once('listening', r));
      const busy = (srv.address() as { port: number }).port;
      const err = await rejectsWith(startChain({ mode: 'embedded', dataDir: other.dir, chainPort: busy, mnemonic: TEST_MNEMONIC }), 'port_in_use');
      assert.equal(err.param, 'chainPort');
      srv.close();
      assert.equal(existsSync(defaultAddressBookPath(other.dir)), false);
    } finally {
      other.remove();
    }
  });
});

describe('embedded chain start-up failures', () => {
  test('a data dir that cannot hold the chain directory → clear error', async () => {
    const d = tempDataDir();
    try {
      const notADir = join(d.dir, 'file');
      writeFileSync(notADir, 'x');
      await rejectsWith(
        startChain({ mode: 'embedded', dataDir: notADir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC }),
        'data_dir_unwritable',
        /--data-dir/,
      );
    } finally {
      d.remove();
    }
  });

  test('corrupt address book JSON → clear error, Anvil stopped', async () => {
    const d = tempDataDir();
    try {
      const first = await startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC });
      await first.stop();
      writeFileSync(defaultAddressBookPath(d.dir), '{"version": 1, "chainId": 313');
      const port = await freePort();
      await rejectsWith(startChain({ mode: 'embedded', dataDir: d.dir, chainPort: port, mnemonic: TEST_MNEMONIC }), 'address_book_corrupt', /remove .*address-book\.json/);
      // Nothing left listening: the Anvil started for the attempt was stopped again.
      const fresh = tempDataDir();
      const again = await startChain({ mode: 'embedded', dataDir: fresh.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
      await again.stop();
      fresh.remove();
    } finally {
      d.remove();
    }
  });

  test('address book from another chain (other genesis, other chain id) → clear error naming both', async () => {
    const d = tempDataDir();
    try {
      const first = await startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC });
      await first.stop();
      const path = defaultAddressBookPath(d.dir);
      const good = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify({ ...good, genesisHash: '0x' + 'ab'.repeat(32) }));
      const e1 = await rejectsWith(
        startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC }),
        'address_book_wrong_chain',
        /written for chain 31337 with genesis 0xabab.*but the RPC reports chain 31337 with genesis 0x/,
      );
      assert.match(e1.hint ?? '', /remove .*address-book\.json to redeploy/);
      writeFileSync(path, JSON.stringify({ ...good, chainId: 1612 }));
      await rejectsWith(
        startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC }),
        'address_book_wrong_chain',
        /written for chain 1612/,
      );
    } finally {
      d.remove();
    }
  });

  test('a deploy that fails half-way leaves no address book; the next start deploys afresh', async () => {
    const d = tempDataDir();
    try {
      const port = await freePort();
      const steps: string[] = [];
      const err = await rejectsWith(
        startChain(
          { mode: 'embedded', dataDir: d.dir, chainPort: port, mnemonic: TEST_MNEMONIC },
          {
            deployHooks: {
              beforeStep: (s) => {
                steps.push(s);
                if (s === 'role:InferenceEscrow:SETTLER_ROLE') throw new Error('simulated crash');
              },
            },
          },
        ),
        'deploy_failed',
        /simulated crash[\s\S]*no address book was written/,
      );
      assert.equal(err.type, 'chain_error');
      assert.ok(steps.includes('deploy:Staking') && !steps.includes('verify'));
      assert.equal(existsSync(defaultAddressBookPath(d.dir)), false);
      const chain = await startChain({ mode: 'embedded', dataDir: d.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
      try {
        assert.ok(readAddressBook(defaultAddressBookPath(d.dir)));
        assert.ok(chain.addresses.deploymentBlock > 6n, 'deployed after the half-deployed contracts');
      } finally {
        await chain.stop();
      }
    } finally {
      d.remove();
    }
  });

  test('a state file Anvil cannot load → error naming the file and the fix', async () => {
    const d = tempDataDir();
    try {
      const first = await startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC });
      await first.stop();
      const statePath = join(d.dir, 'chain', 'anvil-state.json');
      writeFileSync(statePath, '{ not json');
      const err = await rejectsWith(
        startChain({ mode: 'embedded', dataDir: d.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC }),
        'anvil_state_corrupt',
      );
      assert.ok(err.message.includes(statePath));
      assert.match(err.hint ?? '', /move .*anvil-state\.json aside/);
    } finally {
      d.remove();
    }
  });

  test('a parent that exits without stop() leaves no orphan Anvil', async () => {
    const d = tempDataDir();
    try {
      const port = await freePort();
      const script = `
        import { startChain } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
        const c = await startChain({ mode: 'embedded', dataDir: ${JSON.stringify(d.dir)}, chainPort: ${port}, mnemonic: ${JSON.stringify(TEST_MNEMONIC)} });
        console.log('PID=' + c.anvilPid);
        process.exit(0);
      `;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
      const pid = Number(/PID=(\d+)/.exec(r.stdout)?.[1]);
      assert.ok(pid > 0, `child printed the Anvil pid (stderr: ${r.stderr})`);
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      assert.equal(alive(pid), false, 'anvil exited with its parent');
      assert.ok(existsSync(join(d.dir, 'chain', 'anvil-state.json')), 'and dumped its state on the way out');
    } finally {
      d.remove();
    }
  });

  test('an Anvil orphaned by a SIGKILLed node is reclaimed on the next start', async () => {
    const d = tempDataDir();
    try {
      const port = await freePort();
      const script = `
        import { startChain } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
        const c = await startChain({ mode: 'embedded', dataDir: ${JSON.stringify(d.dir)}, chainPort: ${port}, mnemonic: ${JSON.stringify(TEST_MNEMONIC)} });
        console.log('PID=' + c.anvilPid);
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (b) => {
          out += b;
          const m = /PID=(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error('child exited early')));
      });
      child.kill('SIGKILL'); // no handlers run: the Anvil is orphaned
      await new Promise((r) => child.once('exit', r));
      assert.equal(alive(pid), true, 'orphan still running');
      const chain = await startChain({ mode: 'embedded', dataDir: d.dir, chainPort: port, mnemonic: TEST_MNEMONIC });
      try {
        assert.equal(alive(pid), false, 'orphan stopped');
        assert.notEqual(chain.anvilPid, pid);
        assert.ok(chain.addresses.deploymentBlock >= 1n, 'address book still matches the reloaded chain');
      } finally {
        await chain.stop();
      }
    } finally {
      d.remove();
    }
  });
});

test('an address book from before governance (version 1) is refused with the way out', async () => {
  const d = tempDataDir();
  try {
    const path = defaultAddressBookPath(d.dir);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(d.dir, 'chain'), { recursive: true });
    const zero = '0x' + '00'.repeat(20);
    writeFileSync(path, JSON.stringify({
      version: 1, chainId: 31337, genesisHash: '0x' + 'ab'.repeat(32), deploymentBlock: '1', deployer: zero, externalToken: false,
      contracts: { OpenToken: zero, DatanetRegistry: zero, ModelRegistry: zero, RewardsDistributor: zero, InferenceEscrow: zero, Staking: zero },
    }));
    await rejectsWith(Promise.resolve().then(() => readAddressBook(path)), 'address_book_outdated', /written before governance and separated roles \(version 1\)/);
  } finally {
    d.remove();
  }
});
