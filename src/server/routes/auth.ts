/** Sign-in with Ethereum (EIP-4361), sessions, API keys. */
import type { FastifyInstance } from 'fastify';
import type { Hex } from '../../store/index.ts';
import { requireCaller, type NodeServices } from '../context.ts';
import { SlidingWindow, rateLimited } from '../limits.ts';
import { invalid } from '../../util/errors.ts';
import { UNSAFE_NAME_MESSAGE, unsafeCharIn } from '../../util/text.ts';

const tags = ['auth'];
const err = { $ref: 'Error#' };

export async function authRoutes(app: FastifyInstance, s: NodeServices) {
  // SIWE nonces per client IP and minute: each one is a store row until it expires.
  const perMinute = s.config.authNoncesPerMinute ?? 60;
  const nonces = new SlidingWindow(perMinute, 60_000);
  app.post(
    '/v1/auth/nonce',
    {
      schema: {
        tags,
        summary: 'Get a single-use nonce for a SIWE message',
        response: { 200: { type: 'object', properties: { nonce: { type: 'string' }, expiresAt: { type: 'string' }, chainId: { type: 'integer' }, domain: { type: 'string' } } } },
      },
    },
    async (request) => {
      const wait = nonces.take(request.ip);
      if (wait > 0) {
        throw rateLimited(`too many sign-in nonces from ${request.ip}: at most ${perMinute} a minute`, wait, 'nonce_rate_limited', `retry in ${wait} s; a nonce stays valid for 10 minutes, so one per sign-in is enough`);
      }
      return { ...s.auth.issueNonce(), chainId: s.chain.chainId, domain: s.auth.domainFor(request.host) };
    },
  );

  app.post<{ Body: { message: string; signature: Hex } }>(
    '/v1/auth/siwe',
    {
      schema: {
        tags,
        summary: 'Sign in with a signed SIWE message; returns a session token',
        body: {
          type: 'object',
          required: ['message', 'signature'],
          properties: { message: { type: 'string', maxLength: 4096 }, signature: { type: 'string', pattern: '^0x[0-9a-fA-F]+$' } },
        },
        response: {
          200: { type: 'object', properties: { token: { type: 'string' }, address: { type: 'string' }, expiresAt: { type: 'string' } } },
          400: err,
          401: err,
        },
      },
    },
    async (request) => s.auth.signIn(request.body.message, request.body.signature),
  );

  app.get(
    '/v1/auth/session',
    {
      schema: { tags, summary: 'Who am I', security: [{ bearer: [] }], response: { 200: { type: 'object', properties: { address: { type: 'string' } } }, 401: err } },
    },
    async (request) => ({ address: requireCaller(request) }),
  );

  app.post(
    '/v1/auth/logout',
    { schema: { tags, summary: 'End this session', security: [{ bearer: [] }], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } },
    async (request) => {
      requireCaller(request);
      const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      if (token) s.auth.signOut(token);
      return { ok: true };
    },
  );

  const apiKey = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      prefix: { type: 'string' },
      address: { type: 'string' },
      createdAt: { type: 'integer' },
      lastUsedAt: { type: ['integer', 'null'] },
      revokedAt: { type: ['integer', 'null'] },
    },
  };

  app.post<{ Body: { name?: string } }>(
    '/v1/api-keys',
    {
      schema: {
        tags,
        summary: 'Issue an API key for the signed-in address (shown once)',
        security: [{ bearer: [] }],
        body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 100 } } },
        response: { 200: { type: 'object', properties: { key: { type: 'string' }, apiKey } }, 401: err },
      },
    },
    async (request) => {
      const name = request.body?.name ?? 'default';
      const bad = unsafeCharIn(name);
      if (bad) throw invalid(`name ${UNSAFE_NAME_MESSAGE} (found ${bad})`, { param: 'name', code: 'invalid_name', hint: 'use printable text without control or bidi characters' });
      return s.auth.issueApiKey(requireCaller(request), name);
    },
  );

  app.get(
    '/v1/api-keys',
    { schema: { tags, summary: 'List your API keys', security: [{ bearer: [] }], response: { 200: { type: 'object', properties: { data: { type: 'array', items: apiKey } } }, 401: err } } },
    async (request) => ({ data: s.auth.listApiKeys(requireCaller(request)) }),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/api-keys/:id',
    {
      schema: {
        tags,
        summary: 'Revoke one of your API keys',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, 401: err, 404: err },
      },
    },
    async (request) => {
      s.auth.revokeApiKey(requireCaller(request), request.params.id);
      return { ok: true };
    },
  );
}
