/** What route modules receive: the running node's parts, typed. */
import type { FastifyRequest } from 'fastify';
import type { Auth, Keyring } from '../identity/index.ts';
import type { Store, Hex } from '../store/index.ts';
import type { NodeConfig } from '../config/index.ts';
import type { Chain } from '../chain/index.ts';
import { OpenLedgerError } from '../util/errors.ts';

export interface NodeServices {
  config: NodeConfig;
  version: string;
  store: Store;
  chain: Chain;
  auth: Auth;
  /** The dev keyring (embedded chain) — null when attached to an external chain. */
  keyring: Keyring | null;
  /** Resolves once the indexer has indexed the given block (read-your-writes for API calls). */
  waitForIndex(blockNumber: bigint): Promise<void>;
  /** Extension point: modules (datanets, factory, …) hang their services here by name. */
  modules: Record<string, unknown>;
}

/** The authenticated caller, or null. Set by the auth hook in app.ts. */
export function callerOf(request: FastifyRequest): Hex | null {
  return (request as FastifyRequest & { caller?: Hex | null }).caller ?? null;
}

/** The authenticated caller, or a 401 that says how to sign in. */
export function requireCaller(request: FastifyRequest): Hex {
  const c = callerOf(request);
  if (!c) {
    throw new OpenLedgerError('this route needs an authenticated caller', {
      type: 'authentication_error',
      code: 'unauthenticated',
      hint: 'send `Authorization: Bearer <token>` with a session token (POST /v1/auth/siwe) or an API key (POST /v1/api-keys)',
    });
  }
  return c;
}
