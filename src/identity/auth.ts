/**
 * Sign-in and credentials. Every actor is an Ethereum address.
 *  - SIWE (EIP-4361): the node issues a single-use nonce, the wallet signs a SIWE message for our
 *    domain and chain, the node verifies it (viem/siwe; ERC-6492 smart accounts included) and
 *    returns a session token.
 *  - API keys: a signed-in address issues long-lived keys for itself (for servers and scripts).
 * Tokens are random 32-byte secrets shown once; only their sha256 is stored.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { getAddress, type PublicClient } from 'viem';
import { generateSiweNonce, parseSiweMessage, verifySiweMessage } from 'viem/siwe';
import type { ApiKeyRow, Hex, IdentityRepo } from '../store/types.ts';
import { OpenLedgerError } from '../util/errors.ts';

export const NONCE_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 24 * 3600_000;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const unauthorized = (message: string, hint: string, code: string) =>
  new OpenLedgerError(message, { type: 'authentication_error', code, hint });

export interface AuthDeps {
  repo: IdentityRepo;
  publicClient: PublicClient;
  chainId: number;
  /**
   * Hosts (with port) a SIWE message may name as its domain, e.g. `127.0.0.1:7420`: the node's own
   * origins. A message signed for any other site is refused (EIP-4361: the domain is the site the
   * user agreed to sign in to). Never empty.
   */
  domains: string[];
  now?: () => number;
}

export class Auth {
  private now: () => number;
  constructor(private deps: AuthDeps) {
    if (deps.domains.length === 0) throw new Error('Auth needs at least one SIWE domain');
    this.deps = { ...deps, domains: deps.domains.map((d) => d.toLowerCase()) };
    this.now = deps.now ?? Date.now;
  }

  /** The SIWE domain for a request that reached the node as `host`: itself when it is ours, else our first. */
  domainFor(host: string | undefined): string {
    const h = (host ?? '').toLowerCase();
    return this.deps.domains.includes(h) ? h : this.deps.domains[0];
  }

  issueNonce(): { nonce: string; expiresAt: string } {
    const nonce = generateSiweNonce();
    const expires = this.now() + NONCE_TTL_MS;
    this.deps.repo.putNonce(nonce, expires);
    return { nonce, expiresAt: new Date(expires).toISOString() };
  }

  /** Verify a signed SIWE message and open a session. */
  async signIn(message: string, signature: Hex): Promise<{ token: string; address: Hex; expiresAt: string }> {
    let fields;
    try {
      fields = parseSiweMessage(message);
    } catch {
      fields = {};
    }
    if (!fields.address || !fields.nonce) {
      throw new OpenLedgerError('message is not a SIWE (EIP-4361) message', {
        param: 'message',
        code: 'siwe_malformed',
        hint: 'build it with createSiweMessage from viem/siwe using a nonce from POST /v1/auth/nonce',
      });
    }
    if (fields.chainId !== this.deps.chainId) {
      throw unauthorized(`SIWE message is for chain ${fields.chainId}, this node runs chain ${this.deps.chainId}`, 'sign a message with this node\'s chain id (GET /v1/status)', 'siwe_wrong_chain');
    }
    if (!fields.domain || !this.deps.domains.includes(fields.domain.toLowerCase())) {
      throw unauthorized(
        `SIWE message is for domain ${JSON.stringify(fields.domain ?? null)}, but this node is ${this.deps.domains.join(' or ')}`,
        `sign a message whose domain is ${this.deps.domains[0]} (POST /v1/auth/nonce returns it); a node behind another name needs --origin`,
        'siwe_wrong_domain',
      );
    }
    const now = new Date(this.now());
    if (fields.expirationTime && fields.expirationTime <= now) {
      throw unauthorized('SIWE message has expired', 'sign a fresh message', 'siwe_expired');
    }
    if (fields.notBefore && fields.notBefore > now) {
      throw unauthorized('SIWE message is not valid yet (notBefore)', 'check the clock, or sign without notBefore', 'siwe_not_yet_valid');
    }
    const valid = await verifySiweMessage(this.deps.publicClient, { message, signature, time: now }).catch(() => false);
    if (!valid) throw unauthorized('SIWE signature does not match the address in the message', 'sign the exact message text with the account it names', 'siwe_bad_signature');
    // Consume the nonce only after the signature checks out, so a bad attempt cannot burn it.
    if (!this.deps.repo.takeNonce(fields.nonce, this.now())) {
      throw unauthorized('SIWE nonce is unknown, used or expired', 'get a new nonce from POST /v1/auth/nonce and sign again', 'siwe_bad_nonce');
    }
    const address = getAddress(fields.address) as Hex;
    return { ...this.openSession(address), address };
  }

  /** Open a session for an address (used by SIWE and by the local CLI with the dev keyring). */
  openSession(address: Hex): { token: string; expiresAt: string } {
    const token = 'ols_' + randomBytes(32).toString('base64url');
    const created = this.now();
    this.deps.repo.putSession(sha256(token), getAddress(address) as Hex, created, created + SESSION_TTL_MS);
    return { token, expiresAt: new Date(created + SESSION_TTL_MS).toISOString() };
  }

  signOut(token: string): void {
    this.deps.repo.deleteSession(sha256(token));
  }

  issueApiKey(address: Hex, name: string): { key: string; apiKey: ApiKeyRow } {
    const key = 'olk_' + randomBytes(32).toString('base64url');
    const row: ApiKeyRow = {
      id: randomUUID(),
      address: getAddress(address) as Hex,
      name,
      prefix: key.slice(0, 10),
      createdAt: this.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    this.deps.repo.putApiKey(row, sha256(key));
    return { key, apiKey: row };
  }

  listApiKeys(address: Hex): ApiKeyRow[] {
    return this.deps.repo.apiKeys(getAddress(address) as Hex);
  }

  revokeApiKey(address: Hex, id: string): void {
    if (!this.deps.repo.revokeApiKey(id, getAddress(address) as Hex, this.now())) {
      throw new OpenLedgerError(`no active API key ${id} for ${address}`, { type: 'not_found_error', param: 'id', code: 'api_key_not_found' });
    }
  }

  /** Resolve a bearer credential (session token or API key) to an address, or null. */
  authenticate(bearer: string): Hex | null {
    const h = sha256(bearer);
    if (bearer.startsWith('ols_')) return this.deps.repo.sessionAddress(h, this.now());
    if (bearer.startsWith('olk_')) {
      const k = this.deps.repo.apiKeyByHash(h);
      if (!k || k.revokedAt !== null) return null;
      this.deps.repo.touchApiKey(k.id, this.now());
      return k.address;
    }
    return null;
  }
}
