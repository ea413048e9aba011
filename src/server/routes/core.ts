/** Liveness and node status. */
import type { FastifyInstance } from 'fastify';
import type { NodeServices } from '../context.ts';
import type { ModelServer } from '../../serving/index.ts';
import { kernelStatus } from '../../engine/index.ts';

export async function coreRoutes(app: FastifyInstance, s: NodeServices) {
  app.get('/health', { schema: { tags: ['node'], summary: 'Liveness', response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));

  app.get(
    '/v1/status',
    {
      schema: {
        tags: ['node'],
        summary: 'Chain id, block number, contract addresses, node version',
        response: {
          200: {
            type: 'object',
            properties: {
              version: { type: 'string' },
              chainId: { type: 'integer' },
              embeddedChain: { type: 'boolean' },
              rpcUrl: { type: 'string' },
              blockNumber: { type: 'string' },
              indexedBlock: { type: ['string', 'null'] },
              contracts: { type: 'object', additionalProperties: { type: 'string' } },
              operator: { type: 'string' },
              serving: { type: ['object', 'null'], additionalProperties: true, description: 'running / waiting sequences, engine steps and tokens over all base models (details: GET /v1/serving/stats)' },
              engine: {
                type: 'object',
                additionalProperties: true,
                description: "the engine's kernel path from its start-up probe (relaxed-simd, simd128 or reference), the Node/V8 version, and why relaxed SIMD is off (null when on)",
              },
            },
          },
        },
      },
    },
    async () => {
      const blockNumber = await s.chain.publicClient.getBlockNumber();
      const cursor = s.store.chainIndex.cursor();
      const { contracts } = s.chain.addresses;
      return {
        version: s.version,
        chainId: s.chain.chainId,
        embeddedChain: s.chain.embedded,
        rpcUrl: s.chain.publicRpcUrl,
        blockNumber: blockNumber.toString(),
        indexedBlock: cursor ? cursor.blockNumber.toString() : null,
        contracts: Object.fromEntries(Object.entries(contracts).map(([k, v]) => [k, String(v)])),
        operator: s.chain.operator.address,
        serving: servingSummary(s.modules.serving as ModelServer | undefined),
        engine: kernelStatus(),
      };
    },
  );
}

function servingSummary(m: ModelServer | undefined) {
  if (!m) return null;
  const { running, waiting, steps, tokens, generatedTokens, bases } = m.stats();
  return { running, waiting, steps, tokens, generatedTokens, loadedModels: bases.map((b) => b.base) };
}
