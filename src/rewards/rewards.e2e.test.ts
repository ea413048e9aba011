// Payable inference end to end on the embedded chain (the test): a datanet with rows from
// two contributors → a fine-tuned model registered with prices → two users deposit into
// InferenceEscrow → one calls the model, the other streams and cancels → a 402 when a balance
// runs out → the epoch settles on chain, its records go to DA and its cumulative root is posted →
// protocol, model owner and both contributors claim exactly their shares: the claims sum to all
// fees, to the wei. Plus the bad inputs: unknown inference, wrong proof, someone else's amount,
// a second claim, deposit without allowance, withdrawal before its delay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodeFunctionData } from 'viem';
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts';
import { siweToken, startTestNode, uploadSignedRows } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { actions, artifacts } from '../chain/index.ts';
import { rpc } from '../chain/test-utils.ts';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';
import { depositToEscrow, requestEscrowWithdrawal, withdrawEscrow, type RewardsService } from './index.ts';
import { OpenLedgerError } from '../util/errors.ts';

let node: RunningNode & { dataDir: string };
let rewards: RewardsService;
let modelOwner: LocalAccount, alice: LocalAccount, carol: LocalAccount, u1: LocalAccount, u2: LocalAccount, val: LocalAccount;
const tokens = new Map<string, string>();
const IN = 2_000_000_000_000n, OUT = 5_000_000_000_000n; // wei per 1k tokens

type Method = 'GET' | 'POST';
const call = (method: Method, url: string, who?: LocalAccount, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({ method, url, payload: payload as never, headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers } });

const upload = (acct: LocalAccount, datanetId: number, rows: unknown[]) => uploadSignedRows(node, acct, tokens.get(acct.address)!, datanetId, rows);

const jsonAuth = (a: { payer: string; scope: string; cap: bigint; expiry: bigint; nonce: bigint }) => ({ payer: a.payer, scope: a.scope, cap: a.cap.toString(), expiry: Number(a.expiry), nonce: a.nonce.toString() });
const fee = (p: number, c: number) => (BigInt(p) * IN + BigInt(c) * OUT + 999n) / 1000n;
const chat = (who: LocalAccount, model: string, extra: Record<string, unknown> = {}) =>
  call('POST', '/v1/chat/completions', who, { model, messages: [{ role: 'user', content: 'code alpha' }], max_tokens: 8, temperature: 0, ...extra });

before(async () => {
  node = await startTestNode({ listen: true, extend: (s) => { s.config.rewards = { ...s.config.rewards, epochSeconds: 3600 }; } });
  rewards = node.services.modules.rewards as RewardsService;
  [modelOwner, alice, carol, u1] = node.services.keyring!.accounts;
  u2 = privateKeyToAccount(generatePrivateKey());
  val = privateKeyToAccount(generatePrivateKey());
  const chain = node.services.chain;
  // u2 and the validator are strangers: gas from Anvil, OPEN from a dev account
  for (const a of [u2, val]) {
    await rpc(chain.rpcUrl, 'anvil_setBalance', [a.address, '0x56BC75E2D63100000']);
    await actions.transfer(chain, { account: carol, to: a.address, amount: 10n ** 18n });
  }
  await actions.stake(chain, { account: val, amount: 10n ** 17n });
  for (const a of [modelOwner, alice, carol, u1, u2]) tokens.set(a.address, await siweToken(node, a));
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 8192 } });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
});
after(async () => {
  await node?.stop();
});

describe('payable inference on the embedded chain', () => {
  let model = '', modelId = '', datanetId = 0;
  const ids: Record<string, string> = {};

  test('a model fine-tuned on two contributors\' rows, registered with prices', async () => {
    const c = await call('POST', '/v1/datanets', modelOwner, { name: 'Codes', format: 'alpaca', policies: {} });
    assert.equal(c.statusCode, 201, c.body);
    datanetId = c.json().id;
    const rows = (who: string, n: number) => Array.from({ length: n }, (_, i) => ({ instruction: `code ${who}${i}`, output: `the code is ${who}-${i * 7}` }));
    // a staked validator of the datanet earns the validators' share
    const v = await call('POST', `/v1/datanets/${datanetId}/validators`, modelOwner, { address: val.address });
    assert.equal(v.statusCode, 200, v.body);
    await upload(alice, datanetId, rows('a', 6));
    await upload(carol, datanetId, rows('c', 3));
    assert.equal((await call('POST', `/v1/datanets/${datanetId}/versions`, modelOwner)).statusCode, 201);
    const res = await call('POST', '/v1/fine_tuning/jobs', modelOwner, {
      model: 'tiny-llama', datanets: [{ id: datanetId, version: 1 }], suffix: 'paid', price_per_1k_input: IN.toString(), price_per_1k_output: OUT.toString(),
      hyperparameters: { n_epochs: 1, max_steps: 2, batch_size: 4 }, validation_split: 0,
    });
    assert.equal(res.statusCode, 200, res.body);
    let j: any;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
      j = (await call('GET', `/v1/fine_tuning/jobs/${res.json().id}`, modelOwner)).json();
      if (['succeeded', 'failed', 'cancelled'].includes(j.status)) break;
      assert.ok(Date.now() - t0 < 180_000, 'job timed out');
    }
    assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
    model = j.fine_tuned_model;
    modelId = j.result.registration.model_id ?? j.result.registration.modelId;
    assert.ok(modelId, JSON.stringify(j.result.registration));
  });

  test('no deposit: 402 insufficient_quota in OpenAI\'s shape, before any engine work', async () => {
    const res = await chat(u1, model);
    assert.equal(res.statusCode, 402, res.body);
    const e = res.json().error;
    assert.equal(e.type, 'insufficient_quota');
    assert.equal(e.code, 'insufficient_quota');
    assert.match(e.message, /can spend 0 wei .* needs up to \d+ wei/);
    assert.match(e.hint, /escrow deposit/);
  });

  test('deposits: without allowance refused with a clear error; then both users deposit', async () => {
    const chain = node.services.chain;
    const escrow = chain.addresses.contracts.InferenceEscrow;
    // from an allowance that is not there: refused before sending, nothing moved
    await assert.rejects(depositToEscrow(chain, { account: u2, amount: 1000n, permit: false }), (e: OpenLedgerError) => e.code === 'insufficient_allowance' && /no allowance/.test(e.message));
    assert.equal((await actions.escrowBalance(chain, { owner: u2.address })).balance, 0n);
    await depositToEscrow(chain, { account: u1, amount: 10n ** 17n }); // EIP-2612 permit: one transaction, no approve
    await depositToEscrow(chain, { account: u2, amount: 20_000_000_000_000n }); // 2·10^13 wei: a few small calls
    // a deposit alone lets nobody charge it: the payer's spend authorization is missing
    const none = await chat(u1, model);
    assert.equal(none.statusCode, 402, none.body);
    assert.match(none.json().error.message, /spend authorization lets the node charge 0 wei/);
    assert.match(none.json().error.hint, /escrow authorize/);
    const expiry = BigInt(Math.floor(Date.now() / 1000) + 86_400);
    await actions.approveSpend(chain, { account: u1, cap: 10n ** 17n, expiry }); // on chain, by the payer
    // u2 signs an EIP-712 authorization; the node relays it (the payer pays no gas)
    const auth = { payer: u2.address, scope: `0x${'00'.repeat(32)}` as const, cap: 20_000_000_000_000n, expiry, nonce: 1n };
    const relayed = await call('POST', '/v1/escrow/authorizations', u2, { ...jsonAuth(auth), signature: await actions.signSpendAuthorization(chain, u2, auth) });
    assert.equal(relayed.statusCode, 200, relayed.body);
    const replay = await call('POST', '/v1/escrow/authorizations', u2, { ...jsonAuth(auth), signature: await actions.signSpendAuthorization(chain, u2, auth) });
    assert.equal(replay.statusCode, 409, replay.body); // a used nonce is refused on chain
    // a wallet signs its own escrow transactions; the node simulates, then broadcasts them
    const signed = async (functionName: string, args: unknown[]) => {
      const w = chain.walletFor(u2);
      const nonce = await chain.publicClient.getTransactionCount({ address: u2.address, blockTag: 'pending' });
      return w.signTransaction({ account: u2, chain: w.chain, to: escrow, data: encodeFunctionData({ abi: artifacts.InferenceEscrow.abi, functionName, args } as never), gas: 300_000n, nonce, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n } as never);
    };
    const noAllowanceRaw = await call('POST', '/v1/escrow/transactions', undefined, { signed_transaction: await signed('deposit', [5n]) });
    assert.equal(noAllowanceRaw.statusCode, 400, noAllowanceRaw.body);
    assert.match(noAllowanceRaw.json().error.message, /InferenceEscrow\.deposit reverted: ERC20InsufficientAllowance/);
    const req = await call('POST', '/v1/escrow/transactions', undefined, { signed_transaction: await signed('requestWithdrawal', [1n]) });
    assert.equal(req.statusCode, 200, req.body);
    assert.equal(req.json().from, u2.address);
    const tooEarly = await call('POST', '/v1/escrow/transactions', undefined, { signed_transaction: await signed('withdraw', []) });
    assert.equal(tooEarly.statusCode, 400, tooEarly.body);
    assert.match(tooEarly.json().error.message, /WithdrawalNotReady/);
    assert.equal((await call('POST', '/v1/escrow/transactions', undefined, { signed_transaction: await signed('cancelWithdrawal', []) })).statusCode, 200);
    assert.equal((await call('POST', '/v1/escrow/transactions', undefined, { signed_transaction: '0x1234' })).json().error.code, 'invalid_transaction');
    const b = (await call('GET', `/v1/escrow/${u2.address}`)).json();
    assert.equal(b.balance, '20000000000000');
    assert.equal(b.available, '20000000000000');
    assert.equal(b.authorization.cap, '20000000000000');
    // withdrawal before its delay: refused, nothing moved
    await requestEscrowWithdrawal(chain, { account: u1, amount: 1n });
    await assert.rejects(withdrawEscrow(chain, { account: u1 }), (e: OpenLedgerError) => e.code === 'withdrawal_not_ready' && /not ready/.test(e.message));
    await assert.rejects(actions.withdraw(chain, { account: u1 }), (e: OpenLedgerError) => /WithdrawalNotReady/.test(e.message) && e.status === 400); // the contract agrees
    await node.services.chain.walletFor(u1).writeContract({ address: escrow, abi: artifacts.InferenceEscrow.abi, functionName: 'cancelWithdrawal', args: [] } as never)
      .then((h) => chain.publicClient.waitForTransactionReceipt({ hash: h }));
  });

  test('a paid call: the completion id is the inference id; its fee and split are exact', async () => {
    const res = await chat(u1, model, { ignore_eos: true });
    assert.equal(res.statusCode, 200, res.body);
    const j = res.json();
    ids.u1a = j.id;
    const inf = (await call('GET', `/v1/inferences/${j.id}`)).json();
    assert.equal(inf.status, 'charged');
    assert.equal(inf.caller, u1.address);
    assert.equal(inf.model_id, modelId);
    assert.deepEqual(inf.usage, j.usage);
    assert.equal(inf.fee, fee(j.usage.prompt_tokens, j.usage.completion_tokens).toString());
    const split = inf.split.reduce((s: bigint, x: any) => s + BigInt(x.amount), 0n) + BigInt(inf.contributors_pending);
    assert.equal(split, BigInt(inf.fee), 'split + contributors pool = fee');
    const roles = new Set(inf.split.map((x: any) => x.role));
    assert.ok(roles.has('protocol') && roles.has('owner') && roles.has('validator'), JSON.stringify(inf.split));
    assert.equal(inf.split.find((x: any) => x.role === 'validator').address, val.address);
    // the shares are RewardsDistributor.feeShares on chain (governed through the timelock)
    const bps = await node.services.chain.publicClient.readContract({ address: node.services.chain.addresses.contracts.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, functionName: 'feeShares', args: [] } as never) as readonly number[];
    assert.equal(inf.split.find((x: any) => x.role === 'owner').amount, (BigInt(inf.fee) * BigInt(bps[1]) / 10_000n).toString());
    assert.equal(inf.split.find((x: any) => x.role === 'validator').amount, (BigInt(inf.fee) * BigInt(bps[2]) / 10_000n).toString());
    // a second call over model:<id>
    const r2 = await chat(u1, `model:${modelId}`);
    assert.equal(r2.statusCode, 200, r2.body);
    ids.u1b = r2.json().id;
  });

  test('a streamed call cancelled by its client pays for what was generated', async () => {
    const ac = new AbortController();
    const res = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', signal: ac.signal,
      headers: { authorization: `Bearer ${tokens.get(u2.address)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'code alpha' }], max_tokens: 2000, ignore_eos: true, stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = '';
    while (!/"id":"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ids.u2 = /"id":"([^"]+)"/.exec(text)![1];
    ac.abort();
    await reader.cancel().catch(() => {});
    let inf: any;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
      inf = (await call('GET', `/v1/inferences/${ids.u2}`)).json();
      if (inf.status !== 'held') break;
      assert.ok(Date.now() - t0 < 30_000);
    }
    assert.equal(inf.status, 'charged');
    assert.equal(inf.finish_reason, 'abort');
    assert.ok(inf.usage.completion_tokens < 2000, `cancelled after ${inf.usage.completion_tokens} tokens`);
    assert.equal(inf.fee, fee(inf.usage.prompt_tokens, inf.usage.completion_tokens).toString());
    assert.ok(BigInt(inf.fee) < BigInt(inf.hold));
  });

  test('402 when the balance runs out: held + unsettled count against it; concurrent requests never overspend', async () => {
    const before = (await call('GET', `/v1/escrow/${u2.address}`)).json();
    assert.equal(BigInt(before.unsettled), BigInt((await call('GET', `/v1/inferences/${ids.u2}`)).json().fee));
    const res = await chat(u2, model, { max_tokens: 4000 });
    assert.equal(res.statusCode, 402, res.body);
    assert.match(res.json().error.message, new RegExp(`can spend ${before.available} wei`));
    assert.equal((await call('GET', `/v1/escrow/${u2.address}`)).json().available, before.available, 'a refused request holds nothing');
    // concurrent requests race for what is left: some are admitted, the rest refused, none overspends
    const res6 = await Promise.all(Array.from({ length: 6 }, (_, i) => chat(u2, model, { max_tokens: 1000, messages: [{ role: 'user', content: `code ${i}` }] })));
    const ok = res6.filter((r) => r.statusCode === 200), refused = res6.filter((r) => r.statusCode === 402);
    assert.equal(ok.length + refused.length, 6, res6.map((r) => r.statusCode).join(','));
    assert.ok(ok.length >= 1 && refused.length >= 1, `${ok.length} admitted, ${refused.length} refused`);
    let held = 0n;
    for (const r of ok) {
      const inf = (await call('GET', `/v1/inferences/${r.json().id}`)).json();
      held += BigInt(inf.hold);
      ids[`u2c${r.json().id}`] = r.json().id;
    }
    assert.ok(held <= BigInt(before.available), `holds ${held} > available ${before.available}`);
    const after = (await call('GET', `/v1/escrow/${u2.address}`)).json();
    assert.ok(BigInt(after.unsettled) + BigInt(after.held) <= BigInt(after.authorization.remaining), 'never more owed than authorized');
  });

  test('the epoch settles on chain, its records go to DA, the cumulative root is posted; every party claims exactly its share', async () => {
    const chain = node.services.chain;
    const fees = new Map<string, bigint>();
    for (const id of Object.values(ids)) {
      const inf = (await call('GET', `/v1/inferences/${id}`)).json();
      fees.set(inf.caller, (fees.get(inf.caller) ?? 0n) + BigInt(inf.fee));
    }
    const total = [...fees.values()].reduce((s, x) => s + x, 0n);
    const escrowBefore = await Promise.all([u1, u2].map((u) => actions.escrowBalance(chain, { owner: u.address })));
    const distBefore = await actions.tokenBalance(chain, { owner: chain.addresses.contracts.RewardsDistributor });
    const epoch = await rewards.epochs.closeNow();
    const ep = (await call('GET', '/v1/rewards/epochs')).json().data.find((e: any) => e.epoch === epoch);
    assert.equal(ep.status, 'done');
    assert.equal(ep.settled_total, total.toString());
    assert.equal(ep.total_cumulative, total.toString());
    assert.match(ep.root_tx, /^0x/);
    const escrowAfter = await Promise.all([u1, u2].map((u) => actions.escrowBalance(chain, { owner: u.address })));
    assert.equal(escrowBefore[0].balance - escrowAfter[0].balance, fees.get(u1.address));
    assert.equal(escrowBefore[1].balance - escrowAfter[1].balance, fees.get(u2.address));
    assert.equal(await actions.tokenBalance(chain, { owner: chain.addresses.contracts.RewardsDistributor }) - distBefore, total);
    // the DA records let anyone check the root
    const blob = JSON.parse(new TextDecoder().decode(await (node.services.modules.da as any).get(ep.da_commitment)));
    assert.equal(blob.root, ep.merkle_root);
    assert.equal(blob.charges.length, Object.keys(ids).length);
    assert.ok(blob.attribution.length > 0 && blob.attribution.every((a: any) => a.source === 'pro_rata' && a.weights.length === 2), JSON.stringify(blob.attribution[0]));
    assert.equal((await call('GET', `/v1/inferences/${ids.u1a}`)).json().epoch_status, 'done');
    assert.equal(BigInt((await call('GET', `/v1/inferences/${ids.u1a}`)).json().contributors_pending), 0n, 'the pool went to contributors');

    // not active yet: the distributor's activation delay
    const early = await call('POST', `/v1/rewards/${alice.address}/claim`, alice);
    assert.equal(early.statusCode, 409, early.body);
    await rpc(chain.rpcUrl, 'evm_increaseTime', [120]);
    await rpc(chain.rpcUrl, 'evm_mine', []);

    const parties = [rewards.treasury(), modelOwner.address, val.address, alice.address, carol.address];
    let claimedSum = 0n;
    const earned = new Map<string, bigint>();
    for (const a of parties) {
      const r = (await call('GET', `/v1/rewards/${a}`)).json();
      earned.set(a, BigInt(r.earned));
      assert.equal(r.claimable, r.earned, a);
      assert.ok(BigInt(r.earned) > 0n, `${a} earned nothing`);
      const before = await actions.tokenBalance(chain, { owner: a as `0x${string}` });
      const c = await call('POST', `/v1/rewards/${a}/claim`, u1); // anyone may send it; the OPEN goes to a
      assert.equal(c.statusCode, 200, c.body);
      assert.equal(c.json().amount, r.earned);
      assert.equal(await actions.tokenBalance(chain, { owner: a as `0x${string}` }) - before, BigInt(r.earned));
      claimedSum += BigInt(c.json().amount);
    }
    assert.equal(claimedSum, total, 'sum of all claims (protocol included) = all fees, to the wei');
    // contributors pro rata to accepted rows: alice 6, carol 3
    assert.ok(earned.get(alice.address)! > earned.get(carol.address)!);
    const usage = (await call('GET', `/v1/usage/contributors/${alice.address}`)).json();
    assert.equal(usage.data[0].datanet_id, datanetId);
    assert.equal((await call('GET', '/v1/usage/datanets')).json().data[0].datanet_id, datanetId);
    const models = (await call('GET', '/v1/usage/models')).json().data.filter((m: any) => m.model_id === modelId);
    assert.equal(models.reduce((s: bigint, m: any) => s + BigInt(m.revenue), 0n), total);
    assert.equal(models.reduce((s: number, m: any) => s + m.calls, 0), Object.keys(ids).length);
    assert.equal(rewards.ledger.total(), 0n);
    assert.deepEqual(rewards.ledger.unbalancedTxns(), []);
  });

  test('bad input: unknown inference 404, a second claim pays nothing, wrong proof and someone else\'s amount refused on chain', async () => {
    const nf = await call('GET', '/v1/inferences/chatcmpl-doesnotexist');
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.json().error.code, 'inference_not_found');
    assert.equal((await call('GET', '/v1/inferences/..%2Fetc')).statusCode, 400);
    const again = await call('POST', `/v1/rewards/${alice.address}/claim`, alice);
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(again.json().error.code, 'nothing_to_claim');
    const r = (await call('GET', `/v1/rewards/${carol.address}`)).json();
    const wrongProof = await call('POST', `/v1/rewards/${carol.address}/claim`, carol, { cumulative_amount: r.claim.cumulative_amount, proof: [`0x${'11'.repeat(32)}`] });
    assert.equal(wrongProof.statusCode, 400, wrongProof.body);
    assert.match(wrongProof.json().error.message, /InvalidProof/);
    const a = (await call('GET', `/v1/rewards/${alice.address}`)).json();
    const stolen = await call('POST', `/v1/rewards/${carol.address}/claim`, carol, { cumulative_amount: a.claim.cumulative_amount, proof: a.claim.proof });
    assert.equal(stolen.statusCode, 400, stolen.body);
    assert.match(stolen.json().error.message, /InvalidProof/);
    assert.equal((await call('GET', '/v1/rewards/not-an-address')).statusCode, 400);
    const bad = await call('POST', `/v1/rewards/${carol.address}/claim`, carol, { cumulative_amount: 5, proof: 'x' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.param, 'cumulative_amount');
  });

  test('paid datanet access: the price the distributor was funded with reaches the contributors through the next root', async () => {
    const chain = node.services.chain;
    const price = 3_000_000n;
    const c = await call('POST', '/v1/datanets', modelOwner, { name: 'Paid codes', format: 'alpaca', policies: { access: { kind: 'paid', priceWei: price.toString() } } });
    assert.equal(c.statusCode, 201, c.body);
    const id = c.json().id;
    await upload(alice, id, [{ instruction: 'code x', output: 'the code is y' }, { instruction: 'code z', output: 'the code is w' }]);
    assert.equal((await call('POST', `/v1/datanets/${id}/versions`, modelOwner)).statusCode, 201);
    const before = BigInt((await call('GET', `/v1/rewards/${alice.address}`)).json().earned);
    const tx = await actions.purchaseAccess(chain, { account: u1, datanetId: BigInt(id), maxPrice: price });
    const bought = await call('POST', `/v1/datanets/${id}/purchase`, u1, { txHash: tx.txHash });
    assert.equal(bought.statusCode, 200, bought.body);
    const epoch = await rewards.epochs.closeNow();
    const r = (await call('GET', `/v1/rewards/${alice.address}`)).json();
    assert.equal(BigInt(r.earned) - before, price, 'alice has every accepted row: the whole price');
    assert.equal(rewards.epochs.get(epoch)!.status, 'done');
    await rpc(chain.rpcUrl, 'evm_increaseTime', [120]);
    await rpc(chain.rpcUrl, 'evm_mine', []);
    const cl = await call('POST', `/v1/rewards/${alice.address}/claim`, alice);
    assert.equal(cl.statusCode, 200, cl.body);
    assert.equal(cl.json().amount, price.toString());
    assert.equal(rewards.ledger.total(), 0n);
  });
});
