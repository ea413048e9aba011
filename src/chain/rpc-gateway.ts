/**
 * The embedded chain's public JSON-RPC endpoint (`--chain-port`, default 8545): what wallets and the
 * CLI talk to. Anvil itself listens on a port only the node uses; this gateway forwards to it what a
 * wallet needs and nothing that lets a web page (or any caller) move funds or rewrite state:
 *
 *   request ─▶ POST only ───────────────────────────── 405
 *           ─▶ Host is 127.0.0.1 / localhost / [::1] at our port ─ 403  (DNS rebinding)
 *           ─▶ Origin absent or in allowedOrigins ──── 403  (no CORS for foreign pages)
 *           ─▶ content-type application/json ───────── 415  (text/plain "simple" no-cors POSTs)
 *           ─▶ body ≤ 1 MiB, valid JSON, batch ≤ 100 ─ 413 / 400
 *           ─▶ every method in the allow list ───────── JSON-RPC error -32601 per call
 *           ─▶ Anvil ─▶ after eth_sendRawTransaction: persist() before answering (durable receipt)
 *
 * Allowed: `eth_*`, `net_*`, `web3_*` minus anything that signs with a node-held key
 * (eth_sendTransaction, eth_sign, eth_signTransaction, eth_signTypedData*) — Anvil holds no
 * unlocked account anyway (`--accounts 0`). Refused: `anvil_*`, `evm_*`, `hardhat_*`, `debug_*`,
 * `txpool_*`, `personal_*`, `ots_*`, `erigon_*` and anything else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { configError } from '../util/errors.ts';

export interface RpcGatewayOptions {
  /** Public port on 127.0.0.1. */
  port: number;
  /** Anvil's own RPC URL (internal). */
  upstream: string;
  /** Origins (scheme://host:port) whose pages may call the gateway, e.g. the node's studio. */
  allowedOrigins?: string[];
  /** Called after a raw transaction was accepted, before the answer goes out. */
  afterWrite?: () => Promise<void>;
}

export interface RpcGateway {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const MAX_BATCH = 100;
const SIGNING = new Set(['eth_sendTransaction', 'eth_sign', 'eth_signTransaction', 'eth_signTypedData', 'eth_signTypedData_v3', 'eth_signTypedData_v4', 'eth_accounts', 'eth_requestAccounts', 'eth_coinbase']);

/** True when a web page or wallet may call `method` through the gateway. */
export function methodAllowed(method: unknown): boolean {
  return typeof method === 'string' && /^(eth|net|web3)_[A-Za-z0-9_]+$/.test(method) && !SIGNING.has(method);
}

export async function startRpcGateway(opts: RpcGatewayOptions): Promise<RpcGateway> {
  const hosts = new Set([`127.0.0.1:${opts.port}`, `localhost:${opts.port}`, `[::1]:${opts.port}`]);
  const origins = new Set((opts.allowedOrigins ?? []).map((o) => o.replace(/\/+$/, '').toLowerCase()));

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 502, { jsonrpc: '2.0', id: null, error: { code: -32603, message: 'the chain did not answer' } });
      else res.destroy();
    });
  });

  const send = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra });
    res.end(text);
  };
  const refuse = (res: ServerResponse, status: number, message: string) => send(res, status, { jsonrpc: '2.0', id: null, error: { code: -32600, message } });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = String(req.headers.host ?? '').toLowerCase();
    if (!hosts.has(host)) return refuse(res, 403, `host ${JSON.stringify(host)} is not this node's chain RPC; use http://127.0.0.1:${opts.port}`);
    const origin = req.headers.origin;
    const cors: Record<string, string> = {};
    if (origin !== undefined) {
      if (!origins.has(origin.toLowerCase())) return refuse(res, 403, `web pages from ${origin} may not use this node's chain RPC`);
      cors['access-control-allow-origin'] = origin;
      cors.vary = 'origin';
    }
    if (req.method === 'OPTIONS' && origin !== undefined) {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' });
      return void res.end();
    }
    if (req.method !== 'POST') return refuse(res, 405, 'the chain RPC takes JSON-RPC over POST');
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json') return refuse(res, 415, 'content-type must be application/json');
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return refuse(res, 413, `request body over ${MAX_BODY} bytes`);

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return refuse(res, 413, `request body over ${MAX_BODY} bytes`);
      chunks.push(c as Buffer);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error: the body is not JSON' } }, cors);
    }
    const calls = Array.isArray(body) ? body : [body];
    if (calls.length === 0 || calls.length > MAX_BATCH) return refuse(res, 400, `a batch holds 1 to ${MAX_BATCH} calls`);
    const denied = calls.map((c) => !(c && typeof c === 'object' && methodAllowed((c as { method?: unknown }).method)));
    if (denied.every((d) => d)) {
      const errors = calls.map((c) => notAllowed(c));
      return send(res, 200, Array.isArray(body) ? errors : errors[0], cors);
    }
    const forward = calls.filter((_, i) => !denied[i]);
    const upstream = await fetch(opts.upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Array.isArray(body) ? forward : forward[0]),
      signal: AbortSignal.timeout(60_000),
    });
    const answer = (await upstream.json()) as unknown;
    if (forward.some((c) => (c as { method: string }).method === 'eth_sendRawTransaction') && opts.afterWrite) await opts.afterWrite();
    if (!Array.isArray(body)) return send(res, upstream.status, answer, cors);
    // Put refused calls back in their places.
    const answers = Array.isArray(answer) ? [...answer] : [answer];
    const out = calls.map((c, i) => (denied[i] ? notAllowed(c) : answers.shift()));
    return send(res, 200, out, cors);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(configError(`chain port ${opts.port} is already in use`, {
          param: 'chainPort', code: 'port_in_use', hint: 'pass --chain-port with a free port, or stop the process that holds it', details: { port: opts.port },
        }));
      } else reject(err);
    });
    server.listen({ port: opts.port, host: '127.0.0.1', exclusive: true }, () => resolve());
  });
  server.keepAliveTimeout = 5_000;
  return {
    url: `http://127.0.0.1:${opts.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function notAllowed(call: unknown) {
  const c = (call && typeof call === 'object' ? call : {}) as { id?: unknown; method?: unknown };
  return {
    jsonrpc: '2.0',
    id: c.id ?? null,
    error: { code: -32601, message: `method ${String(c.method)} is not available on this node's public chain RPC (only eth_, net_ and web3_ reads and eth_sendRawTransaction)` },
  };
}
