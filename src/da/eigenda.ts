import { invalid, OpenLedgerError } from '../util/errors.ts';
import { CommitmentIndex } from './commitment-index.ts';
import { contentId, isContentId, normalizeHex } from './hash.ts';
import { blobNotFound, blobTooLarge, daIntegrity, daUnavailable } from './errors.ts';
import type { BlobRef, BlobStore, Hex } from './types.ts';

export interface EigenDaProxyConfig {
  /** Base URL of the EigenDA proxy, e.g. `http://127.0.0.1:3100`. */
  url: string;
  /** Directory of the local content-id ↔ commitment index. */
  indexDir: string;
  /** Per-request timeout in ms; default 60 s (a real put waits for dispersal). */
  timeoutMs?: number;
  /**
   * Largest payload; default: read `max_payload_size_bytes` from `GET /config` in `connect()`, or
   * 16 MiB − 1 KiB when the proxy does not report it.
   */
  maxBlobBytes?: number;
}

/** The subset of the proxy's `GET /config` we read. */
export interface EigenDaProxyInfo {
  version?: string;
  chain_id?: string | number;
  max_payload_size_bytes?: number;
  apis_enabled?: unknown;
  read_only_mode?: boolean;
}

const DEFAULT_MAX = 16 * 1024 * 1024 - 1024;

/**
 * BlobStore over the EigenDA proxy REST API in standard commitment mode:
 *   POST /put?commitment_mode=standard   body = raw bytes → 200, body = raw commitment bytes (not hex)
 *   GET  /get/0x<commitment hex>?commitment_mode=standard → 200, body = the payload
 *   GET  /health → 200;  GET /config → JSON (max_payload_size_bytes, …)
 * Certificates are random per put, so our sha256 content id is kept beside each commitment in a
 * CommitmentIndex; a get by id goes through the index, and every get is checked against the id.
 */
export class EigenDaProxyBlobStore implements BlobStore {
  readonly kind = 'eigenda';
  maxBlobBytes: number;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly index: CommitmentIndex;

  constructor(config: EigenDaProxyConfig) {
    this.base = config.url.replace(/\/+$/, '');
    this.timeoutMs = config.timeoutMs ?? 60_000;
    this.maxBlobBytes = config.maxBlobBytes ?? DEFAULT_MAX;
    this.index = new CommitmentIndex(config.indexDir);
  }

  /** Creates the store, checks `/health` and reads the payload limit from `/config`. */
  static async connect(config: EigenDaProxyConfig): Promise<EigenDaProxyBlobStore> {
    const store = new EigenDaProxyBlobStore(config);
    await store.health();
    if (config.maxBlobBytes === undefined) {
      const info = await store.info().catch(() => null);
      if (info && typeof info.max_payload_size_bytes === 'number' && info.max_payload_size_bytes > 0) {
        store.maxBlobBytes = info.max_payload_size_bytes;
      }
    }
    return store;
  }

  async health(): Promise<void> {
    const res = await this.request('GET', '/health');
    if (res.status !== 200) throw this.httpError(res.status, await res.text(), 'health');
  }

  async info(): Promise<EigenDaProxyInfo> {
    const res = await this.request('GET', '/config');
    if (res.status !== 200) throw this.httpError(res.status, await res.text(), 'config');
    return (await res.json()) as EigenDaProxyInfo;
  }

  async put(bytes: Uint8Array): Promise<BlobRef> {
    if (bytes.byteLength > this.maxBlobBytes) throw blobTooLarge(bytes.byteLength, this.maxBlobBytes);
    const id = contentId(bytes);
    const res = await this.request('POST', '/put?commitment_mode=standard', bytes);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw this.httpError(res.status, new TextDecoder().decode(body), 'put', bytes.byteLength);
    if (body.byteLength === 0) {
      throw daUnavailable('the EigenDA proxy returned an empty commitment', 'check the proxy version and that the standard API is enabled');
    }
    const commitment = `0x${Buffer.from(body).toString('hex')}` as Hex;
    await this.index.record(id, commitment);
    return { id, commitment, size: bytes.byteLength };
  }

  /** Resolves a ref to (commitment, expected id or null when the commitment is not in our index). */
  private async resolve(ref: Hex): Promise<{ commitment: Hex; id: Hex | null }> {
    const hex = normalizeHex(ref);
    if (!hex) {
      throw invalid(`"${ref}" is neither a blob id nor a commitment`, {
        param: 'id',
        code: 'invalid_blob_id',
        hint: 'pass the 0x-hex content id or the 0x-hex EigenDA commitment returned by put',
      });
    }
    if (isContentId(hex)) {
      const commitment = await this.index.commitmentOf(hex);
      if (commitment) return { commitment, id: hex };
      // A 32-byte value that is not one of our ids could still be a (short) commitment.
    }
    return { commitment: hex, id: await this.index.idOf(hex) };
  }

  /**
   * Reads a blob. With a known id or commitment, the bytes are checked against our content id. A
   * commitment we never put (another node's) is fetched, trusted on first use, and indexed.
   */
  async get(idOrCommitment: Hex): Promise<Uint8Array> {
    const { commitment, id } = await this.resolve(idOrCommitment);
    const res = await this.request('GET', `/get/${commitment}?commitment_mode=standard`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) {
      // The proxy answers a miss with 500 (not 404); when the ref is not even in our index, call it not found.
      if ((res.status === 500 || res.status === 404) && id === null && isContentId(commitment)) throw blobNotFound(idOrCommitment);
      throw this.httpError(res.status, new TextDecoder().decode(body), 'get');
    }
    const got = contentId(body);
    if (id !== null && got !== id) throw daIntegrity(id, got);
    if (id === null) await this.index.record(got, commitment);
    return body;
  }

  async has(idOrCommitment: Hex): Promise<boolean> {
    try {
      await this.get(idOrCommitment);
      return true;
    } catch (err) {
      if (err instanceof OpenLedgerError && (err.code === 'blob_not_found' || err.code === 'da_get_failed' || err.code === 'da_invalid_commitment')) return false;
      throw err;
    }
  }

  private async request(method: 'GET' | 'POST', path: string, body?: Uint8Array): Promise<Response> {
    try {
      return await fetch(this.base + path, {
        method,
        body: body as BodyInit | undefined,
        headers: body ? { 'content-type': 'application/octet-stream' } : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timeout = (err as Error).name === 'TimeoutError';
      throw daUnavailable(
        timeout ? `EigenDA proxy at ${this.base} did not answer ${method} ${path.split('?')[0]} within ${this.timeoutMs} ms` : `cannot reach the EigenDA proxy at ${this.base}`,
        timeout
          ? 'the proxy may be waiting on dispersal; raise timeoutMs or check the proxy logs'
          : 'start the proxy (e.g. `eigenda-proxy --port 3100 --apis.enabled standard --memstore.enabled` for a test) or fix da.url',
        err,
      );
    }
  }

  /** Maps the proxy's status codes to errors (REFERENCES §7.1). */
  private httpError(status: number, text: string, op: 'put' | 'get' | 'health' | 'config', size?: number): OpenLedgerError {
    const detail = text.trim().slice(0, 300);
    const details = { status, op, body: detail };
    switch (status) {
      case 400:
        if (op === 'put' && size !== undefined && /size|large|exceed/i.test(detail)) return blobTooLarge(size, this.maxBlobBytes);
        return new OpenLedgerError(`EigenDA proxy rejected the ${op} request: ${detail || 'bad request'}`, {
          type: 'invalid_request_error',
          code: 'da_bad_request',
          hint: 'check the blob size against GET /config max_payload_size_bytes and the commitment encoding',
          details,
        });
      case 418:
        return new OpenLedgerError(`EigenDA proxy could not derive the blob from its certificate: ${detail || 'invalid certificate'}`, {
          type: 'invalid_request_error',
          code: 'da_invalid_commitment',
          param: 'commitment',
          hint: 'the commitment is not a valid EigenDA certificate for this network; check that it was copied whole',
          details,
        });
      case 429:
        return new OpenLedgerError('EigenDA proxy is rate limiting requests', {
          type: 'rate_limit_error',
          code: 'da_rate_limited',
          hint: 'retry later, or raise the disperser rate limit of your account',
          details,
        });
      case 503:
        return new OpenLedgerError('EigenDA is unavailable (the proxy signalled failover)', {
          type: 'chain_error',
          code: 'da_failover',
          hint: 'retry later, or configure the proxy with a fallback store',
          details,
        });
      default:
        if (status === 404 && (op === 'health' || op === 'config')) {
          return daUnavailable(`EigenDA proxy has no /${op} route (404)`, 'check that da.url points at an EigenDA proxy, not another service');
        }
        return new OpenLedgerError(`EigenDA proxy ${op} failed with HTTP ${status}: ${detail}`, {
          type: 'chain_error',
          code: op === 'get' ? 'da_get_failed' : 'da_unavailable',
          hint:
            op === 'get'
              ? 'the blob may have expired (EigenDA keeps data about two weeks) or never existed; check the commitment'
              : 'check the proxy logs; the standard API must be enabled (--apis.enabled standard)',
          details,
        });
    }
  }
}
