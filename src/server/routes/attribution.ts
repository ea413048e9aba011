/**
 * Proof of Attribution over HTTP (src/attribution does the work):
 *
 *   GET  /v1/inferences/:id/attribution        the record (200), or its state while queued / running (202)
 *   POST /v1/inferences/:id/attribution        attribute now (an old inference, or one the backlog
 *                                              dropped): front of the queue, waits up to ?wait=s (≤ 60)
 *   GET  /v1/attribution/contributors/:address reputation: positive vs negative influence, validator outcomes
 *   GET  /v1/attribution/flags                 rows flagged for consistently negative influence (they stop earning)
 *   GET  /v1/attribution/queue                 queue counters
 *
 * Records are visible to the inference's caller and the model's owner (the prompt is theirs);
 * anyone else gets 404, as for an unknown id. Reputation and flags are public.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isAddress } from 'viem';
import { AttributionQueue, createWeightSource, parseAttributionConfig, reputation, setAttributionQueue, type WeightSource } from '../../attribution/index.ts';
import { FactoryRepo } from '../../factory/repo.ts';
import { getVersion } from '../../datanets/chain-facts.ts';
import { verifyRowProof } from '../../datanets/merkle.ts';
import { invalid, notFound } from '../../util/errors.ts';
import { requireCaller, type NodeServices } from '../context.ts';

const tags = ['attribution'];
const err = { $ref: 'Error#' };
const obj = { type: 'object', additionalProperties: true } as const;
interface RowWithProof { datanetId: number; version: number; proof: { leaf: unknown; proof: unknown; verifiedOnChain?: boolean } | null }
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } } as const;

/** The node's attribution queue, created once and kept in `services.modules.attribution`. */
export function attributionModule(s: NodeServices): AttributionQueue {
  let q = s.modules.attribution as AttributionQueue | undefined;
  if (!q) {
    const serving = () => s.modules.serving as { stats(): { running: number; waiting: number } } | undefined;
    q = new AttributionQueue({
      db: s.store.db, dataDir: s.config.dataDir, config: parseAttributionConfig((s.config as { attribution?: unknown }).attribution ?? {}), log: (m) => console.error(m),
      busy: () => { const st = serving()?.stats(); return !!st && st.running + st.waiting > 0; },
    });
    s.modules.attribution = q;
  }
  return q;
}

export async function attributionRoutes(app: FastifyInstance, s: NodeServices) {
  const queue = attributionModule(s);
  setAttributionQueue(queue);
  queue.start();
  // The fee split divides each inference's contributor share by these weights (rewards registers first).
  const rewards = s.modules.rewards as { setWeightSource?(w: WeightSource | null): void } | undefined;
  rewards?.setWeightSource?.(createWeightSource(s.store.db));
  app.addHook('onClose', async () => {
    rewards?.setWeightSource?.(null);
    setAttributionQueue(null);
    await queue.close();
    if (s.modules.attribution === queue) delete s.modules.attribution;
  });
  const factory = new FactoryRepo(s.store.db);

  /** The inference, if the caller may see it (its caller or the model's owner); otherwise 404. */
  const visible = (request: FastifyRequest, id: string) => {
    const caller = requireCaller(request).toLowerCase();
    const inf = queue.repo.inference(id);
    const owner = inf?.fineTunedModel ? factory.model(inf.fineTunedModel)?.owner?.toLowerCase() : undefined;
    if (!inf || (inf.caller?.toLowerCase() !== caller && owner !== caller)) {
      throw notFound(`no inference ${id} you can see on this node`, { param: 'id', code: 'inference_not_found', hint: 'use the `id` of a completion you made (or of your model); attribution records are kept for completions this node answered' });
    }
    return inf;
  };

  /** The record, with every proof checked again against the root DatanetRegistry holds now. */
  const view = async (id: string) => {
    const rec = queue.repo.record(id);
    if (rec) {
      const r = rec.record as { datanetVersions: Array<{ datanetId: number; version: number; onChainRoot?: string | null }>; topRows: Array<RowWithProof>; negativeRows: Array<RowWithProof> };
      const roots = new Map<string, string | null>();
      for (const v of r.datanetVersions) {
        let root: string | null = null;
        try { root = (await getVersion(s.chain, BigInt(v.datanetId), BigInt(v.version))).merkleRoot; } catch { root = null; }
        roots.set(`${v.datanetId}:${v.version}`, root);
        v.onChainRoot = root;
      }
      for (const row of [...r.topRows, ...r.negativeRows]) {
        if (!row.proof) continue;
        const root = roots.get(`${row.datanetId}:${row.version}`);
        row.proof.verifiedOnChain = root ? verifyRowProof(root as `0x${string}`, row.proof.leaf as never, row.proof.proof as never) : false;
      }
      return { status: 'done', ...rec.record };
    }
    const e = queue.repo.entry(id);
    return { object: 'attribution', inferenceId: id, status: e?.status ?? 'not_queued', attempts: e?.attempts ?? 0, error: e?.error ?? null, hint: e ? undefined : 'POST to this URL to attribute it now' };
  };

  app.get<{ Params: { id: string } }>('/v1/inferences/:id/attribution', {
    schema: { tags, summary: "An answer's attribution record: top rows with scores and Merkle proofs, contributor weights, method", security: [{ bearer: [] }], params: idParams, response: { 200: obj, 202: obj, 401: err, 404: err } },
  }, async (request, reply) => {
    visible(request, request.params.id);
    const v = await view(request.params.id);
    if (v.status !== 'done' && v.status !== 'failed') reply.status(202);
    return v;
  });

  app.post<{ Params: { id: string }; Querystring: { wait?: number } }>('/v1/inferences/:id/attribution', {
    schema: {
      tags, summary: 'Attribute an inference now (front of the queue) and wait for the record', security: [{ bearer: [] }], params: idParams,
      querystring: { type: 'object', properties: { wait: { type: 'number' } } }, response: { 200: obj, 202: obj, 400: err, 401: err, 404: err },
    },
  }, async (request, reply) => {
    const wait = request.query.wait ?? 30;
    if (!(Number.isFinite(wait) && wait >= 0 && wait <= 60)) throw invalid(`wait must be 0…60 seconds, got ${wait}`, { param: 'wait', code: 'invalid_wait', hint: 'use ?wait=30' });
    visible(request, request.params.id);
    const st = await queue.attributeNow(request.params.id, wait * 1000);
    if (st === 'pending') reply.status(202);
    return view(request.params.id);
  });

  app.get<{ Params: { address: string } }>('/v1/attribution/contributors/:address', {
    schema: { tags, summary: "A contributor's reputation: share of positive influence, validator outcomes, flagged rows", params: { type: 'object', required: ['address'], properties: { address: { type: 'string', maxLength: 42 } } }, response: { 200: obj, 400: err } },
  }, async (request) => {
    const a = request.params.address;
    if (!isAddress(a, { strict: false })) throw invalid(`not an address: ${a}`, { param: 'address', code: 'invalid_address', hint: 'use a 0x… address of 40 hex digits' });
    const r = reputation(s.store.db, a);
    return { object: 'attribution.reputation', ...r, flaggedRows: queue.repo.flaggedRows({ contributor: a }, 100) };
  });

  app.get<{ Querystring: { datanet?: number; contributor?: string; limit?: number } }>('/v1/attribution/flags', {
    schema: {
      tags, summary: 'Rows flagged for consistently negative influence (excluded from payouts)',
      querystring: { type: 'object', properties: { datanet: { type: 'integer', minimum: 1 }, contributor: { type: 'string', maxLength: 42 }, limit: { type: 'integer', minimum: 1, maximum: 500 } } },
      response: { 200: obj, 400: err },
    },
  }, async (request) => {
    const { datanet, contributor, limit } = request.query;
    if (contributor !== undefined && !isAddress(contributor, { strict: false })) throw invalid(`not an address: ${contributor}`, { param: 'contributor', code: 'invalid_address' });
    return { object: 'list', data: queue.repo.flaggedRows({ datanetId: datanet, contributor }, limit ?? 100) };
  });

  app.get('/v1/attribution/queue', {
    schema: { tags, summary: 'Attribution queue: queued, running, done, failed', response: { 200: obj } },
  }, async () => queue.stats());
}
