/** Accounts and the chain event index. Balances read at the chain's money tag (finalized on real chains). */
import type { FastifyInstance } from 'fastify';
import { formatUnits, getAddress, isAddress } from 'viem';
import { actions } from '../../chain/index.ts';
import type { Hex } from '../../store/index.ts';
import { invalid } from '../../util/errors.ts';
import type { NodeServices } from '../context.ts';

const err = { $ref: 'Error#' };
const account = {
  type: 'object',
  properties: {
    address: { type: 'string' },
    role: { type: 'string' },
    open: { type: 'string', description: 'OPEN balance in wei' },
    openFormatted: { type: 'string' },
    native: { type: 'string', description: 'native gas token balance in wei' },
  },
};

export async function chainRoutes(app: FastifyInstance, s: NodeServices) {
  async function balances(address: Hex, role: string) {
    const [open, native] = await Promise.all([
      actions.tokenBalance(s.chain, { owner: address }),
      s.chain.publicClient.getBalance({ address, blockTag: s.chain.moneyReadTag }),
    ]);
    return { address, role, open: open.toString(), openFormatted: formatUnits(open, 18), native: native.toString() };
  }

  app.get(
    '/v1/accounts',
    {
      schema: {
        tags: ['chain'],
        summary: "The node's role keys (operator, settler, rootSubmitter, slasher) and dev keyring accounts with OPEN and native balances",
        response: { 200: { type: 'object', properties: { data: { type: 'array', items: account } } } },
      },
    },
    async () => {
      const list: Array<[Hex, string]> = [[s.chain.operator.address, 'operator']];
      // The other role keys (settler, root submitter, slasher): their native balance is their gas.
      for (const role of ['settler', 'rootSubmitter', 'slasher'] as const) list.push([s.chain.roles[role].address, role]);
      for (const a of s.keyring?.accounts ?? []) list.push([a.address, 'dev']);
      return { data: await Promise.all(list.map(([a, r]) => balances(a, r))) };
    },
  );

  app.get<{ Params: { address: string } }>(
    '/v1/accounts/:address',
    {
      schema: {
        tags: ['chain'],
        summary: 'OPEN and native balance of any address',
        params: { type: 'object', properties: { address: { type: 'string' } }, required: ['address'] },
        response: { 200: account, 400: err },
      },
    },
    async (request) => {
      const a = request.params.address;
      if (!isAddress(a)) throw invalid(`"${a}" is not an Ethereum address`, { param: 'address', hint: 'use a 0x-prefixed 20-byte hex address' });
      return balances(getAddress(a) as Hex, s.keyring?.find(a) ? 'dev' : 'external');
    },
  );

  app.get<{ Querystring: { contract?: string; event?: string; fromBlock?: string; limit?: number; order?: 'asc' | 'desc' } }>(
    '/v1/chain/events',
    {
      schema: {
        tags: ['chain'],
        summary: 'Contract events from the node index (confirmed blocks only)',
        querystring: {
          type: 'object',
          properties: {
            contract: { type: 'string' },
            event: { type: 'string' },
            fromBlock: { type: 'string', pattern: '^[0-9]+$' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            order: { type: 'string', enum: ['asc', 'desc'], default: 'desc' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              data: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    blockNumber: { type: 'string' },
                    txHash: { type: 'string' },
                    logIndex: { type: 'integer' },
                    contract: { type: 'string' },
                    event: { type: 'string' },
                    address: { type: 'string' },
                    args: { type: 'object', additionalProperties: true },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const events = s.store.chainIndex.events({
        contract: q.contract,
        event: q.event,
        fromBlock: q.fromBlock ? BigInt(q.fromBlock) : undefined,
        limit: q.limit,
        desc: q.order !== 'asc',
      });
      return { data: events.map((e) => ({ ...e, blockNumber: e.blockNumber.toString() })) };
    },
  );
}
