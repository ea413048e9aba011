/**
 * Attaching to an external chain (here: a plain Anvil started by the test, standing in for any
 * EVM RPC): unreachable RPC, wrong chain id, deploy with a key, reuse of the address book, and the
 * OpenLedger presets' wrapped-OPEN requirement.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAnvil, type AnvilProcess } from './anvil.ts';
import { defaultAddressBookPath, startChain } from './index.ts';
import { TEST_MNEMONIC, freePort, rejectsWith, tempDataDir } from './test-utils.ts';

// Anvil's account 0 for TEST_MNEMONIC (public test key).
const KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80' as const;

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
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: `http://127.0.0.1:${closed}`, chainId: 31337, privateKey: KEY, deploy: true }),
      'rpc_unreachable',
      new RegExp(`127\\.0\\.0\\.1:${closed}[\\s\\S]*--rpc-url`),
    );
    assert.equal(err.type, 'chain_error');
    assert.ok(Date.now() - t0 < 6_000, 'no endless retries');
  });

  test('a chain id other than the expected one is refused', async () => {
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 1, privateKey: KEY, deploy: true }),
      'wrong_chain_id',
      /serves chain 31337, but chain 1 was expected/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, preset: 'testnet', privateKey: KEY, deploy: true }),
      'wrong_chain_id',
      /but chain 161201 was expected/,
    );
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, privateKey: KEY, deploy: true }),
      'chain_id_required',
    );
    assert.equal(existsSync(defaultAddressBookPath(node.dir)), false);
  });

  test('without an address book and without deploy: a clear error', async () => {
    await rejectsWith(
      startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, deploy: false }),
      'address_book_missing',
      /--deploy/,
    );
  });

  test('a deployer without gas money gets a deploy error that says so, and no address book', async () => {
    const d = tempDataDir();
    try {
      const broke = ('0x' + '5a'.repeat(32)) as `0x${string}`;
      const err = await rejectsWith(
        startChain({ mode: 'external', dataDir: d.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: broke, deploy: true }),
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
    const chain = await startChain({ mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, deploy: true });
    assert.equal(chain.embedded, false);
    assert.equal(chain.moneyReadTag, 'finalized');
    assert.equal(chain.confirmations, 12);
    assert.equal(chain.anvilPid, null);
    const book = chain.addresses;
    await chain.stop(); // external: stops nothing remote
    const again = await startChain({
      mode: 'external', dataDir: node.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, deploy: false, confirmations: 2,
    });
    assert.deepEqual(again.addresses.contracts, book.contracts);
    assert.equal(again.confirmations, 2);
    // An explicit address book path from elsewhere works too.
    const other = tempDataDir();
    try {
      const third = await startChain({
        mode: 'external', dataDir: other.dir, rpcUrl: anvil.rpcUrl, chainId: 31337, privateKey: KEY, deploy: false,
        addressBookPath: defaultAddressBookPath(node.dir),
      });
      assert.deepEqual(third.addresses.contracts, book.contracts);
    } finally {
      other.remove();
    }
  });

  test('OpenLedger presets need a wrapped-OPEN token address, which must have code', async () => {
    const d = tempDataDir();
    try {
      await rejectsWith(
        startChain({ mode: 'external', dataDir: d.dir, rpcUrl: mainnetLike.rpcUrl, preset: 'mainnet', privateKey: KEY, deploy: true }),
        'open_token_required',
        /--open-token/,
      );
      await rejectsWith(
        startChain({
          mode: 'external', dataDir: d.dir, rpcUrl: mainnetLike.rpcUrl, preset: 'mainnet', privateKey: KEY, deploy: true,
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
