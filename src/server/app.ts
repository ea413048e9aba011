/**
 * The Fastify app. Tests build it with `buildApp(services)` and call it in process with `inject`;
 * `startServer` listens on the configured port. All routes live in `routes/*.ts`, registered from
 * `routes/index.ts`; every error goes through `errors.ts`.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { NodeServices } from './context.ts';
import { errorHandler, errorSchema } from './errors.ts';
import { registerRoutes } from './routes/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { RELAYED_ROUTES, SlidingWindow, rateLimited } from './limits.ts';

export interface AppOptions {
  logger?: boolean | { level: string };
  /** Max request body in bytes (uploads have their own limits per route). */
  bodyLimit?: number;
}

export async function buildApp(services: NodeServices, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? 8 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // URL errors the router raises before any route runs (a 414 for an over-long path segment, a
    // 400 for bad percent-encoding) in the API's error shape, without echoing the URL back.
    frameworkErrors: (err, _request, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      (reply as unknown as { status(s: number): { send(b: unknown): void } }).status(status).send({
        error: status === 414
          ? { message: 'a path segment is longer than 100 characters', type: 'invalid_request_error', param: null, code: 'uri_too_long', hint: 'ids and names in URLs are short: check the URL' }
          : { message: 'the URL is not valid (bad percent-encoding?)', type: 'invalid_request_error', param: null, code: 'bad_url', hint: 'percent-encode path segments (encodeURIComponent)' },
      });
    },
    // Every response carries x-request-id: the caller's own (a safe token, ≤ 128 characters) or a new one.
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(h) ? h : `req_${randomBytes(12).toString('hex')}`;
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({
      error: { message: `no route ${request.method} ${request.url.split('?')[0]}`, type: 'not_found_error', param: null, code: 'route_not_found', hint: 'see /docs for the routes' },
    });
  });
  app.addSchema(errorSchema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenLedger node API',
        version: services.version,
        description:
          'Datanets, Model Factory, OpenLoRA serving and Proof of Attribution on an EVM ledger. ' +
          'Authenticate with `Authorization: Bearer <token>`: a session token from SIWE sign-in (POST /v1/auth/siwe) or an API key.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Authentication: resolve the bearer credential once per request; routes decide if they need it.
  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (request) => {
    const h = request.headers.authorization;
    if (!h) return;
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const caller = m ? services.auth.authenticate(m[1]) : null;
    if (!caller) {
      throw new OpenLedgerError('invalid or expired credentials', {
        type: 'authentication_error',
        code: 'invalid_token',
        hint: 'sign in again (POST /v1/auth/siwe) or use a valid API key',
      });
    }
    (request as typeof request & { caller: string }).caller = caller;
  });

  // Relay budget: routes whose transaction the operator pays for count against the caller.
  const budget = services.config.relayBudget ?? { maxTransactions: 100, windowSeconds: 3600 };
  const relay = new SlidingWindow(budget.maxTransactions, budget.windowSeconds * 1000);
  app.addHook('preHandler', async (request) => {
    const caller = (request as typeof request & { caller?: string | null }).caller;
    if (!caller || !RELAYED_ROUTES.has(`${request.method} ${request.routeOptions.url}`)) return;
    const wait = relay.take(caller.toLowerCase());
    if (wait === 0) (request as typeof request & { relayed?: string }).relayed = caller.toLowerCase();
    if (wait > 0) {
      throw rateLimited(
        `${caller} has used its relay budget: ${relay.max} on-chain actions the node pays gas for per ${budget.windowSeconds} s`,
        wait, 'relay_budget_exhausted', `retry in ${wait} s; the operator sets the budget with --relay-budget / --relay-window`,
      );
    }
  });

  // Refused requests sent no transaction: they do not use the budget.
  app.addHook('onResponse', async (request, reply) => {
    const key = (request as typeof request & { relayed?: string }).relayed;
    if (key && reply.statusCode >= 400) relay.refund(key);
  });

  await registerRoutes(app, services);
  return app;
}
