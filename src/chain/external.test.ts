/**
 * Attaching to an external chain (here: a plain Anvil started by the test, standing in for any
 * EVM RPC): unreachable RPC, wrong chain id, deploy with a key, reuse of the address book, and the
 * OpenLedger presets' wrapped-OPEN requirement.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { toHex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { Roles } from '../contracts/index.ts';
import { startAnvil, type AnvilProcess } from './anvil.ts';
import { artifacts, checkGovernance, defaultAddressBookPath, readAddressBook, startChain } from './index.ts';
import { TEST_MNEMONIC, freePort, rejectsWith, tempDataDir } from './test-utils.ts';

// Anvil's account 0 for TEST_MNEMONIC (public test key): the relayer/deployer.
const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;
// Separate funded Anvil accounts 5, 6, 7 as settler, root submitter and slasher.
const keyAt = (i: number) => toHex(mnemonicToAccount(TEST_MNEMONIC, { addressIndex: i }).getHdKey().privateKey!);
const ROLE_KEYS = { settler: keyAt(5), rootSubmitter: keyAt(6), slasher: keyAt(7) };

describe('external chain', () => {
  const rpcHome = tempDataDir();
  const node = tempDataDir();
  let anvil: AnvilProcess;
  let mainnetLike: AnvilProcess;

  before(async () => {
    anvil = await startAnvil({ dataDir: rpcHome.dir, port: await freePort(), mnemonic: TEST_MNEMONIC });
    mainnetLike = await startAnvil({ dataDir: join(rpcHome.dir, 'l2'), port: await freePort(), mnemonic: TEST_MNEMONIC, chainId: 1612 });
  });
  after(async () => {
    await anvil?.stop();
    await mainnetLike?.stop();
    rpcHome.remove();
    node.remove();
  });

  test('an unreachable RPC fails fast and names the URL', async () => {
    const closed = await freePort();
    const t0 = Date.now();
    const err = await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: `http://127.0.0.1:${closed}`, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true }),
      'rpc_unreachable',
      new RegExp(`127\\.0\\.0\\.1:${closed}[\\s\\S]*--rpc-url`),
    );
    assert.equal(err.type, 'chain_error');
    assert.ok(Date.now() - t0 < 6_000, 'no endless retries');
  });

  test('a chain id other than the expected one is refused', async () => {
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 1, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true }),
      'wrong_chain_id',
      /serves chain 31337, but chain 1 was expected/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, preset: 'testnet', privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true }),
      'wrong_chain_id',
      /but chain 161201 was expected/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true }),
      'chain_id_required',
    );
    assert.equal(existsSync(defaultAddressBookPath(node.dir)), false);
  });

  test('without an address book and without deploy: a clear error', async () => {
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: false }),
      'address_book_missing',
      /--deploy/,
    );
  });

  test('a deployer without gas money gets a deploy error that says so, and no address book', async () => {
    const d = tempDataDir();
    try {
      const broke = ('0x' + '5a'.repeat(32)) as `0x${string}`;
      const err = await rejectsWith(
        startChain({ mode: 'external', dataDir: d.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: broke, roleKeys: ROLE_KEYS, deploy: true }),
        'deploy_failed',
        /deploying OpenToken: the sender cannot pay for gas[\s\S]*fund the sending account/,
      );
      assert.equal(err.type, 'chain_error');
      assert.equal(existsSync(defaultAddressBookPath(d.dir)), false);
    } finally {
      d.remove();
    }
  });

  test('deploy with the key, then reattach from the address book', async () => {
    const chain = await startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true });
    assert.equal(chain.embedded, false);
    assert.equal(chain.moneyReadTag, 'finalized');
    assert.equal(chain.confirmations, 12);
    assert.equal(chain.anvilPid, null);
    const book = chain.addresses;
    // Separate keys: each holds its one role; the timelock (2-day delay by default here) is admin of everything;
    // the deployer kept nothing; the treasury is the timelock.
    assert.deepEqual(await checkGovernance(chain.publicClient, book), []);
    assert.equal(book.roles.relayer, chain.operator.address);
    assert.equal(book.roles.settler, chain.roles.settler.address);
    assert.equal(new Set(Object.values(book.roles)).size, 4);
    const read = (name: keyof typeof artifacts, functionName: string, args: readonly unknown[] = []) =>
      chain.publicClient.readContract({ address: book.contracts[name], abi: artifacts[name].abi, functionName, args } as never);
    assert.equal(await read('OpenTimelock', 'getMinDelay'), 2n * 86_400n);
    assert.equal(await read('Staking', 'treasury'), book.timelock);
    assert.equal(book.treasury, book.timelock);
    assert.equal(await read('OpenToken', 'owner'), book.timelock);
    assert.equal(await read('InferenceEscrow', 'hasRole', [Roles.SETTLER_ROLE, chain.operator.address]), false);
    assert.equal(await read('InferenceEscrow', 'hasRole', [Roles.DEFAULT_ADMIN_ROLE, chain.operator.address]), false);
    assert.equal(await read('RewardsDistributor', 'minActivationDelay'), 3_600n);
    assert.equal(readAddressBook(defaultAddressBookPath(node.dir))?.roles.slasher, chain.roles.slasher.address);
    await chain.stop(); // external: stops nothing remote
    const again = await startChain({
      mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: false, confirmations: 2,
    });
    assert.deepEqual(again.addresses.contracts, book.contracts);
    assert.equal(again.confirmations, 2);
    // An explicit address book path from elsewhere works too.
    const other = tempDataDir();
    try {
      const third = await startChain({
        mode: 'external', dataDir: other.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: false,
        addressBookPath: defaultAddressBookPath(node.dir),
      });
      assert.deepEqual(third.addresses.contracts, book.contracts);
    } finally {
      other.remove();
    }
    // A node started with another settler key than the contracts were wired for is refused.
    await rejectsWith(
      startChain({
        mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, deploy: false,
        roleKeys: { ...ROLE_KEYS, settler: keyAt(8) },
      }),
      'role_key_mismatch',
      /settler key is 0x[0-9a-fA-F]{40}, but the contracts/,
    );
  });

  test('a challenge window governance could not veto in is refused before anything is deployed', async () => {
    const d = tempDataDir();
    try {
      await rejectsWith(
        startChain(
          { mode: 'external', dataDir: d.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true },
          { deployParams: { challengeWindow: 3n * 86_400n } }, // < 1 day + 3 days + 2 days
        ),
        'challenge_window_too_short',
        /must be longer than voting delay \+ voting period \+ timelock delay \(518400 s\)/,
      );
      assert.equal(existsSync(defaultAddressBookPath(d.dir)), false);
    } finally {
      d.remove();
    }
  });

  test('a withdrawal delay not longer than the settlement epoch is refused before anything is deployed', async () => {
    const d = tempDataDir();
    try {
      await rejectsWith(
        startChain(
          { mode: 'external', dataDir: d.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true },
          { deployParams: { withdrawalDelay: 3_600n } },
        ),
        'withdrawal_delay_too_short',
      );
    } finally {
      d.remove();
    }
  });

  test('role keys: each one required, all different', async () => {
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: { ...ROLE_KEYS, slasher: undefined }, deploy: true }),
      'role_key_missing',
      /OPENLEDGER_SLASHER_KEY/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: { ...ROLE_KEYS, rootSubmitter: ROLE_KEYS.settler }, deploy: true }),
      'role_keys_not_distinct',
      /OPENLEDGER_SETTLER_KEY and OPENLEDGER_ROOT_SUBMITTER_KEY are the same account/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, roleKeys: { ...ROLE_KEYS, settler: KEY }, deploy: true }),
      'role_keys_not_distinct',
    );
  });

  test('OpenLedger presets need a wrapped-OPEN token address, which must have code', async () => {
    const d = tempDataDir();
    try {
      await rejectsWith(
        startChain({ mode: 'external', dataDir: d.dir, rpcUrl: mainnetLike.rpcUrl, preset: 'mainnet', privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true }),
        'open_token_required',
        /--open-token/,
      );
      await rejectsWith(
        startChain({
          mode: 'external', dataDir: d.dir, rpcUrl: mainnetLike.rpcUrl, preset: 'mainnet', privateKey: KEY, roleKeys: ROLE_KEYS, deploy: true,
          openTokenAddress: '0x000000000000000000000000000000000000dEaD',
        }),
        'open_token_no_code',
      );
      assert.equal(existsSync(defaultAddressBookPath(d.dir)), false);
    } finally {
      d.remove();
    }
  });
});
