/**
 * `openledger datanet …` end to end: the real CLI binary against a node listening on a port
 * (embedded Anvil, real store), with the shipped demo datanets: create, contribute a clean and a
 * mixed file (report printed), stake + add a validator, review, publish, proof verified against the
 * chain, export.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, startTestNode } from '../../../test/helpers.ts';
import type { RunningNode } from '../../node.ts';

const DEMO = join(process.cwd(), 'datasets', 'demo-datanets');
let node: RunningNode & { dataDir: string };

before(async () => {
  node = await startTestNode({ listen: true });
});
after(async () => {
  await node?.stop();
});

const cli = (args: string[]) => runCli(node, ['datanet', ...args]);

test('datanet CLI: create → contribute (report) → review → publish → proof → export', async () => {
  const owner = node.services.keyring!.accounts[0];
  const validator = node.services.keyring!.accounts[1];

  const c = await cli(['create', '--name', 'Product sentiment', '--format', 'labelled', '--labels', 'positive,negative', '--approvals', '1', '--license', 'CC0-1.0', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const d = JSON.parse(c.stdout);
  assert.equal(d.owner, owner.address);

  const up = await cli(['contribute', String(d.id), join(DEMO, 'product-sentiment', 'reviews.csv'), join(DEMO, 'product-sentiment', 'mixed.csv')]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /\[1\/2\] reviews\.csv: sent .* \(100%\)/);
  assert.match(up.stdout, /reviews\.csv: 200 rows → 0 accepted, 200 pending review, 0 rejected/);
  assert.match(up.stdout, /mixed\.csv: 7 rows → 0 accepted, 2 pending review, 5 rejected/);
  assert.match(up.stdout, /duplicate: exact duplicate of row/);
  assert.match(up.stdout, /label_not_allowed/);

  // a file that is not rows in the datanet's format (package.json is one JSON object) fails before upload, exit ≠ 0
  const bad = await cli(['contribute', String(d.id), join(process.cwd(), 'package.json')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /expected an array of rows[\s\S]*hint:/);

  // Stake first: the DatanetRegistry only accepts staked validators.
  const stake = await cli(['validators', 'stake', '50', '--as', '2']);
  assert.equal(stake.code, 0, stake.stderr);
  assert.equal((await cli(['validators', 'add', String(d.id), validator.address])).code, 0);
  const rv = await cli(['review', String(d.id), '--all-pending', '--approve', '--as', '2', '--json']);
  assert.equal(rv.code, 0, rv.stderr);
  assert.equal(JSON.parse(rv.stdout).filter((x: any) => x.status === 'accepted').length, 202);

  const pub = await cli(['publish', String(d.id), '--json']);
  assert.equal(pub.code, 0, pub.stderr);
  const v = JSON.parse(pub.stdout);
  assert.equal(v.rowCount, 202);

  const exp = await cli(['export', String(d.id), '1']);
  assert.equal(exp.code, 0, exp.stderr);
  const rows = exp.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 202);

  const pr = await cli(['proof', String(d.id), '1', String(rows[17].id)]);
  assert.equal(pr.code, 0, pr.stderr);
  assert.match(pr.stdout, /verified: the row is in this version/);
  assert.match(pr.stdout, new RegExp(`on-chain root ${v.merkleRoot}`));

  const lb = await cli(['leaderboard', String(d.id), '--json']);
  assert.equal(JSON.parse(lb.stdout)[0].accepted, 202);
});
