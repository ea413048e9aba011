/**
 * Pins the rewards leaf format the node uses: a tree and proofs from @openzeppelin/merkle-tree's
 * StandardMerkleTree (types ["address", "uint256"]) verify on a deployed RewardsDistributor, on a real Anvil.
 * Also pins the role ids and enum values exported by src/contracts/index.ts against the deployed contracts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import {
  createPublicClient,
  createWalletClient,
  http,
  parseEther,
  type Abi,
  type Address,
  type Hex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import {
  AccessPolicy,
  Roles,
  datanetRegistryAbi,
  datanetRegistryBytecode,
  inferenceEscrowAbi,
  inferenceEscrowBytecode,
  openTokenAbi,
  openTokenBytecode,
  openTimelockAbi,
  openTimelockBytecode,
  rewardsDistributorAbi,
  rewardsDistributorBytecode,
  stakingAbi,
  stakingBytecode,
} from './index.ts';

const ANVIL = 'node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil';
// Anvil's default dev account 0 (well-known test key, funded with ETH) deploys; `node` is a fresh key it funds.
const admin = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const node = privateKeyToAccount(`0x${'4e'.repeat(32)}`);

let anvil: ChildProcess | undefined;
let rpcUrl = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

before(async () => {
  assert.ok(existsSync(ANVIL), `anvil binary missing at ${ANVIL}; run npm ci`);
  const port = await freePort();
  rpcUrl = `http://127.0.0.1:${port}`;
  anvil = spawn(ANVIL, ['--port', String(port), '--host', '127.0.0.1', '--silent'], { stdio: 'ignore' });
  const client = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
  for (let i = 0; ; i++) {
    try {
      await client.getChainId();
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const hash = await clients().wallet().sendTransaction({ to: node.address, value: parseEther('10') });
  await client.waitForTransactionReceipt({ hash });
});

after(() => {
  if (anvil?.pid !== undefined) process.kill(anvil.pid, 'SIGTERM');
});

function clients() {
  const pub = createPublicClient({ chain: foundry, transport: http(rpcUrl) });
  const wallet = (account = admin) => createWalletClient({ chain: foundry, transport: http(rpcUrl), account });
  return { pub, wallet };
}

async function deploy(abi: Abi, bytecode: Hex, args: readonly unknown[]): Promise<Address> {
  const { pub, wallet } = clients();
  const hash = await wallet().deployContract({ abi, bytecode, args });
  const receipt = await pub.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success');
  assert.ok(receipt.contractAddress);
  return receipt.contractAddress;
}

async function send(account: typeof admin, address: Address, abi: Abi, functionName: string, args: readonly unknown[]) {
  const { pub, wallet } = clients();
  const { request } = await pub.simulateContract({ account, address, abi, functionName, args });
  const hash = await wallet(account).writeContract(request);
  const receipt = await pub.waitForTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success', `${functionName} failed`);
  return receipt;
}

test('StandardMerkleTree roots and proofs verify on RewardsDistributor; claims pay cumulative − claimed', async () => {
  const { pub } = clients();
  const token = await deploy(openTokenAbi, openTokenBytecode, [admin.address]);
  const rewards = await deploy(rewardsDistributorAbi, rewardsDistributorBytecode, [admin.address, token, 60n, 60n]);
  await send(admin, rewards, rewardsDistributorAbi, 'grantRole', [Roles.ROOT_SUBMITTER_ROLE, node.address]);
  // Funding through fund(): roots may only allocate what was paid in (totalFunded).
  await send(admin, token, openTokenAbi, 'mint', [admin.address, parseEther('1000')]);
  await send(admin, token, openTokenAbi, 'approve', [rewards, parseEther('1000')]);
  await send(admin, rewards, rewardsDistributorAbi, 'fund', [parseEther('1000')]);
  const activate = async () => {
    await pub.request({ method: 'evm_increaseTime' as never, params: [61] as never });
    await pub.request({ method: 'evm_mine' as never, params: [] as never });
  };

  // 7 earners: an odd count exercises StandardMerkleTree's layout (sorted leaves, unbalanced tree).
  const earners: [Address, bigint][] = Array.from({ length: 7 }, (_, i) => [
    privateKeyToAccount(`0x${(i + 11).toString(16).padStart(64, '0')}` as Hex).address,
    parseEther(String(i + 1)) + BigInt(i),
  ]);
  const tree = StandardMerkleTree.of(
    earners.map(([a, v]) => [a, v.toString()]),
    ['address', 'uint256'],
  );
  const total = earners.reduce((s, [, v]) => s + v, 0n);
  await send(node, rewards, rewardsDistributorAbi, 'submitRoot', [1n, tree.root as Hex, total, '0x1234']);
  await activate(); // the activation delay has a floor of 60 s
  assert.equal(await pub.readContract({ address: rewards, abi: rewardsDistributorAbi, functionName: 'latestActiveEpoch' }), 1n);

  for (const [i, [account, amount]] of earners.entries()) {
    // The contract's leaf() is the library's leafHash: the double-hashed abi.encode(account, amount).
    const leaf = await pub.readContract({ address: rewards, abi: rewardsDistributorAbi, functionName: 'leaf', args: [account, amount] });
    assert.equal(leaf, tree.leafHash([account, amount.toString()]));
    const proof = tree.getProof(i) as Hex[];
    const due = await pub.readContract({
      address: rewards,
      abi: rewardsDistributorAbi,
      functionName: 'claimable',
      args: [account, amount, proof],
    });
    assert.equal(due, amount);
  }

  // Claim for earner 3 (sent by anyone; paid to the earner), then a second epoch raises its cumulative amount.
  const [acct, amt] = earners[3]!;
  await send(node, rewards, rewardsDistributorAbi, 'claim', [acct, amt, tree.getProof(3) as Hex[]]);
  assert.equal(await pub.readContract({ address: token, abi: openTokenAbi, functionName: 'balanceOf', args: [acct] }), amt);

  const next: [Address, bigint][] = earners.map(([a, v], i) => [a, i === 3 ? v + 5n : v]);
  const tree2 = StandardMerkleTree.of(
    next.map(([a, v]) => [a, v.toString()]),
    ['address', 'uint256'],
  );
  await send(node, rewards, rewardsDistributorAbi, 'submitRoot', [2n, tree2.root as Hex, total + 5n, '0x']);
  await activate();
  const idx = [...tree2.entries()].find(([, v]) => v[0] === acct)![0];
  await send(admin, rewards, rewardsDistributorAbi, 'claim', [acct, amt + 5n, tree2.getProof(idx) as Hex[]]);
  assert.equal(await pub.readContract({ address: token, abi: openTokenAbi, functionName: 'balanceOf', args: [acct] }), amt + 5n);

  // A proof for a different amount is refused with the custom error carrying the values.
  await assert.rejects(
    pub.simulateContract({
      account: admin,
      address: rewards,
      abi: rewardsDistributorAbi,
      functionName: 'claim',
      args: [earners[0]![0], earners[0]![1] + 1n, tree2.getProof(0) as Hex[]],
    }),
    /InvalidProof/,
  );
});

test('role ids and AccessPolicy values match the deployed contracts', async () => {
  const { pub } = clients();
  const token = await deploy(openTokenAbi, openTokenBytecode, [admin.address]);
  const datanets = await deploy(datanetRegistryAbi, datanetRegistryBytecode, [admin.address, token]);
  const rewards = await deploy(rewardsDistributorAbi, rewardsDistributorBytecode, [admin.address, token, 60n, 60n]);
  const escrow = await deploy(inferenceEscrowAbi, inferenceEscrowBytecode, [admin.address, token, rewards, 3600n]);
  const staking = await deploy(stakingAbi, stakingBytecode, [admin.address, token, admin.address, 3600n, 3600n, 1000]);
  const read = (address: Address, abi: Abi, functionName: string) => pub.readContract({ address, abi, functionName });
  assert.equal(await read(datanets, datanetRegistryAbi, 'OPERATOR_ROLE'), Roles.OPERATOR_ROLE);
  assert.equal(await read(datanets, datanetRegistryAbi, 'DEFAULT_ADMIN_ROLE'), Roles.DEFAULT_ADMIN_ROLE);
  assert.equal(await read(escrow, inferenceEscrowAbi, 'SETTLER_ROLE'), Roles.SETTLER_ROLE);
  assert.equal(await read(rewards, rewardsDistributorAbi, 'ROOT_SUBMITTER_ROLE'), Roles.ROOT_SUBMITTER_ROLE);
  assert.equal(await read(staking, stakingAbi, 'SLASHER_ROLE'), Roles.SLASHER_ROLE);
  assert.equal(await read(staking, stakingAbi, 'GUARDIAN_ROLE'), Roles.GUARDIAN_ROLE);
  assert.equal(await read(rewards, rewardsDistributorAbi, 'GUARDIAN_ROLE'), Roles.GUARDIAN_ROLE);
  const timelock = await deploy(openTimelockAbi, openTimelockBytecode, [60n, [], [admin.address], admin.address]);
  assert.equal(await read(timelock, openTimelockAbi, 'PROPOSER_ROLE'), Roles.PROPOSER_ROLE);
  assert.equal(await read(timelock, openTimelockAbi, 'EXECUTOR_ROLE'), Roles.EXECUTOR_ROLE);
  assert.equal(await read(timelock, openTimelockAbi, 'CANCELLER_ROLE'), Roles.CANCELLER_ROLE);

  await send(admin, datanets, datanetRegistryAbi, 'createDatanet', ['ipfs://x', AccessPolicy.Paid, 7n, 1]);
  const d = (await pub.readContract({ address: datanets, abi: datanetRegistryAbi, functionName: 'getDatanet', args: [1n] })) as {
    accessPolicy: number;
    accessPrice: bigint;
  };
  assert.equal(d.accessPolicy, AccessPolicy.Paid);
  assert.equal(d.accessPrice, 7n);
});
