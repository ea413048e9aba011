/**
 * `openledger gov …`: on-chain governance by OPEN holders through a running node.
 *
 *   gov params                                   voting delay/period, timelock delay, fee shares, epoch length…
 *   gov list | gov show <id>                     proposals from the node's event index, with live state and votes
 *   gov propose --action <A> [--action <A>…] --description <text>     (as --as, a dev-keyring account)
 *   gov vote <id> for|against|abstain [--reason <text>]
 *   gov queue <id> | gov execute <id>            anyone; the node relays
 *   gov delegate [--to <address>]                votes count only once delegated (before the proposal's snapshot)
 *
 * An action is `Contract.function(arg, arg…)`, e.g. `RewardsDistributor.setActivationDelay(7200)`, or JSON
 * `{"contract":"RewardsDistributor","function":"setFeeShares","args":[{"protocolBps":500,…}]}` for tuples.
 */
import type { Command } from 'commander';
import { invalid } from '../../util/errors.ts';
import { NodeClient, signedIn, userOptions as common, type UserOptions as Common } from '../client.ts';
import { printJson, printTable } from '../output.ts';

const pid = (v: string) => {
  if (!/^\d{1,78}$/.test(v)) throw invalid(`"${v}" is not a proposal id`, { param: 'id', hint: 'proposal ids are long decimal numbers; list them with `openledger gov list`' });
  return v;
};

/** `Contract.function(a, b)` or a JSON object → { contract, function, args }. */
export function parseAction(text: string): { contract: string; function: string; args: unknown[] } {
  const t = text.trim();
  if (t.startsWith('{')) {
    let o: any;
    try {
      o = JSON.parse(t);
    } catch (e) {
      throw invalid(`--action is not valid JSON: ${(e as Error).message}`, { param: 'action', code: 'malformed_action', hint: '{"contract":"…","function":"…","args":[…]}' });
    }
    if (!o || typeof o.contract !== 'string' || typeof o.function !== 'string' || !Array.isArray(o.args)) {
      throw invalid('--action JSON needs contract, function and args', { param: 'action', code: 'malformed_action', hint: '{"contract":"…","function":"…","args":[…]}' });
    }
    return { contract: o.contract, function: o.function, args: o.args };
  }
  const m = /^([A-Za-z][A-Za-z0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$/s.exec(t);
  if (!m) {
    throw invalid(`--action "${text}" is not Contract.function(args)`, {
      param: 'action', code: 'malformed_action', hint: 'e.g. --action "RewardsDistributor.setActivationDelay(7200)"; run `openledger gov params` for the governable functions',
    });
  }
  const args = m[3]!.trim() === '' ? [] : m[3]!.split(',').map((a) => a.trim());
  return { contract: m[1]!, function: m[2]!, args };
}

const when = (s: string | number) => (Number(s) ? new Date(Number(s) * 1000).toISOString().replace('.000Z', 'Z') : '-');

export function govCommands(program: Command) {
  const gov = program.command('gov').description('on-chain governance by OPEN holders: propose, vote, queue, execute, list');

  common(gov.command('params').description('governance parameters, contracts, role keys and governable functions')).action(async (o: Common) => {
    printJson(await new NodeClient(o.api).request('GET', '/v1/governance'));
  });

  common(gov.command('list').description('proposals, newest first').option('--limit <n>', 'how many', '20')).action(async (o: Common & { limit: string }) => {
    const { data } = await new NodeClient(o.api).request('GET', `/v1/governance/proposals?limit=${Number(o.limit) || 20}`);
    if (o.json) return printJson(data);
    printTable(data.map((p: any) => ({
      id: p.proposalId, state: p.state, for: p.votes.for, against: p.votes.against, abstain: p.votes.abstain,
      voteEnd: when(p.voteEnd), eta: when(p.eta), description: String(p.description ?? '').split('\n')[0]!.slice(0, 60),
    })));
  });

  common(gov.command('show <id>').description('one proposal: state, votes, decoded actions')).action(async (id: string, o: Common) => {
    printJson(await new NodeClient(o.api).request('GET', `/v1/governance/proposals/${pid(id)}`));
  });

  common(
    gov
      .command('propose')
      .description('propose actions on the node\'s contracts (signed as --as)')
      .requiredOption('--action <action>', 'Contract.function(args) or JSON; repeat for several', (v: string, prev: string[] = []) => [...prev, v])
      .requiredOption('--description <text>', 'what the proposal changes and why'),
  ).action(async (o: Common & { action: string[]; description: string }) => {
    const actions = o.action.map(parseAction);
    const { client } = await signedIn(o);
    const r = await client.request('POST', '/v1/governance/proposals', { actions, description: o.description });
    if (o.json) return printJson(r);
    console.log(`proposal ${r.proposalId} created (tx ${r.txHash}); voting ${when(r.voteStart)} → ${when(r.voteEnd)}`);
  });

  common(gov.command('vote <id> <support>').description('vote for | against | abstain (signed as --as)').option('--reason <text>', 'reason, recorded on chain')).action(
    async (id: string, support: string, o: Common & { reason?: string }) => {
      if (!['for', 'against', 'abstain'].includes(support)) {
        throw invalid(`support must be for, against or abstain, not "${support}"`, { param: 'support', hint: 'openledger gov vote <id> for' });
      }
      const { client } = await signedIn(o);
      const r = await client.request('POST', `/v1/governance/proposals/${pid(id)}/votes`, { support, ...(o.reason ? { reason: o.reason } : {}) });
      if (o.json) return printJson(r);
      console.log(`voted ${support} with weight ${r.weight} (tx ${r.txHash})`);
    },
  );

  for (const step of ['queue', 'execute'] as const) {
    common(gov.command(`${step} <id>`).description(step === 'queue' ? 'queue a succeeded proposal in the timelock' : 'execute a queued proposal after the timelock delay')).action(
      async (id: string, o: Common) => {
        const r = await new NodeClient(o.api).request('POST', `/v1/governance/proposals/${pid(id)}/${step}`);
        if (o.json) return printJson(r);
        console.log(`proposal ${r.proposalId}: ${r.state}${r.eta && r.eta !== '0' ? `, executable from ${when(r.eta)}` : ''} (tx ${r.txHash})`);
      },
    );
  }

  common(gov.command('delegate').description('delegate your OPEN votes (to yourself by default)').option('--to <address>', 'delegatee')).action(async (o: Common & { to?: string }) => {
    const { client } = await signedIn(o);
    const r = await client.request('POST', '/v1/governance/delegate', o.to ? { delegatee: o.to } : {});
    if (o.json) return printJson(r);
    console.log(`votes delegated (tx ${r.txHash}); votes now ${r.votes}`);
  });
}
