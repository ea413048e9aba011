/**
 * /v1/governance: OPEN holders' on-chain governance (OpenGovernor + OpenTimelock), as an API.
 *
 *   GET  /v1/governance                          parameters, contracts, role keys, what can be governed
 *   GET  /v1/governance/proposals                proposals from the event index (newest first) + live state
 *   GET  /v1/governance/proposals/:id            one proposal: state, votes, decoded actions, indexed votes
 *   POST /v1/governance/proposals/encode         check actions and return the propose() transaction (wallets)
 *   POST /v1/governance/proposals                propose        ┐
 *   POST /v1/governance/proposals/:id/votes      vote           ├ signed by the caller's dev-keyring key; other
 *   POST /v1/governance/delegate                 delegate votes ┘ callers send these transactions themselves
 *   POST /v1/governance/proposals/:id/queue      queue   ┐ permissionless on chain: the node's relayer sends them
 *   POST /v1/governance/proposals/:id/execute    execute ┘
 *
 * Errors: a malformed action → 400 malformed_action (param actions[i]…); unknown proposal → 404; a step in the
 * wrong state (vote before the voting delay, queue before the end, execute before the timelock) → 409 with the
 * governor's custom error; a caller without a node-held key → 403 with a hint to send the transaction itself.
 */
import type { FastifyInstance } from 'fastify';
import { encodeFunctionData, getAddress, isAddress, type Address } from 'viem';
import { actions, artifacts, type Chain } from '../../chain/index.ts';
import type { GovernanceAction } from '../../chain/actions/governance.ts';
import { forbidden, invalid } from '../../util/errors.ts';
import { requireCaller, type NodeServices } from '../context.ts';

const tags = ['governance'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 403: err, 404: err, 409: err };
const obj = { type: 'object', additionalProperties: true } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9]{1,78}$' } } } as const;
const actionSchema = {
  type: 'object',
  required: ['contract', 'function', 'args'],
  additionalProperties: false,
  properties: {
    contract: { type: 'string', maxLength: 64 },
    function: { type: 'string', maxLength: 64 },
    args: { type: 'array', maxItems: 8 },
  },
} as const;
const proposeBody = {
  type: 'object',
  required: ['actions', 'description'],
  additionalProperties: false,
  properties: {
    actions: { type: 'array', minItems: 1, maxItems: 10, items: actionSchema },
    description: { type: 'string', minLength: 1, maxLength: 10_000 },
  },
} as const;

/** bigint → decimal string, for JSON. */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));

async function params(chain: Chain) {
  const g = chain.addresses.contracts.OpenGovernor;
  const read = (functionName: string, args: readonly unknown[] = []) =>
    chain.publicClient.readContract({ address: g, abi: artifacts.OpenGovernor.abi, functionName, args } as never) as Promise<bigint>;
  const [votingDelay, votingPeriod, proposalThreshold, quorumNumerator, timelockDelay, protocol] = await Promise.all([
    read('votingDelay'),
    read('votingPeriod'),
    read('proposalThreshold'),
    read('quorumNumerator', []).catch(() => 0n),
    chain.publicClient.readContract({ address: chain.addresses.timelock, abi: artifacts.OpenTimelock.abi, functionName: 'getMinDelay' } as never) as Promise<bigint>,
    actions.protocolParams(chain),
  ]);
  return { votingDelay, votingPeriod, proposalThreshold, quorumPercent: quorumNumerator, timelockDelay, ...protocol };
}

export async function governanceRoutes(app: FastifyInstance, s: NodeServices) {
  const chain = s.chain;
  /** The caller's key, when the node holds it (dev keyring); otherwise a 403 saying what to do instead. */
  const keyOf = (caller: Address, what: string) => {
    const account = s.keyring?.find(caller);
    if (!account) {
      throw forbidden(`the node does not hold a key for ${caller}, so it cannot ${what} for you`, {
        code: 'no_node_key',
        hint: 'send the transaction from your own wallet (POST /v1/governance/proposals/encode gives the propose() call data)',
      });
    }
    return account;
  };
  const proposalId = (v: string) => {
    const id = BigInt(v);
    if (id >= 2n ** 256n) throw invalid(`proposal id ${v} is larger than a uint256`, { param: 'id', code: 'invalid_proposal_id', hint: 'list proposals with GET /v1/governance/proposals' });
    return id;
  };

  app.get('/v1/governance', { schema: { tags, summary: 'Governance parameters, contracts, role keys and the governable functions', response: { 200: obj } } }, async () =>
    json({
      contracts: { governor: chain.addresses.contracts.OpenGovernor, timelock: chain.addresses.timelock, token: chain.addresses.contracts.OpenToken },
      treasury: chain.addresses.treasury,
      roles: chain.addresses.roles,
      params: await params(chain),
      governable: actions.GOVERNABLE,
    }),
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/governance/proposals',
    {
      schema: {
        tags,
        summary: 'Proposals from the event index (newest first), with their live state and votes',
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } },
        response: { 200: { type: 'object', properties: { data: { type: 'array', items: obj } } } },
      },
    },
    async (request) => {
      const created = s.store.chainIndex.events({ contract: 'OpenGovernor', event: 'ProposalCreated', limit: request.query.limit ?? 20, desc: true });
      const data = await Promise.all(
        created.map(async (e) => {
          const a = e.args as Record<string, unknown>;
          const live = await actions.getProposal(chain, { proposalId: BigInt(String(a.proposalId)) });
          return { ...live, description: a.description, blockNumber: e.blockNumber, txHash: e.txHash };
        }),
      );
      return json({ data });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/governance/proposals/:id',
    { schema: { tags, summary: 'One proposal: state, tally, decoded actions and the indexed votes', params: idParams, response: { 200: obj, ...errors } } },
    async (request) => {
      const id = proposalId(request.params.id);
      const live = await actions.getProposal(chain, { proposalId: id });
      const created = s.store.chainIndex.events({ contract: 'OpenGovernor', event: 'ProposalCreated', args: { proposalId: id.toString() }, limit: 1 })[0];
      const votes = s.store.chainIndex
        .events({ contract: 'OpenGovernor', event: 'VoteCast', args: { proposalId: id.toString() }, limit: 1000 })
        .map((e) => ({ ...(e.args as object), blockNumber: e.blockNumber, txHash: e.txHash }));
      return json({ ...live, description: (created?.args as { description?: string } | undefined)?.description ?? null, indexedVotes: votes });
    },
  );

  app.post<{ Body: { actions: GovernanceAction[]; description: string } }>(
    '/v1/governance/proposals/encode',
    { schema: { tags, summary: 'Check a proposal and return the OpenGovernor.propose transaction to send from a wallet', body: proposeBody, response: { 200: obj, 400: err } } },
    async (request) => {
      const encoded = request.body.actions.map((a, i) => actions.encodeAction(chain, a, i));
      const args = [encoded.map((e) => e.target), encoded.map(() => 0n), encoded.map((e) => e.calldata), request.body.description] as const;
      return json({
        to: chain.addresses.contracts.OpenGovernor,
        data: encodeFunctionData({ abi: artifacts.OpenGovernor.abi, functionName: 'propose', args } as never),
        targets: args[0],
        calldatas: args[2],
      });
    },
  );

  app.post<{ Body: { actions: GovernanceAction[]; description: string } }>(
    '/v1/governance/proposals',
    { schema: { tags, summary: 'Propose (signed with your dev-keyring key)', security: [{ bearer: [] }], body: proposeBody, response: { 200: obj, ...errors } } },
    async (request) => {
      const account = keyOf(requireCaller(request), 'propose');
      const r = await actions.propose(chain, { account, actions: request.body.actions, description: request.body.description });
      await s.waitForIndex(r.blockNumber);
      return json({ proposalId: r.proposalId, voteStart: r.voteStart, voteEnd: r.voteEnd, txHash: r.txHash, blockNumber: r.blockNumber });
    },
  );

  app.post<{ Params: { id: string }; Body: { support: 'for' | 'against' | 'abstain'; reason?: string } }>(
    '/v1/governance/proposals/:id/votes',
    {
      schema: {
        tags,
        summary: 'Vote (signed with your dev-keyring key); weight = your delegated OPEN at the proposal snapshot',
        security: [{ bearer: [] }],
        params: idParams,
        body: {
          type: 'object',
          required: ['support'],
          additionalProperties: false,
          properties: { support: { type: 'string', enum: ['for', 'against', 'abstain'] }, reason: { type: 'string', maxLength: 2_000 } },
        },
        response: { 200: obj, ...errors },
      },
    },
    async (request) => {
      const account = keyOf(requireCaller(request), 'vote');
      const r = await actions.castVote(chain, { account, proposalId: proposalId(request.params.id), support: request.body.support, reason: request.body.reason });
      await s.waitForIndex(r.blockNumber);
      return json({ weight: r.weight, txHash: r.txHash, blockNumber: r.blockNumber });
    },
  );

  for (const step of ['queue', 'execute'] as const) {
    app.post<{ Params: { id: string } }>(
      `/v1/governance/proposals/:id/${step}`,
      {
        schema: {
          tags,
          summary: step === 'queue' ? 'Queue a succeeded proposal in the timelock (anyone; the node relays)' : 'Execute a queued proposal after the timelock delay (anyone; the node relays)',
          params: idParams,
          response: { 200: obj, ...errors },
        },
      },
      async (request) => {
        const id = proposalId(request.params.id);
        const r = step === 'queue' ? await actions.queueProposal(chain, { proposalId: id }) : await actions.executeProposal(chain, { proposalId: id });
        await s.waitForIndex(r.blockNumber);
        return json({ ...(await actions.getProposal(chain, { proposalId: id })), txHash: r.txHash });
      },
    );
  }

  app.post<{ Body: { delegatee?: string } | undefined }>(
    '/v1/governance/delegate',
    {
      schema: {
        tags,
        summary: 'Delegate your OPEN votes (to yourself by default); votes count only once delegated',
        security: [{ bearer: [] }],
        body: { type: 'object', additionalProperties: false, properties: { delegatee: { type: 'string' } } },
        response: { 200: obj, ...errors },
      },
    },
    async (request) => {
      const caller = requireCaller(request);
      const account = keyOf(caller, 'delegate');
      const d = request.body?.delegatee;
      if (d !== undefined && !isAddress(d, { strict: false })) throw invalid('delegatee must be an address', { param: 'delegatee', code: 'invalid_address', hint: '0x followed by 40 hex digits' });
      const r = await actions.delegateVotes(chain, { account, delegatee: d ? getAddress(d) : caller });
      return json({ txHash: r.txHash, votes: await actions.votesOf(chain, { owner: d ? getAddress(d) : caller }) });
    },
  );
}
