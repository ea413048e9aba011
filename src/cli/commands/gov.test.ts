/**
 * Governance end to end on a node with the embedded chain: the real `openledger gov` CLI against the node's
 * port — propose → vote → queue → execute changes a parameter on chain (RewardsDistributor.activationDelay) —
 * and the same API refusing bad input: malformed actions, steps in the wrong state, callers without a key.
 * Time moves with Anvil's evm_increaseTime (embedded: voting delay 1 s, period 60 s, timelock 60 s).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { runCli, siweToken, startTestNode } from '../../../test/helpers.ts';
import type { RunningNode } from '../../node.ts';
import { artifacts } from '../../chain/index.ts';
import { rpc } from '../../chain/test-utils.ts';
import { parseAction } from './gov.ts';

let node: RunningNode & { dataDir: string };

before(async () => {
  node = await startTestNode({ listen: true });
});
after(async () => {
  await node?.stop();
});

const cli = (args: string[]) => runCli(node, ['gov', ...args]);

const travel = async (seconds: number) => {
  const url = node.services.chain.rpcUrl;
  await rpc(url, 'evm_increaseTime', [seconds]);
  await rpc(url, 'evm_mine');
};
const activationDelay = () =>
  node.services.chain.publicClient.readContract({
    address: node.services.chain.addresses.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, functionName: 'activationDelay',
  } as never) as Promise<bigint>;

test('parseAction: Contract.function(args) and JSON', () => {
  assert.deepEqual(parseAction('RewardsDistributor.setActivationDelay(7200)'), { contract: 'RewardsDistributor', function: 'setActivationDelay', args: ['7200'] });
  assert.deepEqual(parseAction('DatanetRegistry.setOwnerShareBounds(0, 3000)').args, ['0', '3000']);
  assert.deepEqual(parseAction('{"contract":"Staking","function":"vetoSlash","args":["1"]}').function, 'vetoSlash');
  assert.throws(() => parseAction('setActivationDelay 7200'), /is not Contract\.function\(args\)/);
  assert.throws(() => parseAction('{"contract":1}'), /needs contract, function and args/);
});

test('gov CLI: propose → vote → queue → execute changes the rewards activation delay on chain', async () => {
  assert.equal(await activationDelay(), 60n);
  // OPEN counts as votes once delegated; the snapshot is taken at the proposal, so delegate first.
  for (const as of ['1', '2']) {
    const d = await cli(['delegate', '--as', as]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /votes now 1000000000000000000000000/);
  }
  await travel(1);
  const p = await cli(['propose', '--action', 'RewardsDistributor.setActivationDelay(120)', '--description', 'Give root reviewers two minutes', '--as', '1', '--json']);
  assert.equal(p.code, 0, p.stderr);
  const { proposalId } = JSON.parse(p.stdout);
  assert.match(proposalId, /^\d+$/);

  // A vote on a proposal that does not exist: the governor's custom error comes back with its name.
  const nobody = await cli(['vote', '12345', 'for', '--as', '1']);
  assert.notEqual(nobody.code, 0);
  assert.match(nobody.stderr, /GovernorNonexistentProposal/);

  await travel(2); // past the 1 s voting delay
  for (const as of ['1', '2']) {
    const v = await cli(['vote', proposalId, 'for', '--as', as, '--reason', 'sensible']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /voted for with weight 1000000000000000000000000/);
  }
  const again = await cli(['vote', proposalId, 'against', '--as', '1']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /GovernorAlreadyCastVote/);

  // Queue only after the voting period; execute only after the timelock delay.
  const tooSoon = await cli(['queue', proposalId]);
  assert.notEqual(tooSoon.code, 0);
  assert.match(tooSoon.stderr, /proposal \d+ is active; voting ends at 20\d\d-[\s\S]*hint: wait for the voting period to end/);
  await travel(61);
  const q = await cli(['queue', proposalId, '--json']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(JSON.parse(q.stdout).state, 'queued');
  const notYet = await cli(['execute', proposalId]);
  assert.notEqual(notYet.code, 0);
  assert.match(notYet.stderr, /is queued; the timelock lets it execute from 20\d\d-/);
  await travel(61);
  const x = await cli(['execute', proposalId, '--json']);
  assert.equal(x.code, 0, x.stderr);
  assert.equal(JSON.parse(x.stdout).state, 'executed');
  assert.equal(await activationDelay(), 120n);

  // Visible through the indexer: the list and the proposal's indexed votes.
  const list = await cli(['list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const row = JSON.parse(list.stdout).find((x: any) => x.proposalId === proposalId);
  assert.equal(row.state, 'executed');
  assert.equal(row.description, 'Give root reviewers two minutes');
  assert.deepEqual(row.actions.map((a: any) => [a.contract, a.function, a.args]), [['RewardsDistributor', 'setActivationDelay', ['120']]]);
  const show = JSON.parse((await cli(['show', proposalId, '--json'])).stdout);
  assert.equal(show.indexedVotes.length, 2);
  assert.equal(show.votes.for, (2_000_000n * 10n ** 18n).toString());
});

test('governance API: malformed actions, wrong callers and unknown proposals are refused; nothing is proposed', async () => {
  const [dev] = node.services.keyring!.accounts;
  const token = await siweToken(node, dev!);
  const outsider = privateKeyToAccount(generatePrivateKey());
  const outsiderToken = await siweToken(node, outsider);
  const post = (url: string, payload: unknown, t = token) =>
    node.app.inject({ method: 'POST', url, payload: payload as never, headers: { authorization: `Bearer ${t}` } });
  const count = async () => (await node.app.inject({ method: 'GET', url: '/v1/governance/proposals?limit=100' })).json().data.length;
  const before = await count();

  const cases: [unknown, string, RegExp][] = [
    [{ actions: [{ contract: 'Staking', function: 'slash', args: [] }], description: 'x' }, 'actions[0].function', /not governable on Staking/],
    [{ actions: [{ contract: 'Nope', function: 'x', args: [] }], description: 'x' }, 'actions[0].contract', /not a governed contract/],
    [{ actions: [{ contract: 'RewardsDistributor', function: 'setActivationDelay', args: [] }], description: 'x' }, 'actions[0].args', /takes 1 argument/],
    [{ actions: [{ contract: 'RewardsDistributor', function: 'setActivationDelay', args: ['soon'] }], description: 'x' }, 'actions[0].args', /expected an integer/],
    [{ actions: [{ contract: 'InferenceEscrow', function: 'setSink', args: ['0x12'] }], description: 'x' }, 'actions[0].args', /do not fit setSink/],
  ];
  for (const [body, param, re] of cases) {
    const r = await post('/v1/governance/proposals', body);
    assert.equal(r.statusCode, 400, r.body);
    const e = r.json().error;
    assert.equal(e.code, 'malformed_action');
    assert.equal(e.param, param);
    assert.match(e.message, re);
    assert.ok(e.hint);
  }
  // Schema-level refusals: no actions, no description.
  assert.equal((await post('/v1/governance/proposals', { actions: [], description: 'x' })).statusCode, 400);
  assert.equal((await post('/v1/governance/proposals', { actions: [{ contract: 'Staking', function: 'vetoSlash', args: ['1'] }] })).statusCode, 400);
  // A caller whose key the node does not hold is told to send the transaction itself.
  const r = await post('/v1/governance/proposals', { actions: [{ contract: 'Staking', function: 'vetoSlash', args: ['1'] }], description: 'veto' }, outsiderToken);
  assert.equal(r.statusCode, 403);
  assert.equal(r.json().error.code, 'no_node_key');
  // …and can get the calldata to do so.
  const enc = await post('/v1/governance/proposals/encode', { actions: [{ contract: 'Staking', function: 'vetoSlash', args: ['1'] }], description: 'veto' }, outsiderToken);
  assert.equal(enc.statusCode, 200, enc.body);
  assert.equal(enc.json().to, node.services.chain.addresses.OpenGovernor);
  assert.match(enc.json().data, /^0x7d5e81e2/); // propose(address[],uint256[],bytes[],string)
  // Unknown proposal, bad id.
  const unknown = await node.app.inject({ method: 'GET', url: '/v1/governance/proposals/12345' });
  assert.equal(unknown.statusCode, 404, unknown.body);
  assert.equal((await node.app.inject({ method: 'GET', url: '/v1/governance/proposals/0xabc' })).statusCode, 400);
  const huge = await node.app.inject({ method: 'GET', url: `/v1/governance/proposals/${'9'.repeat(78)}` });
  assert.equal(huge.statusCode, 400);
  assert.equal(huge.json().error.code, 'invalid_proposal_id');
  assert.equal((await post('/v1/governance/proposals/1/votes', { support: 'maybe' })).statusCode, 400);
  assert.equal(await count(), before);

  const params = (await node.app.inject({ method: 'GET', url: '/v1/governance' })).json();
  assert.equal(params.params.timelockDelay, '60');
  assert.equal(params.params.feeShares.contributorsBps + params.params.feeShares.modelOwnerBps + params.params.feeShares.protocolBps + params.params.feeShares.validatorsBps, 10_000);
  assert.equal(params.roles.settler, node.services.chain.roles.settler.address);
});
