/**
 * /v1/datanets: create, contribute (prepare → sign → upload), review, publish versions, proofs,
 * export, access grants and paid access. The work is in src/datanets/service.ts; this file maps
 * HTTP to it. Uploads are raw request bodies (`application/octet-stream` or a text/document type)
 * with `?filename=`, or JSON `{ rows: [...] }`; bodies above the upload limit are a 413 before
 * they are read to the end.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { getAddress, isAddress, type Address } from 'viem';
import { DatanetService, type ContributionSource } from '../../datanets/service.ts';
import { LocalBlobStore, type BlobStore, type Hex } from '../../da/index.ts';
import { invalid } from '../../util/errors.ts';
import { callerOf, requireCaller, type NodeServices } from '../context.ts';

const tags = ['datanets'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 403: err, 404: err, 409: err, 413: err, 429: err };
const obj = { type: 'object', additionalProperties: true } as const;
const list = { type: 'object', properties: { data: { type: 'array', items: obj } } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
const RAW_TYPES = [
  'application/octet-stream',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/x-ndjson',
  'application/jsonl',
  'application/pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
];

/** The node's datanet service, created once and kept in `services.modules.datanets`. */
export function datanetService(s: NodeServices): DatanetService {
  let svc = s.modules.datanets as DatanetService | undefined;
  if (!svc) {
    const blobs = (s.modules.da as BlobStore | undefined) ?? new LocalBlobStore({ dir: join(s.config.dataDir, 'blobs') });
    s.modules.da = blobs;
    svc = new DatanetService({ db: s.store.db, chain: s.chain, chainIndex: s.store.chainIndex, blobs, daKey: (s.modules.daKey as Uint8Array | undefined) ?? null });
    s.modules.datanets = svc;
  }
  return svc;
}

/** bigint → decimal string, for JSON. */
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));

const addr = (v: unknown, param: string): Address => {
  if (typeof v !== 'string' || !isAddress(v, { strict: false })) throw invalid(`${param} must be an address`, { param, code: 'invalid_address', hint: '0x followed by 40 hex digits' });
  return getAddress(v);
};

const uint = (v: unknown, param: string): bigint => {
  if ((typeof v === 'string' && /^\d{1,78}$/.test(v)) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) return BigInt(v);
  throw invalid(`${param} must be a non-negative integer`, { param, code: 'invalid_request', hint: `pass ${param} as a decimal string` });
};

/** The upload in a request: a raw body (file) or JSON `{ rows }`. */
function sourceOf(request: FastifyRequest<{ Querystring: { filename?: string } }>): { source: ContributionSource; fields: Record<string, unknown> } {
  const body = request.body as unknown;
  if (Buffer.isBuffer(body)) {
    const filename = request.query.filename;
    if (!filename) throw invalid('a file upload needs ?filename=<name.ext>', { param: 'filename', code: 'filename_required', hint: 'the extension picks the parser: .txt .md .jsonl .json .csv .pdf .docx' });
    return { source: { kind: 'file', bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), filename }, fields: request.query as Record<string, unknown> };
  }
  if (body && typeof body === 'object' && 'rows' in body) return { source: { kind: 'rows', rows: (body as { rows: unknown }).rows }, fields: body as Record<string, unknown> };
  throw invalid('send the file as the raw request body with ?filename=, or JSON {"rows": [...]}', { param: 'body', code: 'upload_missing', hint: 'e.g. curl --data-binary @rows.jsonl -H "content-type: application/octet-stream" ".../contributions?filename=rows.jsonl&…"' });
}

export async function datanetRoutes(app: FastifyInstance, s: NodeServices) {
  // The blob store is opened by startNode from the node config's `da` section (services.modules.da).
  const svc = datanetService(s);
  app.addHook('onClose', async () => {
    await svc.close();
    if (s.modules.datanets === svc) delete s.modules.datanets;
  });
  await app.register(async (r) => {
    r.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: svc.limits.maxUploadBytes }, (_req, body, done) => done(null, body));

    r.post<{ Body: Record<string, unknown> }>(
      '/v1/datanets',
      {
        schema: {
          tags,
          summary: 'Create a datanet (registered in DatanetRegistry, owned by the caller)',
          security: [{ bearer: [] }],
          body: {
            type: 'object',
            required: ['name', 'format'],
            properties: {
              name: { type: 'string', maxLength: 100 },
              summary: { type: 'string', maxLength: 500 },
              description: { type: 'string', description: 'markdown', maxLength: 50000 },
              tags: { type: 'array', items: { type: 'string' } },
              license: { type: 'string', description: 'SPDX id, e.g. CC-BY-4.0' },
              format: { type: 'string', enum: ['text', 'alpaca', 'sharegpt', 'labelled'] },
              labels: { type: 'array', items: { type: 'string' }, description: 'labelled format only' },
              policies: {
                type: 'object',
                properties: {
                  access: { type: 'object', description: '{kind: open} | {kind: approval} | {kind: paid, priceWei: "<wei>"}' },
                  validation: { type: 'object', description: '{kind: automatic} | {kind: validators, approvals: N, rejections?: M}' },
                  quota: { type: 'object', description: '{userBytesPerDay, userUploadsPerDay, datanetBytesPerDay}' },
                },
              },
            },
          },
          response: { 201: obj, ...errors },
        },
      },
      async (request, reply) => {
        const caller = requireCaller(request);
        reply.status(201);
        return json(await svc.create(caller, request.body as never));
      },
    );

    r.get<{ Querystring: { limit?: number; offset?: number; tag?: string; owner?: string } }>(
      '/v1/datanets',
      {
        schema: {
          tags,
          summary: 'List datanets',
          querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 200 }, offset: { type: 'integer', minimum: 0 }, tag: { type: 'string' }, owner: { type: 'string' } } },
          response: { 200: list },
        },
      },
      async (request) => json({ data: svc.list(request.query) }),
    );

    r.get<{ Params: { id: number } }>(
      '/v1/datanets/:id',
      { schema: { tags, summary: 'A datanet: metadata, policies, owner, latest version, row counts', params: idParams, response: { 200: obj, 404: err } } },
      async (request) => json(svc.get(request.params.id)),
    );

    r.post<{ Params: { id: number }; Body: { address: string } }>(
      '/v1/datanets/:id/validators',
      {
        schema: {
          tags,
          summary: 'Add a validator (owner; recorded on chain). Validators must also stake OPEN to review.',
          security: [{ bearer: [] }],
          params: idParams,
          body: { type: 'object', required: ['address'], properties: { address: { type: 'string' } } },
          response: { 200: obj, ...errors },
        },
      },
      async (request) => json(await svc.addValidator(request.params.id, requireCaller(request), addr(request.body.address, 'address'))),
    );

    r.post<{ Params: { id: number }; Body: { address: string } }>(
      '/v1/datanets/:id/access',
      {
        schema: {
          tags,
          summary: 'Grant an address access to an approval or paid datanet (owner; on chain)',
          security: [{ bearer: [] }],
          params: idParams,
          body: { type: 'object', required: ['address'], properties: { address: { type: 'string' } } },
          response: { 200: obj, ...errors },
        },
      },
      async (request) => json(await svc.grantAccess(request.params.id, requireCaller(request), addr(request.body.address, 'address'))),
    );

    r.delete<{ Params: { id: number; address: string } }>(
      '/v1/datanets/:id/access/:address',
      {
        schema: {
          tags,
          summary: 'Revoke a grant (owner; on chain)',
          security: [{ bearer: [] }],
          params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, address: { type: 'string' } } },
          response: { 200: obj, ...errors },
        },
      },
      async (request) => json(await svc.revokeAccess(request.params.id, requireCaller(request), addr(request.params.address, 'address'))),
    );

    r.post<{ Params: { id: number }; Body: { txHash?: Hex } | undefined }>(
      '/v1/datanets/:id/purchase',
      {
        schema: {
          tags,
          summary: 'Buy access to a paid datanet; the price is credited to contributors by accepted rows',
          description: 'Pass the txHash of your own DatanetRegistry.purchaseAccess call; for dev-keyring accounts the node makes the purchase itself.',
          security: [{ bearer: [] }],
          params: idParams,
          body: { type: 'object', properties: { txHash: { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } } },
          response: { 200: obj, ...errors },
        },
      },
      async (request) => {
        const caller = requireCaller(request);
        const account = s.keyring?.find(caller);
        return json(await svc.purchase(request.params.id, caller, { account: request.body?.txHash ? undefined : account, txHash: request.body?.txHash }));
      },
    );

    r.get<{ Params: { id: number } }>(
      '/v1/datanets/:id/credits',
      { schema: { tags, summary: 'Paid-access credits per contributor (wei)', params: idParams, response: { 200: list, 404: err } } },
      async (request) => json({ data: svc.credits(request.params.id) }),
    );

    const uploadQuery = {
      type: 'object',
      properties: {
        filename: { type: 'string', description: 'name of the uploaded file; its extension picks the parser' },
        nonce: { type: 'string', pattern: '^\\d+$' },
        deadline: { type: 'string', pattern: '^\\d+$' },
        signature: { type: 'string', pattern: '^0x[0-9a-fA-F]+$' },
      },
    };

    r.post<{ Params: { id: number }; Querystring: { filename?: string } }>(
      '/v1/datanets/:id/contributions/prepare',
      {
        schema: {
          tags,
          summary: 'Parse and check an upload: the report it would get (accepted / pending / rejected rows with reasons) and the EIP-712 Contribution to sign (stores nothing)',
          security: [{ bearer: [] }],
          params: idParams,
          querystring: uploadQuery,
          response: { 200: obj, ...errors },
        },
      },
      async (request) => {
        const caller = requireCaller(request);
        const { source } = sourceOf(request);
        return json(await svc.prepareContribution(request.params.id, caller, source));
      },
    );

    r.post<{ Params: { id: number }; Querystring: { filename?: string; nonce?: string; deadline?: string; signature?: string } }>(
      '/v1/datanets/:id/contributions',
      {
        schema: {
          tags,
          summary: 'Upload signed rows: validated, deduplicated and stored all-or-nothing; returns the report',
          description:
            'Body: the raw file with ?filename=&nonce=&deadline=&signature=, or JSON {rows, nonce, deadline, signature}. The signature is EIP-712 over ' +
            'Contribution{contributor, datanetId, rowsRoot, rowCount, nonce, deadline} as returned by /contributions/prepare.',
          security: [{ bearer: [] }],
          params: idParams,
          querystring: uploadQuery,
          response: { 201: obj, ...errors },
        },
      },
      async (request, reply) => {
        const caller = requireCaller(request);
        const { source, fields } = sourceOf(request);
        const signature = fields.signature;
        if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(signature)) {
          throw invalid('the upload needs its EIP-712 signature', { param: 'signature', code: 'signature_required', hint: 'get the typed data from /contributions/prepare, sign it, and pass signature, nonce and deadline' });
        }
        const report = await svc.contribute(request.params.id, {
          contributor: caller,
          source,
          nonce: uint(fields.nonce, 'nonce'),
          deadline: uint(fields.deadline, 'deadline'),
          signature: signature as Hex,
        });
        reply.status(201);
        return report; // no bigints in a report; skipping json()'s copy keeps a 100 000-row report off the event loop
      },
    );

    r.get<{ Params: { id: number; uploadId: number } }>(
      '/v1/datanets/:id/contributions/:uploadId',
      {
        schema: {
          tags,
          summary: 'An upload: its signature, DA blob and report (approval and paid datanets: its contributor and readers with access only)',
          params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, uploadId: { type: 'integer', minimum: 1 } } },
          response: { 200: obj, 401: err, 403: err, 404: err },
        },
      },
      async (request) => json(await svc.uploadFor(request.params.id, request.params.uploadId, callerOf(request))),
    );

    r.get<{ Params: { id: number }; Querystring: { status?: 'accepted' | 'pending' | 'rejected'; contributor?: string; limit?: number; after?: number } }>(
      '/v1/datanets/:id/rows',
      {
        schema: {
          tags,
          summary: 'Rows of a datanet (follows the access policy)',
          params: idParams,
          querystring: {
            type: 'object',
            properties: { status: { type: 'string', enum: ['accepted', 'pending', 'rejected'] }, contributor: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, after: { type: 'integer', minimum: 0 } },
          },
          response: { 200: list, 403: err, 404: err },
        },
      },
      async (request) => json({ data: await svc.rows(request.params.id, callerOf(request), { ...request.query, afterId: request.query.after }) }),
    );

    r.get<{ Params: { id: number; rowId: number } }>(
      '/v1/datanets/:id/rows/:rowId',
      {
        schema: {
          tags,
          summary: 'One row with its votes',
          params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, rowId: { type: 'integer', minimum: 1 } } },
          response: { 200: obj, 403: err, 404: err },
        },
      },
      async (request) => json(await svc.row(request.params.id, callerOf(request), request.params.rowId)),
    );

    r.post<{ Params: { id: number }; Body: { rows: number[]; decision: 'approve' | 'reject'; reason?: string } }>(
      '/v1/datanets/:id/reviews',
      {
        schema: {
          tags,
          summary: 'Approve or reject pending rows (a staked validator of the datanet)',
          security: [{ bearer: [] }],
          params: idParams,
          body: {
            type: 'object',
            required: ['rows', 'decision'],
            properties: { rows: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 1000 }, decision: { type: 'string', enum: ['approve', 'reject'] }, reason: { type: 'string', maxLength: 1000 } },
          },
          response: { 200: list, ...errors },
        },
      },
      async (request) => json({ data: await svc.review(request.params.id, requireCaller(request), request.body.rows, request.body.decision, request.body.reason ?? '') }),
    );

    r.get<{ Params: { id: number } }>(
      '/v1/datanets/:id/leaderboard',
      { schema: { tags, summary: 'Contributors by accepted rows and acceptance rate', params: idParams, response: { 200: list, 404: err } } },
      async (request) => json({ data: svc.leaderboard(request.params.id) }),
    );

    r.post<{ Params: { id: number } }>(
      '/v1/datanets/:id/versions',
      {
        schema: {
          tags,
          summary: 'Publish a version: Merkle root of accepted rows + snapshot in DA, committed on chain (owner)',
          security: [{ bearer: [] }],
          params: idParams,
          response: { 201: obj, ...errors },
        },
      },
      async (request, reply) => {
        const v = await svc.publish(request.params.id, requireCaller(request));
        reply.status(201);
        return json(v);
      },
    );

    r.get<{ Params: { id: number } }>(
      '/v1/datanets/:id/versions',
      { schema: { tags, summary: 'Published versions', params: idParams, response: { 200: list, 404: err } } },
      async (request) => json({ data: svc.versions(request.params.id) }),
    );

    const versionParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, version: { type: 'integer', minimum: 1 } } };
    r.get<{ Params: { id: number; version: number } }>(
      '/v1/datanets/:id/versions/:version',
      { schema: { tags, summary: 'One version', params: versionParams, response: { 200: obj, 404: err } } },
      async (request) => json(svc.versionView(request.params.id, request.params.version)),
    );

    r.get<{ Params: { id: number; version: number } }>(
      '/v1/datanets/:id/versions/:version/export',
      {
        schema: {
          tags,
          summary: "Training export: JSONL in the datanet's format, one row per line with its id and hash (follows the access policy)",
          params: versionParams,
          response: { 200: { type: 'string' }, 403: err, 404: err },
        },
      },
      async (request, reply) => {
        const body = await svc.exportVersion(request.params.id, request.params.version, callerOf(request));
        reply.header('content-type', 'application/x-ndjson; charset=utf-8');
        return body;
      },
    );

    r.get<{ Params: { id: number; version: number; rowId: number } }>(
      '/v1/datanets/:id/versions/:version/rows/:rowId/proof',
      {
        schema: {
          tags,
          summary: "A row's Merkle inclusion proof, checked against the root on chain",
          params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, version: { type: 'integer', minimum: 1 }, rowId: { type: 'integer', minimum: 1 } } },
          response: { 200: obj, 404: err },
        },
      },
      async (request) => json(await svc.proof(request.params.id, request.params.version, request.params.rowId)),
    );
  });
}
