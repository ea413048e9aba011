/**
 * Every action against the real contracts on a real Anvil: results decoded from events, state
 * changed as intended, and contract reverts mapped to OpenLedgerError with the custom error's name,
 * arguments and an HTTP-meaningful type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { keccak256, stringToHex, type Hex } from 'viem';
import { AccessPolicy } from '../../contracts/index.ts';
import { OpenLedgerError } from '../../util/errors.ts';
import { actions, artifacts, devAccounts, startChain, type Chain } from '../index.ts';
import { TEST_MNEMONIC, freePort, rpc, tempDataDir } from '../test-utils.ts';

const OPEN = 10n ** 18n;
const h = (s: string) => keccak256(stringToHex(s));

async function revertsWith(p: Promise<unknown>, errorName: string, type: string, re?: RegExp): Promise<OpenLedgerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof OpenLedgerError, `expected OpenLedgerError, got ${err}`);
    assert.equal((err.details as { errorName?: string } | undefined)?.errorName, errorName, err.message);
    assert.equal(err.type, type, err.message);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail(`expected a ${errorName} revert`);
}

describe('actions', () => {
  const data = tempDataDir();
  let chain: Chain;
  const [alice, bob, carol] = devAccounts(TEST_MNEMONIC, 3);
  const timeTravel = async (seconds: number) => {
    await rpc(chain.rpcUrl, 'evm_increaseTime', [seconds]);
    await rpc(chain.rpcUrl, 'evm_mine');
  };

  before(async () => {
    chain = await startChain({ mode: 'embedded', dataDir: data.dir, chainPort: await freePort(), mnemonic: TEST_MNEMONIC });
  });
  after(async () => {
    await chain?.stop();
    data.remove();
  });

  test('datanets: create (for), ownership, validators, versions, access', async () => {
    const own = await actions.createDatanet(chain, { account: alice, metadataURI: 'ipfs://a', accessPolicy: AccessPolicy.Approval });
    assert.equal(own.owner, alice.address);
    const relayed = await actions.createDatanetFor(chain, { owner: bob.address, metadataURI: 'ipfs://b', accessPolicy: AccessPolicy.Paid, accessPrice: 5n * OPEN });
    assert.equal(relayed.owner, bob.address);
    assert.equal(relayed.datanetId, own.datanetId + 1n);

    // Validators must be staked (DatanetRegistry checks Staking).
    await revertsWith(actions.addValidator(chain, { account: alice, datanetId: own.datanetId, validator: carol.address }), 'ValidatorNotStaked', 'invalid_request_error');
    await actions.stake(chain, { account: carol, amount: 1n * OPEN });
    await actions.addValidator(chain, { account: alice, datanetId: own.datanetId, validator: carol.address });
    const isValidator = () => chain.publicClient.readContract({
      address: chain.addresses.DatanetRegistry, abi: artifacts.DatanetRegistry.abi, functionName: 'isValidator', args: [own.datanetId, carol.address],
    } as never);
    assert.equal(await isValidator(), true);
    await revertsWith(actions.addValidator(chain, { account: alice, datanetId: own.datanetId, validator: carol.address }), 'ValidatorAlreadyAdded', 'conflict_error');
    await actions.removeValidator(chain, { account: alice, datanetId: own.datanetId, validator: carol.address });
    assert.equal(await isValidator(), false);

    const v1 = await actions.commitVersion(chain, { account: alice, datanetId: own.datanetId, merkleRoot: h('r1'), rowCount: 10n, daCommitment: '0x01', contentHash: h('c1') });
    const v2 = await actions.commitVersion(chain, { datanetId: own.datanetId, merkleRoot: h('r2'), rowCount: 12n, daCommitment: '0x02', contentHash: h('c2') }); // operator relays
    assert.deepEqual([v1.version, v2.version], [1n, 2n]);
    await revertsWith(
      actions.commitVersion(chain, { account: alice, datanetId: own.datanetId, merkleRoot: ('0x' + '00'.repeat(32)) as Hex, rowCount: 1n, daCommitment: '0x', contentHash: h('c') }),
      'EmptyVersion', 'invalid_request_error',
    );

    const g = await actions.grantAccess(chain, { account: alice, datanetId: own.datanetId, grantee: carol.address });
    assert.equal(g.changed, true);
    assert.equal((await actions.grantAccess(chain, { account: alice, datanetId: own.datanetId, grantee: carol.address })).changed, false);
    const hasAccess = () => chain.publicClient.readContract({
      address: chain.addresses.DatanetRegistry, abi: artifacts.DatanetRegistry.abi, functionName: 'hasAccess', args: [own.datanetId, carol.address],
    } as never);
    assert.equal(await hasAccess(), true);
    assert.equal((await actions.revokeAccess(chain, { account: alice, datanetId: own.datanetId, grantee: carol.address })).changed, true);
    assert.equal(await hasAccess(), false);

    // Paid datanet (bob's): carol buys access at most at the price she saw; the price goes into the rewards pool
    // (owner share + contributors), not bob's wallet; bought access cannot be revoked. Approval is not for sale.
    const bobBefore = await actions.tokenBalance(chain, { owner: bob.address });
    const poolBefore = await actions.tokenBalance(chain, { owner: chain.addresses.RewardsDistributor });
    await revertsWith(actions.purchaseAccess(chain, { account: carol, datanetId: relayed.datanetId, maxPrice: 4n * OPEN }), 'PriceAboveMax', 'conflict_error');
    const bought = await actions.purchaseAccess(chain, { account: carol, datanetId: relayed.datanetId, maxPrice: 5n * OPEN });
    assert.equal(bought.price, 5n * OPEN);
    assert.equal(await actions.tokenBalance(chain, { owner: bob.address }), bobBefore);
    assert.equal(await actions.tokenBalance(chain, { owner: chain.addresses.RewardsDistributor }), poolBefore + 5n * OPEN);
    await revertsWith(actions.revokeAccess(chain, { account: bob, datanetId: relayed.datanetId, grantee: carol.address }), 'PurchasedAccessIrrevocable', 'conflict_error');
    await revertsWith(actions.purchaseAccess(chain, { account: carol, datanetId: relayed.datanetId, maxPrice: 5n * OPEN }), 'AccessAlreadyHeld', 'conflict_error');
    await revertsWith(actions.purchaseAccess(chain, { account: carol, datanetId: own.datanetId, maxPrice: 5n * OPEN }), 'AccessNotForSale', 'invalid_request_error');

    // The relayer cannot take a datanet; the owner can hand it on.
    await revertsWith(actions.transferDatanetOwnership(chain, { datanetId: own.datanetId, newOwner: chain.operator.address }), 'NotDatanetOwner', 'permission_error');
    await actions.transferDatanetOwnership(chain, { account: alice, datanetId: own.datanetId, newOwner: bob.address });
    // Alice is no longer the owner: her commit is refused with the custom error's values in the message.
    const err = await revertsWith(
      actions.commitVersion(chain, { account: alice, datanetId: own.datanetId, merkleRoot: h('r3'), rowCount: 1n, daCommitment: '0x', contentHash: h('c3') }),
      'NotDatanetOwner', 'permission_error',
      new RegExp(`DatanetRegistry\\.commitVersion reverted: NotDatanetOwner\\(datanetId: ${own.datanetId}, caller: ${alice.address}\\)`),
    );
    assert.equal(err.code, 'not_datanet_owner');
    assert.equal(err.status, 403);
    await revertsWith(actions.addValidator(chain, { datanetId: 999n, validator: carol.address }), 'DatanetNotFound', 'not_found_error', /DatanetNotFound\(datanetId: 999\)/);
    // createDatanetFor is operator-only: AccessControl's error comes through with the role id.
    await revertsWith(
      actions.createDatanetFor(chain, { account: carol, owner: carol.address, metadataURI: 'x', accessPolicy: AccessPolicy.Open }),
      'AccessControlUnauthorizedAccount', 'permission_error', /AccessControlUnauthorizedAccount\(account: 0x/,
    );
  });

  test('models: register (for), price, deprecate', async () => {
    const d = await actions.createDatanet(chain, { account: alice, metadataURI: 'ipfs://m', accessPolicy: AccessPolicy.Open });
    const v = await actions.commitVersion(chain, { account: alice, datanetId: d.datanetId, merkleRoot: h('m'), rowCount: 3n, daCommitment: '0x', contentHash: h('mc') });
    const base = { baseModelHash: h('base'), adapterHash: h('adapter'), trainingConfigHash: h('cfg'), metadataURI: 'ipfs://model', pricePer1kInput: 10n, pricePer1kOutput: 20n };
    const m = await actions.registerModel(chain, { account: bob, ...base, trainedOn: [{ datanetId: d.datanetId, version: v.version }] });
    assert.equal(m.owner, bob.address);
    const m2 = await actions.registerModelFor(chain, { owner: carol.address, ...base, adapterHash: h('adapter2'), trainedOn: [] });
    assert.equal(m2.owner, carol.address);
    await revertsWith(
      actions.registerModel(chain, { account: bob, ...base, trainedOn: [{ datanetId: d.datanetId, version: 9n }] }),
      'UnknownDatanetVersion', 'not_found_error',
    );
    await actions.updatePrice(chain, { account: bob, modelId: m.modelId, pricePer1kInput: 11n, pricePer1kOutput: 22n });
    const model = (await chain.publicClient.readContract({
      address: chain.addresses.ModelRegistry, abi: artifacts.ModelRegistry.abi, functionName: 'getModel', args: [m.modelId],
    } as never)) as { pricePer1kInput: bigint; pricePer1kOutput: bigint };
    assert.deepEqual([model.pricePer1kInput, model.pricePer1kOutput], [11n, 22n]);
    await revertsWith(actions.updatePrice(chain, { account: alice, modelId: m.modelId, pricePer1kInput: 1n, pricePer1kOutput: 1n }), 'NotModelOwner', 'permission_error');
    await actions.deprecateModel(chain, { account: bob, modelId: m.modelId });
    await revertsWith(actions.updatePrice(chain, { account: bob, modelId: m.modelId, pricePer1kInput: 1n, pricePer1kOutput: 1n }), 'ModelIsDeprecated', 'conflict_error');
  });

  test('token, escrow, settlement, rewards roots and claims', async () => {
    const start = await actions.tokenBalance(chain, { owner: carol.address });
    await actions.transfer(chain, { account: alice, to: carol.address, amount: 3n * OPEN });
    assert.equal(await actions.tokenBalance(chain, { owner: carol.address }), start + 3n * OPEN);
    await revertsWith(
      actions.transfer(chain, { account: carol, to: alice.address, amount: 10n ** 30n }),
      'ERC20InsufficientBalance', 'invalid_request_error',
    );

    const dep = await actions.deposit(chain, { account: alice, amount: 100n * OPEN }); // approves first
    assert.equal(dep.newBalance, 100n * OPEN);
    await actions.deposit(chain, { account: bob, amount: 50n * OPEN });
    const wr = await actions.requestWithdrawal(chain, { account: alice, amount: 30n * OPEN });
    assert.ok(wr.availableAt > 0n);
    assert.deepEqual(await actions.escrowBalance(chain, { owner: alice.address }), { balance: 100n * OPEN, spendable: 70n * OPEN });
    await revertsWith(actions.withdraw(chain, { account: alice }), 'WithdrawalNotReady', 'invalid_request_error');
    await timeTravel(3_601);
    assert.equal((await actions.withdraw(chain, { account: alice })).amount, 30n * OPEN);
    await revertsWith(actions.withdraw(chain, { account: alice }), 'NoPendingWithdrawal', 'conflict_error');

    // Consent: alice signs an EIP-712 spend authorization (relayed by the operator), bob approves on chain.
    const now = (await chain.publicClient.getBlock()).timestamp;
    const auth = { payer: alice.address, scope: ('0x' + '00'.repeat(32)) as Hex, cap: 5n * OPEN, expiry: now + 86_400n, nonce: 1n };
    const signature = await actions.signSpendAuthorization(chain, alice, auth);
    await actions.authorizeSpend(chain, { auth, signature });
    await revertsWith(actions.authorizeSpend(chain, { auth, signature }), 'SpendNonceUsed', 'conflict_error');
    await revertsWith(actions.authorizeSpend(chain, { auth: { ...auth, nonce: 2n, cap: 50n * OPEN }, signature }), 'InvalidSpendSignature', 'invalid_request_error');
    await actions.approveSpend(chain, { account: bob, cap: 6n * OPEN, expiry: now + 86_400n });
    assert.deepEqual((await actions.getSpendAuthorization(chain, { payer: alice.address })).remaining, 5n * OPEN);

    // Epoch 1: the settler key debits usage within the authorizations; the OPEN goes to the rewards contract as
    // funding. Carol never authorized anything: refused, not debited, and the others still settle.
    const poolBefore = await actions.tokenBalance(chain, { owner: chain.addresses.RewardsDistributor });
    const settled = await actions.settleEpoch(chain, { epoch: 1n, accounts: [alice.address, bob.address, carol.address], amounts: [4n * OPEN, 6n * OPEN, 1n], recordsRoot: h('records-1') });
    assert.equal(settled.total, 10n * OPEN);
    assert.deepEqual(settled.debited, [{ account: alice.address, amount: 4n * OPEN }, { account: bob.address, amount: 6n * OPEN }]);
    assert.deepEqual(settled.refused, [{ account: carol.address, requested: 1n, authorizedRemaining: 0n }]);
    assert.equal(await actions.tokenBalance(chain, { owner: chain.addresses.RewardsDistributor }), poolBefore + 10n * OPEN);
    await revertsWith(
      actions.settleEpoch(chain, { epoch: 1n, accounts: [], amounts: [], recordsRoot: h('again') }),
      'EpochNotIncreasing', 'conflict_error',
    );
    await revertsWith(
      actions.settleEpoch(chain, { account: alice, epoch: 2n, accounts: [], amounts: [], recordsRoot: h('x') }),
      'AccessControlUnauthorizedAccount', 'permission_error',
    );
    // Beyond alice's authorization (1 OPEN left): refused for her only. The relayer cannot settle at all.
    const e2 = await actions.settleEpoch(chain, { epoch: 2n, accounts: [alice.address], amounts: [2n * OPEN], recordsRoot: h('x') });
    assert.equal(e2.total, 0n);
    assert.deepEqual(e2.refused, [{ account: alice.address, requested: 2n * OPEN, authorizedRemaining: 1n * OPEN }]);
    await revertsWith(
      actions.settleEpoch(chain, { account: chain.operator, epoch: 3n, accounts: [], amounts: [], recordsRoot: h('x') }),
      'AccessControlUnauthorizedAccount', 'permission_error',
    );
    // A short balance: bob authorizes more than he holds; what is there is taken, the shortfall recorded.
    await actions.approveSpend(chain, { account: bob, cap: 1000n * OPEN, expiry: now + 86_400n });
    const e3 = await actions.settleEpoch(chain, { epoch: 3n, accounts: [bob.address], amounts: [1000n * OPEN], recordsRoot: h('y') });
    assert.equal(e3.total, 44n * OPEN);
    assert.deepEqual(e3.shortfalls, [{ account: bob.address, requested: 1000n * OPEN, debited: 44n * OPEN }]);

    // Cumulative rewards root: carol 7 OPEN, bob 3 OPEN.
    const tree = StandardMerkleTree.of([[carol.address, (7n * OPEN).toString()], [bob.address, (3n * OPEN).toString()]], ['address', 'uint256']);
    const sub = await actions.submitRoot(chain, { epoch: 1n, root: tree.root as Hex, totalCumulative: 10n * OPEN, daCommitment: '0xda' });
    const proof = tree.getProof(0) as Hex[];
    await revertsWith(actions.claim(chain, { claimant: carol.address, cumulativeAmount: 7n * OPEN, proof }), 'NoActiveRoot', 'conflict_error');
    await timeTravel(61);
    const before = await actions.tokenBalance(chain, { owner: carol.address });
    const c = await actions.claim(chain, { account: bob, claimant: carol.address, cumulativeAmount: 7n * OPEN, proof }); // anyone may send it
    assert.deepEqual([c.amount, c.epoch], [7n * OPEN, 1n]);
    assert.equal(await actions.tokenBalance(chain, { owner: carol.address }), before + 7n * OPEN);
    assert.equal(await actions.claimedAmount(chain, { owner: carol.address }), 7n * OPEN);
    await revertsWith(actions.claim(chain, { claimant: carol.address, cumulativeAmount: 7n * OPEN, proof }), 'NothingToClaim', 'conflict_error');
    await revertsWith(actions.claim(chain, { claimant: carol.address, cumulativeAmount: 8n * OPEN, proof }), 'InvalidProof', 'invalid_request_error');
    assert.ok(sub.activatedAt > 0n);

    // The root submitter cannot allocate more than was paid in (settlements + access revenue).
    const { totalFunded } = await actions.protocolParams(chain);
    await revertsWith(
      actions.submitRoot(chain, { epoch: 2n, root: h('greedy'), totalCumulative: totalFunded + 1n, daCommitment: '0x' }),
      'ExceedsFunding', 'invalid_request_error',
    );
    // A bad root for epoch 2 is disabled before it activates.
    await actions.submitRoot(chain, { epoch: 2n, root: h('bad'), totalCumulative: totalFunded, daCommitment: '0x' });
    await actions.disableRoot(chain, { epoch: 2n });
    await revertsWith(actions.disableRoot(chain, { epoch: 2n }), 'RootAlreadyDisabled', 'conflict_error');
  });

  test('staking: stake, unbond, withdraw, slash', async () => {
    const s = await actions.stake(chain, { account: carol, amount: 9n * OPEN }); // + the 1 OPEN staked as validator
    assert.equal(s.newStake, 10n * OPEN);
    const u = await actions.unbond(chain, { account: carol, amount: 4n * OPEN });
    assert.equal(u.newStake, 6n * OPEN);
    await revertsWith(actions.unbond(chain, { account: carol, amount: 100n * OPEN }), 'InsufficientStake', 'invalid_request_error');
    // Slashing: evidence required, capped (10 % on the embedded chain), executable only after the window.
    await revertsWith(actions.proposeSlash(chain, { validator: carol.address, amount: 1n, evidence: h('e'), daCommitment: '0x' }), 'MissingEvidence', 'invalid_request_error');
    await revertsWith(actions.proposeSlash(chain, { validator: carol.address, amount: 8n * OPEN, evidence: 'double vote', daCommitment: '0xda' }), 'SlashAboveCap', 'invalid_request_error');
    await revertsWith(actions.proposeSlash(chain, { account: carol, validator: bob.address, amount: 1n, evidence: 'x', daCommitment: '0xda' }), 'AccessControlUnauthorizedAccount', 'permission_error');
    const sp = await actions.proposeSlash(chain, { validator: carol.address, amount: 1n * OPEN, evidence: 'double vote', daCommitment: '0xda' });
    await revertsWith(actions.executeSlash(chain, { slashId: sp.slashId }), 'ChallengeWindowOpen', 'conflict_error');
    await revertsWith(actions.withdrawStake(chain, { account: carol }), 'SlashPending', 'conflict_error');
    await timeTravel(3_601);
    const sl = await actions.executeSlash(chain, { account: bob, slashId: sp.slashId }); // anyone may execute
    assert.deepEqual([sl.amount, sl.fromStake, sl.fromUnbonding], [1n * OPEN, 1n * OPEN, 0n]);
    assert.equal(await actions.stakeOf(chain, { owner: carol.address }), 5n * OPEN);
    assert.equal((await actions.getSlash(chain, { slashId: sp.slashId })).status, 3);
    await revertsWith(actions.withdrawStake(chain, { account: carol }), 'NothingToWithdraw', 'conflict_error');
    await timeTravel(7 * 86_400 + 1);
    assert.equal((await actions.withdrawStake(chain, { account: carol })).amount, 4n * OPEN);
  });

  test('concurrent sends from one account get distinct nonces', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => actions.createDatanet(chain, { account: alice, metadataURI: `ipfs://c${i}`, accessPolicy: AccessPolicy.Open })),
    );
    const ids = new Set(results.map((r) => r.datanetId));
    assert.equal(ids.size, 6);
  });
});
