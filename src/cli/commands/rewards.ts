/**
 * `openledger rewards` and `openledger usage`: what a call to a model earned whom, and claiming it.
 *
 *   openledger rewards [--as 1]                  earned per epoch, pending, claimable, claimed
 *   openledger rewards claim [--as 1]            the node sends RewardsDistributor.claim; shows the tx
 *   openledger rewards claim --cumulative <wei> --proof 0x…,0x…   a leaf of your own (checked on chain)
 *   openledger rewards epochs                    epochs: settlement tx, root, DA commitment
 *   openledger rewards close-epoch [--as 0]      the operator settles the open epoch now
 *   openledger rewards inference <id>            one call's charge and its split
 *   openledger rewards verify <epoch> [--as 1]   rebuild the epoch's root from its DA records and check it, the
 *                                                settlement's recordsRoot and your leaf against the chain
 *   openledger usage models | datanets | contributor [address]
 */
import type { Command } from 'commander';
import { invalid } from '../../util/errors.ts';
import { NodeClient, signedIn, userOptions, type UserOptions } from '../client.ts';
import { printJson, printTable } from '../output.ts';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { keccak256, toHex, type Hex } from 'viem';
import { artifacts } from '../../chain/index.ts';
import { chainFromNode, fmt, whoOf } from './escrow.ts';

export function rewardsCommands(program: Command) {
  const rewards = userOptions(program.command('rewards').description('your earnings from paid model calls (as contributor, validator, model owner or protocol), and claims')
    .option('--address <address>', 'any address instead of a dev account'))
    .action(async (o: UserOptions & { address?: string }) => {
      const r = await new NodeClient(o.api).request('GET', `/v1/rewards/${whoOf(o)}`);
      if (o.json) return printJson(r);
      console.log(`rewards of ${r.address}`);
      printTable([
        { what: 'earned (all epochs)', OPEN: fmt(r.earned) },
        { what: 'pending (epoch open, or root not active yet)', OPEN: fmt(r.pending) },
        { what: 'claimable now', OPEN: fmt(r.claimable) },
        { what: 'claimed', OPEN: fmt(r.claimed) },
      ]);
      if (r.by_epoch.length) printTable(r.by_epoch.map((e: any) => ({ epoch: e.epoch, role: e.role, earned: fmt(e.amount), status: e.status })));
      if (BigInt(r.claimable) > 0n) console.log('claim it with `openledger rewards claim`');
    });

  // Subcommands take --api, --data-dir, --as, --address and --json from `rewards` itself (commander
  // gives a parent's options to the parent wherever they appear), read with optsWithGlobals().
  rewards.command('claim').description('claim your rewards (--address: for that address; the OPEN goes to it): the node sends RewardsDistributor.claim, pays the gas, and shows the transaction')
    .option('--cumulative <wei>', 'your own leaf: cumulative amount (wei) …')
    .option('--proof <hashes>', '… and its Merkle proof, comma-separated 0x hashes')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as UserOptions & { address?: string; cumulative?: string; proof?: string };
      const { client } = await signedIn(o);
      const who = whoOf(o);
      if ((o.cumulative === undefined) !== (o.proof === undefined)) throw invalid('--cumulative and --proof go together', { param: o.cumulative === undefined ? 'cumulative' : 'proof', code: 'leaf_incomplete' });
      const body = o.cumulative !== undefined ? { cumulative_amount: o.cumulative, proof: o.proof!.split(',').map((x) => x.trim()).filter(Boolean) } : undefined;
      const r = await client.request('POST', `/v1/rewards/${who}/claim`, body ?? {});
      if (o.json) return printJson(r);
      console.log(`claimed ${fmt(r.amount)} for ${r.address} (epoch ${r.epoch} root, cumulative ${fmt(r.cumulative_amount)})`);
      console.log(`tx ${r.tx_hash} in block ${r.block_number}`);
    });

  rewards.command('epochs').description('epochs: status, settlement, Merkle root, DA commitment')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as UserOptions;
      const { data } = await new NodeClient(o.api).request('GET', '/v1/rewards/epochs');
      if (o.json) return printJson(data);
      printTable(data.map((e: any) => ({ epoch: e.epoch, status: e.status, settled: e.settled_total ? fmt(e.settled_total) : '', root: e.merkle_root ? `${e.merkle_root.slice(0, 10)}…` : '', root_tx: e.root_tx ?? '', error: e.error ?? '' })));
    });

  rewards.command('verify <epoch>').description("check an epoch against the chain yourself: its DA records' charges hash to the settlement's recordsRoot, its leaves rebuild the posted Merkle root, and your leaf (--address / --as) is in it")
    .action(async (epochArg: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as UserOptions & { address?: string };
      if (!/^\d{1,19}$/.test(epochArg) || epochArg === '0') throw invalid(`"${epochArg}" is not an epoch number`, { param: 'epoch', code: 'invalid_epoch' });
      const client = new NodeClient(o.api);
      const { records } = await client.request('GET', `/v1/rewards/epochs/${epochArg}/records`);
      const chain = await chainFromNode(client);
      // Everything below is recomputed here, from the records and the chain, not taken from the node's word.
      const tree = StandardMerkleTree.of(records.leaves as [string, string][], ['address', 'uint256']);
      const onChain = await chain.publicClient.readContract({ address: chain.addresses.contracts.RewardsDistributor, abi: artifacts.RewardsDistributor.abi, functionName: 'getRoot', args: [BigInt(epochArg)] } as never) as { root: Hex; totalCumulative: bigint };
      const settled = (await chain.publicClient.getContractEvents({ address: chain.addresses.contracts.InferenceEscrow, abi: artifacts.InferenceEscrow.abi, eventName: 'EpochSettled', args: { epoch: BigInt(epochArg) }, fromBlock: 0n, toBlock: 'latest' } as never)) as unknown as Array<{ args: { recordsRoot: Hex; total: bigint } }>;
      const recordsRoot = keccak256(toHex(JSON.stringify(records.charges)));
      const total = (records.leaves as [string, string][]).reduce((x, [, v]) => x + BigInt(v), 0n);
      const who = whoOf(o);
      const leaf = [...tree.entries()].find(([, v]) => (v[0] as string).toLowerCase() === who.toLowerCase());
      const checks = {
        tree_root_matches_chain: tree.root.toLowerCase() === onChain.root.toLowerCase(),
        total_matches_chain: total === onChain.totalCumulative,
        records_root_matches_settlement: settled.length === 0 ? null : settled[0].args.recordsRoot.toLowerCase() === recordsRoot.toLowerCase(),
        leaf: leaf ? { address: who, cumulative_amount: leaf[1][1], proof: tree.getProof(leaf[0]), verifies: StandardMerkleTree.verify(onChain.root, ['address', 'uint256'], leaf[1], tree.getProof(leaf[0])) } : null,
      };
      if (o.json) return printJson({ epoch: Number(epochArg), root: onChain.root, ...checks });
      const ok = (b: boolean | null) => (b === null ? 'n/a' : b ? 'ok' : 'MISMATCH');
      console.log(`epoch ${epochArg}: root ${onChain.root} on chain`);
      console.log(`  leaves rebuild the root:          ${ok(checks.tree_root_matches_chain)}`);
      console.log(`  leaves sum to the root's total:   ${ok(checks.total_matches_chain)}`);
      console.log(`  charges hash to the recordsRoot:  ${ok(checks.records_root_matches_settlement)}`);
      console.log(checks.leaf ? `  ${who}: cumulative ${fmt(checks.leaf.cumulative_amount as string)}, proof ${ok(checks.leaf.verifies)}` : `  ${who} has no leaf in this epoch's tree`);
      if (!checks.tree_root_matches_chain || !checks.total_matches_chain || checks.records_root_matches_settlement === false || (checks.leaf && !checks.leaf.verifies)) process.exitCode = 1;
    });

  rewards.command('close-epoch').description("the node operator (--as 0) closes the open epoch now: it settles and posts its root at once")
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as UserOptions;
      const { client } = await signedIn({ ...o, as: o.as ?? '0' });
      const e = await client.request('POST', '/v1/rewards/epochs/close');
      if (o.json) return printJson(e);
      console.log(`epoch ${e.epoch} ${e.status}: settled ${fmt(e.settled_total ?? '0')}${e.settle_tx ? ` (tx ${e.settle_tx})` : ''}${e.root_tx ? `, root ${e.merkle_root} (tx ${e.root_tx})` : ', no root (nothing new to pay out)'}`);
    });

  rewards.command('inference <id>').description("one call's charge and its split (the completion's id)")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals() as UserOptions;
      const r = await new NodeClient(o.api).request('GET', `/v1/inferences/${encodeURIComponent(id)}`);
      if (o.json) return printJson(r);
      console.log(`${r.id}: ${r.model} for ${r.caller}, ${r.usage.prompt_tokens ?? '?'} + ${r.usage.completion_tokens ?? '?'} tokens, fee ${fmt(r.fee ?? '0')} (${r.status}, epoch ${r.epoch ?? '–'} ${r.epoch_status ?? ''})`);
      printTable(r.split.map((x: any) => ({ role: x.role, address: x.address, datanet: x.datanet_id ?? '', amount: fmt(x.amount) })));
      if (BigInt(r.contributors_pending) > 0n) console.log(`contributors' share ${fmt(r.contributors_pending)}: split by attribution when the epoch closes`);
    });

  const usage = program.command('usage').description('usage and revenue: per model, per datanet, per contributor');
  const opts = userOptions;
  opts(usage.command('models').description('per model and epoch: calls, tokens, revenue')).action(async (o: { api: string; json: boolean }) => {
    const { data } = await new NodeClient(o.api).request('GET', '/v1/usage/models');
    if (o.json) return printJson(data);
    printTable(data.map((m: any) => ({ model: m.model, model_id: m.model_id ?? '', epoch: m.epoch, calls: m.calls, prompt_tokens: m.prompt_tokens, completion_tokens: m.completion_tokens, revenue: fmt(m.revenue) })));
  });
  opts(usage.command('datanets').description('revenue per datanet (its contributors and validators)')).action(async (o: { api: string; json: boolean }) => {
    const { data } = await new NodeClient(o.api).request('GET', '/v1/usage/datanets');
    if (o.json) return printJson(data);
    printTable(data.map((d: any) => ({ datanet: d.datanet_id, revenue: fmt(d.revenue), contributors: fmt(d.contributors), validators: fmt(d.validators) })));
  });
  userOptions(usage.command('contributor [address]').description('what an address earned, by role, datanet and model')).action(async (address: string | undefined, o: UserOptions) => {
    const r = await new NodeClient(o.api).request('GET', `/v1/usage/contributors/${whoOf({ ...o, address })}`);
    if (o.json) return printJson(r);
    console.log(`earnings of ${r.address}`);
    printTable(r.data.map((x: any) => ({ role: x.role, datanet: x.datanet_id ?? '', model: x.model ?? '', earned: fmt(x.earned) })));
  });
}
