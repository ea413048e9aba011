/**
 * A node in a child process for the crash test (rewards.crash.test.ts). Two phases:
 *
 *   setup  <dataDir> <chainPort> <crashAt>  start a node that SIGKILLs itself at `crashAt` of an
 *          epoch close; import a priced adapter, two payers deposit and call it, then close the
 *          epoch (the process dies part-way; it prints the fees first)
 *   resume <dataDir> <chainPort>            start the node again (no crash point): the epoch loop
 *          finishes the epoch; print what the chain and the store say, claim every leaf, stop
 *
 * Output: one JSON line per phase on stdout.
 */
import { join } from 'node:path';
import { getAddress, type Address } from 'viem';
import { parseNodeConfig } from '../../config/index.ts';
import { startNode } from '../../node.ts';
import { importAdapterFile, siweToken } from '../../../test/helpers.ts';
import { ModelCatalog } from '../../models/index.ts';
import { buildTinyLora, buildTinyModel } from '../../engine/testing/index.ts';
import { actions, artifacts } from '../../chain/index.ts';
import { rpc } from '../../chain/test-utils.ts';
import { depositToEscrow, type RewardsService } from '../index.ts';

const [phase, dataDir, chainPort, crashAt] = process.argv.slice(2);
const config = parseNodeConfig({
  dataDir, port: 7420, chain: { mode: 'embedded', chainPort: Number(chainPort) }, logLevel: 'silent',
  rewards: { epochSeconds: 3600, tickMs: 50, ...(crashAt ? { crashAt } : {}) },
});
const node = await startNode(config, { listen: false });
const rewards = node.services.modules.rewards as RewardsService;
const chain = node.services.chain;
const out = (o: unknown) => process.stdout.write(JSON.stringify(o, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');

if (phase === 'setup') {
  const [owner, , u1, u2] = node.services.keyring!.accounts;
  const tiny = buildTinyModel('llama', join(dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 2048 } });
  await new ModelCatalog(dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const lora = buildTinyLora(tiny, join(dataDir, 'lora'), { rank: 2, seed: 1 });
  const ownerToken = await siweToken(node, owner);
  const imp = await importAdapterFile(node, ownerToken, lora.ggufPath,
    { model: 'tiny-llama', name: 'ft:tiny-llama:crash:0001', price_per_1k_input: '3000000000000', price_per_1k_output: '7000000000000' });
  if (imp.statusCode !== 201) throw new Error(imp.body);
  const fees: Record<string, string> = {};
  for (const [u, calls] of [[u1, 2], [u2, 1]] as const) {
    await depositToEscrow(chain, { account: u, amount: 10n ** 16n });
    await actions.approveSpend(chain, { account: u, cap: 10n ** 16n, expiry: BigInt(Math.floor(Date.now() / 1000) + 86_400) });
    const token = await siweToken(node, u);
    let sum = 0n;
    for (let i = 0; i < calls; i++) {
      const r = await node.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${token}` },
        payload: { model: 'ft:tiny-llama:crash:0001', messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 6, ignore_eos: true } });
      if (r.statusCode !== 200) throw new Error(r.body);
      sum += BigInt(rewards.inference(r.json().id).fee);
    }
    fees[u.address] = sum.toString();
  }
  out({ phase, epoch: rewards.epochs.current(), fees, owner: owner.address, treasury: rewards.treasury() });
  await rewards.epochs.closeNow(); // dies at crashAt
  out({ phase, survived: true });
  await node.stop();
} else {
  const e = Number(rewards.epochs.list(500).find((x) => x.status !== 'open')?.epoch);
  const t0 = Date.now();
  while (rewards.epochs.get(e)!.status !== 'done' && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
  const row = rewards.epochs.get(e)!;
  const escrow = chain.addresses.contracts.InferenceEscrow, dist = chain.addresses.contracts.RewardsDistributor;
  const logs = async (address: Address, abi: any, eventName: string) => (await chain.publicClient.getContractEvents({ address, abi, eventName, fromBlock: 0n, toBlock: 'latest' } as never)).length;
  const read = (address: Address, abi: any, functionName: string, args: unknown[] = []) => chain.publicClient.readContract({ address, abi, functionName, args } as never) as Promise<bigint>;
  const [u1, u2] = node.services.keyring!.accounts.slice(2);
  const facts = {
    phase, epoch: e, status: row.status, error: row.error,
    settledEvents: await logs(escrow, artifacts.InferenceEscrow.abi, 'EpochSettled'),
    rootEvents: await logs(dist, artifacts.RewardsDistributor.abi, 'RootSubmitted'),
    epochCount: await read(dist, artifacts.RewardsDistributor.abi, 'epochCount'),
    lastSubmittedEpoch: await read(dist, artifacts.RewardsDistributor.abi, 'lastSubmittedEpoch'),
    distributorBalance: await actions.tokenBalance(chain, { owner: dist }),
    escrow: { [u1.address]: (await actions.escrowBalance(chain, { owner: u1.address })).balance, [u2.address]: (await actions.escrowBalance(chain, { owner: u2.address })).balance },
    settledTotal: row.settled_total, totalCumulative: row.total_cumulative,
    ledgerTotal: rewards.ledger.total(), unbalanced: rewards.ledger.unbalancedTxns().length,
    claims: {} as Record<string, string>,
  };
  await rpc(chain.rpcUrl, 'evm_increaseTime', [120]);
  await rpc(chain.rpcUrl, 'evm_mine', []);
  for (const [a] of rewards.epochs.cumulative(e)) facts.claims[getAddress(a)] = (await rewards.claim(a as Address)).amount;
  out(facts);
  await node.stop();
}
