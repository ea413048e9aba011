/**
 * The studio (web/, built by scripts/build-web.mjs into build/studio/, read once when the node
 * starts: restart it after a rebuild) served at `/`, and the one
 * dev-only route the browser needs to act as a dev-keyring account.
 *
 *   GET /                      index.html (no-cache: it names the current hashed assets)
 *   GET /assets/<hashed file>  JS/CSS/images (cached for a year, immutable: the name is the hash)
 *   GET /datanets…, /factory…, /playground, /models…, /wallet, /signin
 *                              the same index.html (client-side routes; a reload keeps the page)
 *   POST /v1/dev/sign          embedded chain only, browsers on this machine only: sign a SIWE
 *                              message, a datanet Contribution, an EIP-2612 Permit of OpenToken to
 *                              InferenceEscrow or an escrow SpendAuthorization (EIP-712), or an
 *                              InferenceEscrow payer transaction (for POST /v1/escrow/transactions),
 *                              all for this node's chain and contracts, with a dev-keyring account
 *                              (never the operator, never the mnemonic);
 *   GET /v1/studio/permit/:address  what a browser needs to build an EIP-2612 Permit for the escrow
 *                              (token name, version, the owner's permit nonce, spender, chain id);
 *                              403 `dev_signing_unavailable` on external chains, `dev_signing_local_only`
 *                              from other hosts
 *
 * The asset table is read once at start-up from the build folder: a request names a file from
 * that table or gets a 404, so no request text ever becomes a path. Only the client routes listed
 * here fall back to index.html: /v1, /health, /docs and /openapi.json keep their JSON answers and
 * their JSON 404s.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeFunctionData, getAddress, isAddress, isHex, type Hex, type TypedDataDefinition } from 'viem';
import { artifacts } from '../../chain/index.ts';
import { parseSiweMessage } from 'viem/siwe';
import { OpenLedgerError, invalid, notFound } from '../../util/errors.ts';
import type { NodeServices } from '../context.ts';
import { nodeOrigins } from '../../config/index.ts';

/** build/studio at the repository root (two levels above src/server/routes). */
export const STUDIO_DIR = fileURLToPath(new URL('../../../build/studio/', import.meta.url));

/** Client-side routes of the studio (web/src/router.ts): each answers with index.html. */
export const CLIENT_ROUTES = ['/datanets', '/datanets/*', '/factory', '/factory/*', '/playground', '/models', '/models/*', '/wallet', '/signin'];

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};
const ASSET_NAME = /^[A-Za-z0-9._-]{1,200}$/;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** Vite's inline module preload polyfill is off (build.modulePreload.polyfill: false), so no inline script needs allowing. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

interface Built {
  index: Buffer;
  assets: Map<string, { body: Buffer; type: string }>;
}

function loadBuild(dir: string): Built | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, { body: Buffer; type: string }>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const p = join(assetDir, name);
      if (!ASSET_NAME.test(name) || !statSync(p).isFile()) continue;
      assets.set(name, { body: readFileSync(p), type: TYPES[extname(name)] ?? 'application/octet-stream' });
    }
  }
  return { index: readFileSync(indexPath), assets };
}

/** InferenceEscrow calls a payer makes (as POST /v1/escrow/transactions relays them). */
const PAYER_CALLS = new Set(['deposit', 'depositWithPermit', 'requestWithdrawal', 'cancelWithdrawal', 'withdraw', 'approveSpend']);

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>OpenLedger studio</title></head>
<body><main><h1>The studio is not built</h1><p>Run <code>npm run build</code> (or <code>npm start</code>, which builds first) and reload.
The API is at <a href="/docs">/docs</a>.</p></main></body></html>`;

export interface StudioOptions {
  /** Folder of the production build (default build/studio). */
  dir?: string;
}

export async function studioRoutes(app: FastifyInstance, s: NodeServices, opts: StudioOptions = {}) {
  const built = loadBuild(opts.dir ?? STUDIO_DIR);

  const sendIndex = (reply: FastifyReply) => {
    reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8');
    return reply.send(built ? built.index : NOT_BUILT);
  };
  const hidden = { schema: { hide: true } };
  app.get('/', hidden, async (_req, reply) => sendIndex(reply));
  for (const route of CLIENT_ROUTES) app.get(route, hidden, async (_req, reply) => sendIndex(reply));

  app.get<{ Params: { name: string } }>('/assets/:name', hidden, async (request, reply) => {
    const a = ASSET_NAME.test(request.params.name) ? built?.assets.get(request.params.name) : undefined;
    if (!a) throw notFound(`no studio asset ${request.params.name}`, { code: 'asset_not_found', hint: 'the studio asks only for the files its index.html names; after rebuilding it, restart the node and reload the page' });
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff').type(a.type);
    return reply.send(a.body);
  });

  app.post<{ Body: { account: string; message?: string; typedData?: Record<string, unknown>; transaction?: { to: string; data: string } } }>(
    '/v1/dev/sign',
    {
      schema: {
        tags: ['auth'],
        summary: 'Embedded chain, callers on this machine only: sign a SIWE message or a datanet Contribution with a dev-keyring account (the studio\'s dev accounts)',
        description: 'Exactly one of `message` (a SIWE message for this chain naming `account`), `typedData` (domain.chainId = this chain: a Contribution by `account` to this node\'s DatanetRegistry, an EIP-2612 Permit by `account` of this node\'s OpenToken with spender = its InferenceEscrow, or a SpendAuthorization by `account` for its InferenceEscrow) or `transaction` ({to: this node\'s InferenceEscrow, data: a payer call — deposit, depositWithPermit, requestWithdrawal, cancelWithdrawal, withdraw, approveSpend}; answered as `signed_transaction` for POST /v1/escrow/transactions). The operator account, other chains, contracts, typed data and callers not on loopback are refused.',
        body: {
          type: 'object',
          required: ['account'],
          properties: { account: { type: 'string', maxLength: 42 }, message: { type: 'string', maxLength: 4096 }, typedData: { type: 'object', additionalProperties: true }, transaction: { type: 'object', additionalProperties: false, required: ['to', 'data'], properties: { to: { type: 'string', maxLength: 42 }, data: { type: 'string', maxLength: 4096 } } } },
        },
        response: { 200: { type: 'object', properties: { signature: { type: 'string' }, signed_transaction: { type: 'string' } } }, 400: { $ref: 'Error#' }, 403: { $ref: 'Error#' } },
      },
    },
    async (request) => {
      if (!s.keyring || !s.chain.embedded) {
        throw new OpenLedgerError('dev accounts exist only on a node running the embedded chain', {
          type: 'permission_error',
          code: 'dev_signing_unavailable',
          hint: 'connect a browser wallet (EIP-1193, e.g. MetaMask) and sign with it',
        });
      }
      // The dev accounts belong to whoever runs the node: a node listening on a LAN address does
      // not lend them to other machines (the CLI reads the keyring from the data dir the same way).
      if (!LOOPBACK.has(request.ip)) {
        throw new OpenLedgerError('dev accounts sign only for browsers on the node\'s own machine', {
          type: 'permission_error',
          code: 'dev_signing_local_only',
          hint: 'open the studio on the machine that runs the node (http://127.0.0.1:<port>/), or sign in with a browser wallet',
        });
      }
      // A web page on this machine reaches 127.0.0.1 too: only the node's own origins may ask (a
      // cross-site page sends its Origin; a DNS-rebound one sends a foreign Host).
      const origins = nodeOrigins(s.config);
      const origin = request.headers.origin;
      const host = request.headers.host;
      if ((origin !== undefined && !origins.includes(origin)) || !host || !origins.some((o) => new URL(o).host === host)) {
        throw new OpenLedgerError('dev accounts sign only for pages served by this node', {
          type: 'permission_error',
          code: 'dev_signing_wrong_origin',
          hint: `open the studio at ${origins[0]}/ (or start the node with --origin <the URL you use>)`,
        });
      }
      const { account: address, message, typedData, transaction } = request.body;
      if (!isAddress(address, { strict: false })) throw invalid(`"${address}" is not an address`, { param: 'account', code: 'invalid_address', hint: 'pick one of the dev accounts (GET /v1/accounts, role "dev")' });
      const account = s.keyring.accounts.find((a) => a.address === getAddress(address));
      if (!account) {
        throw new OpenLedgerError(`${address} is not a dev account of this node`, {
          type: 'permission_error',
          param: 'account',
          code: 'not_a_dev_account',
          hint: 'pick one of the dev accounts (GET /v1/accounts, role "dev"); the operator never signs for the browser',
        });
      }
      if ([message, typedData, transaction].filter((x) => x !== undefined).length !== 1) {
        throw invalid('send exactly one of `message`, `typedData` or `transaction`', { param: 'message', code: 'invalid_request', hint: 'a SIWE message from POST /v1/auth/nonce, the typed data from /contributions/prepare (or a Permit / SpendAuthorization for the escrow), or an InferenceEscrow call' });
      }
      const escrow = s.chain.addresses.contracts.InferenceEscrow;
      if (transaction !== undefined) {
        if (!isAddress(transaction.to, { strict: false }) || getAddress(transaction.to) !== getAddress(escrow)) {
          throw invalid(`dev accounts sign transactions only to this node's InferenceEscrow (${escrow})`, { param: 'transaction.to', code: 'transaction_not_allowed', hint: 'sign escrow calls only; the node relays them with POST /v1/escrow/transactions' });
        }
        let fn: string;
        try {
          if (!isHex(transaction.data)) throw new Error('not hex');
          fn = decodeFunctionData({ abi: artifacts.InferenceEscrow.abi, data: transaction.data as Hex }).functionName as string;
        } catch {
          throw invalid('transaction.data is not an InferenceEscrow call', { param: 'transaction.data', code: 'unknown_function', hint: 'encode one of the payer calls with the InferenceEscrow ABI' });
        }
        if (!PAYER_CALLS.has(fn)) throw invalid(`${fn} is not a payer's escrow call`, { param: 'transaction.data', code: 'transaction_not_allowed', hint: `dev accounts sign: ${[...PAYER_CALLS].join(', ')}` });
        const client = s.chain.publicClient;
        const [nonce, fees, gas] = await Promise.all([
          client.getTransactionCount({ address: account.address, blockTag: 'pending' }),
          client.estimateFeesPerGas(),
          client.estimateGas({ account: account.address, to: escrow, data: transaction.data as Hex }).catch(() => 500_000n),
        ]);
        const signed = await account.signTransaction({ chainId: s.chain.chainId, type: 'eip1559', to: escrow, data: transaction.data as Hex, nonce, gas: (gas * 12n) / 10n, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas, value: 0n });
        return { signed_transaction: signed };
      }
      if (message !== undefined) {
        let fields: ReturnType<typeof parseSiweMessage> = {};
        try {
          fields = parseSiweMessage(message);
        } catch {
          fields = {};
        }
        if (fields.chainId !== s.chain.chainId || !fields.address || getAddress(fields.address) !== account.address) {
          throw invalid(`dev accounts sign only SIWE messages for this node's chain (${s.chain.chainId}) that name the signing account`, { param: 'message', code: 'not_siwe_for_this_chain', hint: 'build the message with createSiweMessage, the chainId from POST /v1/auth/nonce and the account as address' });
        }
        return { signature: await account.signMessage({ message }) };
      }
      const td = typedData as unknown as TypedDataDefinition & { domain?: { chainId?: number | string; verifyingContract?: string; name?: string }; message?: { contributor?: string } };
      if (Number(td.domain?.chainId) !== s.chain.chainId) {
        throw invalid(`dev accounts sign only typed data for this node's chain (${s.chain.chainId})`, { param: 'typedData.domain.chainId', code: 'wrong_chain', hint: 'use the typed data the node returned (e.g. /contributions/prepare)' });
      }
      // Only what the studio needs: a datanet Contribution by this account to this node's registry,
      // a Permit of this node's OpenToken to its escrow, a SpendAuthorization for its escrow.
      const registry = s.chain.addresses.contracts.DatanetRegistry;
      const token = s.chain.addresses.contracts.OpenToken;
      const m = (td.message ?? {}) as Record<string, unknown>;
      const vc = typeof td.domain?.verifyingContract === 'string' ? td.domain.verifyingContract.toLowerCase() : '';
      const mine = (v: unknown) => typeof v === 'string' && v.toLowerCase() === account.address.toLowerCase();
      const escrowTyped =
        (td.primaryType === 'Permit' && vc === token.toLowerCase() && mine(m.owner) && typeof m.spender === 'string' && m.spender.toLowerCase() === escrow.toLowerCase()) ||
        (td.primaryType === 'SpendAuthorization' && td.domain?.name === 'OpenLedger InferenceEscrow' && vc === escrow.toLowerCase() && mine(m.payer));
      const contributor = td.message?.contributor;
      if (escrowTyped) {
        // allowed: falls through to signing
      } else if (
        td.primaryType !== 'Contribution' ||
        td.domain?.name !== 'OpenLedger' ||
        typeof td.domain?.verifyingContract !== 'string' ||
        td.domain.verifyingContract.toLowerCase() !== registry.toLowerCase() ||
        typeof contributor !== 'string' ||
        contributor.toLowerCase() !== account.address.toLowerCase()
      ) {
        throw invalid('dev accounts sign only, by themselves: datanet Contributions to this node\'s DatanetRegistry, Permits of its OpenToken to its InferenceEscrow, and SpendAuthorizations for its InferenceEscrow', { param: 'typedData', code: 'typed_data_not_allowed', hint: 'sign the typed data returned by POST /v1/datanets/:id/contributions/prepare, or an escrow Permit / SpendAuthorization for this account' });
      }
      const { EIP712Domain: _omit, ...types } = (td.types ?? {}) as Record<string, unknown>;
      try {
        return { signature: await account.signTypedData({ ...td, types } as TypedDataDefinition) };
      } catch (e) {
        throw invalid(`typed data could not be signed: ${(e as Error).message.split('\n')[0]}`, { param: 'typedData', code: 'invalid_typed_data', hint: 'send {domain, types, primaryType, message} as eth_signTypedData_v4 takes it' });
      }
    },
  );

  app.get<{ Params: { address: string } }>('/v1/studio/permit/:address', {
    schema: {
      tags: ['escrow'],
      summary: "What a browser needs to build an EIP-2612 Permit of OpenToken to InferenceEscrow for an owner: token name, version, the owner's permit nonce, spender, chain id",
      params: { type: 'object', required: ['address'], properties: { address: { type: 'string', maxLength: 42 } } },
      response: { 200: { type: 'object', additionalProperties: true }, 400: { $ref: 'Error#' } },
    },
  }, async (request) => {
    const a = request.params.address;
    if (!isAddress(a, { strict: false })) throw invalid(`"${a}" is not an address`, { param: 'address', code: 'invalid_address', hint: 'a 0x-prefixed 20-byte hex address' });
    const token = s.chain.addresses.contracts.OpenToken;
    const read = (functionName: string, args: unknown[] = []) => s.chain.publicClient.readContract({ address: token, abi: artifacts.OpenToken.abi, functionName, args, blockTag: 'latest' } as never);
    const [name, nonce] = await Promise.all([read('name'), read('nonces', [getAddress(a)])]);
    return { owner: getAddress(a), token, spender: s.chain.addresses.contracts.InferenceEscrow, chain_id: s.chain.chainId, name: String(name), version: '1', nonce: String(nonce) };
  });
}
