/**
 * `openledger escrow` and `openledger rewards` / `usage` end to end: the real CLI binary against a
 * node on a port. Deposit with a permit, refused deposit without allowance, withdrawal before its
 * delay refused, a paid `chat`, the epoch settles, `rewards` shows the claimable amount, `rewards
 * claim` sends it and prints the transaction, a second claim and a wrong proof are clear errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { importAdapterFile, siweToken, startTestNode } from '../../../test/helpers.ts';
import type { RunningNode } from '../../node.ts';
import { ModelCatalog } from '../../models/index.ts';
import { buildTinyLora, buildTinyModel } from '../../engine/testing/index.ts';
import { actions } from '../../chain/index.ts';
import { rpc } from '../../chain/test-utils.ts';

const BIN = join(process.cwd(), 'bin', 'openledger.mjs');
let node: RunningNode & { dataDir: string };
const MODEL = 'ft:tiny-llama:cli:0001';

before(async () => {
  node = await startTestNode({ listen: true });
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const lora = buildTinyLora(tiny, join(node.dataDir, 'lora'), { rank: 2, seed: 1 });
  const owner = node.services.keyring!.accounts[0];
  const r = await importAdapterFile(node, await siweToken(node, owner), lora.ggufPath!,
    { model: 'tiny-llama', name: MODEL, price_per_1k_input: '1000000000000000', price_per_1k_output: '2000000000000000' });
  assert.equal(r.statusCode, 201, r.body);
});
after(async () => {
  await node?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--api', node.url!, '--data-dir', node.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('escrow deposit | withdraw | balance, a paid chat, rewards and rewards claim', { timeout: 240_000 }, async () => {
  const payer = node.services.keyring!.accounts[2].address;
  const owner = node.services.keyring!.accounts[0].address;
  const b0 = await cli(['escrow', 'balance', '--as', '3', '--json']);
  assert.equal(b0.code, 0, b0.stderr);
  assert.equal(JSON.parse(b0.stdout).balance, '0');

  const d = await cli(['escrow', 'deposit', '0.5', '--as', '3']);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /deposited 0\.5 OPEN for 0x[0-9a-fA-F]{40} \(with a permit\)\ntx 0x[0-9a-f]{64} in block \d+; escrow balance 0\.5 OPEN\nauthorized the node to charge calls up to 0\.5 OPEN until/);
  const au = await cli(['escrow', 'authorize', '0.45', '--as', '3', '--days', '2']);
  assert.equal(au.code, 0, au.stderr);
  assert.match(au.stdout, /authorized the node to charge 0x[0-9a-fA-F]{40}'s calls up to 0\.45 OPEN until/);
  assert.match((await cli(['escrow', 'authorize', '1', '--as', '3', '--days', 'x'])).stderr, /--days must be a whole number/);
  const noAllowance = await cli(['escrow', 'deposit', '1', '--no-permit', '--as', '3']);
  assert.equal(noAllowance.code, 1);
  assert.match(noAllowance.stderr, /no allowance\n  hint: approve .* or deposit with a permit/);
  const badAmount = await cli(['escrow', 'deposit', '1.2.3', '--as', '3']);
  assert.equal(badAmount.code, 1);
  assert.match(badAmount.stderr, /"1\.2\.3" is not an amount of OPEN/);

  const w = await cli(['escrow', 'withdraw', '0.1', '--as', '3']);
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /withdrawal of 0\.1 OPEN requested; complete it from .* with `openledger escrow withdraw --complete`/);
  const early = await cli(['escrow', 'withdraw', '--complete', '--as', '3']);
  assert.equal(early.code, 1);
  assert.match(early.stderr, /is not ready: it can be completed at/);
  const bal = JSON.parse((await cli(['escrow', 'balance', '--as', '3', '--json'])).stdout);
  assert.equal(bal.balance, '500000000000000000');
  assert.equal(bal.pending_withdrawal.amount, '100000000000000000');
  assert.equal(bal.available, '400000000000000000', 'a pending withdrawal is not spendable');
  assert.equal(bal.authorization.cap, '450000000000000000');

  const c = await cli(['chat', MODEL, 'hello', '--as', '3', '--max-tokens', '4', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const id = JSON.parse(c.stdout).id;
  const inf = await cli(['rewards', 'inference', id]);
  assert.equal(inf.code, 0, inf.stderr);
  assert.match(inf.stdout, new RegExp(`${id}: ${MODEL.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} for ${payer}`));

  const notOp = await cli(['rewards', 'close-epoch', '--as', '3']);
  assert.equal(notOp.code, 1);
  assert.match(notOp.stderr, /only the node operator may close an epoch early/);
  const closed = await cli(['rewards', 'close-epoch']);
  assert.equal(closed.code, 0, closed.stderr);
  const epoch = Number(/^epoch (\d+) done: settled [\d.]+ OPEN \(tx 0x[0-9a-f]{64}\), root 0x[0-9a-f]{64} \(tx 0x[0-9a-f]{64}\)/.exec(closed.stdout)?.[1]);
  assert.ok(epoch > 0, closed.stdout);
  await rpc(node.services.chain.rpcUrl, 'evm_increaseTime', [120]);
  await rpc(node.services.chain.rpcUrl, 'evm_mine', []);

  const r = await cli(['rewards', '--address', owner, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rj = JSON.parse(r.stdout);
  assert.ok(BigInt(rj.claimable) > 0n);
  const before = await actions.tokenBalance(node.services.chain, { owner });
  const cl = await cli(['rewards', 'claim', '--address', owner, '--as', '3']);
  assert.equal(cl.code, 0, cl.stderr);
  assert.match(cl.stdout, /claimed [\d.]+ OPEN for 0x[0-9a-fA-F]{40} \(epoch \d+ root, cumulative [\d.]+ OPEN\)\ntx 0x[0-9a-f]{64} in block \d+/);
  assert.equal(await actions.tokenBalance(node.services.chain, { owner }) - before, BigInt(rj.claimable));
  const twice = await cli(['rewards', 'claim', '--address', owner, '--as', '3']);
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /nothing to claim for 0x[0-9a-fA-F]{40}: .* already claimed/);
  const wrong = await cli(['rewards', 'claim', '--as', '1', '--cumulative', '5', '--proof', `0x${'11'.repeat(32)}`]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /InvalidProof/);

  // anyone can check the epoch: records from DA → tree → the root on chain, and their own leaf
  const v = await cli(['rewards', 'verify', String(epoch), '--address', owner]);
  assert.equal(v.code, 0, v.stderr + v.stdout);
  assert.match(v.stdout, /leaves rebuild the root: +ok\n.*total: +ok\n.*recordsRoot: +ok\n  0x[0-9a-fA-F]{40}: cumulative [\d.]+ OPEN, proof ok/);
  const vj = JSON.parse((await cli(['rewards', 'verify', String(epoch), '--address', payer, '--json'])).stdout);
  assert.equal(vj.leaf, null, 'the payer earned nothing');
  assert.match((await cli(['rewards', 'verify', '0'])).stderr, /not an epoch number/);
  const u = await cli(['usage', 'models', '--json']);
  assert.equal(u.code, 0, u.stderr);
  assert.equal(JSON.parse(u.stdout).find((m: any) => m.model === MODEL).calls, 1);
  const ep = await cli(['rewards', 'epochs']);
  assert.match(ep.stdout, /epoch +status +settled/);
  assert.match(ep.stdout, /\bdone\b/);
  const mine = await cli(['usage', 'contributor', owner]);
  assert.match(mine.stdout, /owner/);
});
