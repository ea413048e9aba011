import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { keccak256 } from 'viem';

/**
 * An in-process stand-in for the EigenDA proxy with `--memstore.enabled`, speaking the same routes
 * (REFERENCES §7.1): certificates are random per put (version byte 0x02 ‖ 160 random bytes), blobs
 * are keyed by keccak(cert), a miss is a 500, oversized bodies are a 400. `failNext` injects the
 * proxy's error statuses (418, 429, 503, 500) so clients can be tested against each.
 * For tests only; it keeps everything in memory.
 */
export interface FakeEigenDaProxy {
  url: string;
  /** Blobs held, by keccak(cert). */
  blobs: Map<string, Uint8Array>;
  /** Requests seen, `METHOD path`. */
  log: string[];
  /** The next request answers with this status (and a short body) instead of being served. */
  failNext(status: number, body?: string): void;
  /** Replace the stored payload behind a commitment (to test integrity checks). */
  tamper(commitmentHex: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

export async function startFakeEigenDaProxy(opts: { maxPayloadBytes?: number } = {}): Promise<FakeEigenDaProxy> {
  const maxPayload = opts.maxPayloadBytes ?? 16 * 1024 * 1024 - 1024;
  const blobs = new Map<string, Uint8Array>();
  const log: string[] = [];
  let injected: { status: number; body: string } | null = null;

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push(`${req.method} ${url.pathname}`);
    const body = await readBody(req);
    if (injected) {
      const { status, body: text } = injected;
      injected = null;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/health') return void res.writeHead(200).end();
    if (req.method === 'GET' && url.pathname === '/config') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ version: 'fake-memstore', chain_id: '31337', max_payload_size_bytes: maxPayload, apis_enabled: ['standard'], read_only_mode: false }),
      );
    }
    if (req.method === 'POST' && url.pathname === '/put') {
      if (url.searchParams.get('commitment_mode') !== 'standard') return void res.writeHead(400).end('only commitment_mode=standard here');
      if (body.byteLength > maxPayload) return void res.writeHead(400).end(`blob size ${body.byteLength} exceeds max payload size ${maxPayload}`);
      const cert = new Uint8Array(161);
      cert[0] = 0x02;
      cert.set(randomBytes(160), 1);
      blobs.set(keccak256(cert), body);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void res.end(cert);
    }
    const m = /^\/get\/0x([0-9a-fA-F]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const cert = Buffer.from(m[1], 'hex');
      if (cert.length < 2 || cert[0] !== 0x02) return void res.writeHead(418).end('failed to decode certificate');
      const payload = blobs.get(keccak256(cert));
      if (!payload) return void res.writeHead(500).end('key not found in memstore');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void res.end(payload);
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake proxy did not bind');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    blobs,
    log,
    failNext(status, body = '') {
      injected = { status, body };
    },
    tamper(commitmentHex, bytes) {
      blobs.set(keccak256(commitmentHex as `0x${string}`), bytes);
    },
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

function readBody(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}
