/**
 * The CLI's HTTP client for a running node. Commands that act as a user sign in with SIWE using
 * an account of the node's dev keyring (read from the data dir) — the same flow a wallet uses.
 */
import { createSiweMessage } from 'viem/siwe';
import type { HDAccount } from 'viem/accounts';
import { OpenLedgerError } from '../util/errors.ts';
import { loadOrCreateKeyring } from '../identity/index.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '../config/index.ts';

export const DEFAULT_API = 'http://127.0.0.1:7420';

export class NodeClient {
  token: string | null = null;
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    let res: Response;
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array || typeof body === 'string') payload = body as BodyInit;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
    try {
      res = await fetch(this.baseUrl + path, { method, headers: h, body: payload });
    } catch (e) {
      throw new OpenLedgerError(`no openledger node answers at ${this.baseUrl} (${(e as Error).cause ? String((e as any).cause.code ?? (e as any).cause) : (e as Error).message})`, {
        type: 'config_error',
        code: 'node_unreachable',
        hint: 'start one with `openledger up` (or `npm start`), or pass --api <url>',
      });
    }
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok) throw apiError(json, `HTTP ${res.status} from ${path}`);
    return json as T;
  }

  /** Sign in with SIWE as `account` and keep the session token. */
  async signIn(account: HDAccount): Promise<string> {
    const { nonce, chainId, domain } = await this.request('POST', '/v1/auth/nonce');
    const message = createSiweMessage({
      domain,
      address: account.address,
      statement: 'Sign in to the OpenLedger node (openledger CLI)',
      uri: this.baseUrl,
      version: '1',
      chainId,
      nonce,
    });
    const signature = await account.signMessage({ message });
    const { token } = await this.request('POST', '/v1/auth/siwe', { message, signature });
    this.token = token;
    return token;
  }
}

/** A dev keyring account from the data dir: `--as 1` (index) or an address. */
/** The API's one error shape (`{ error: { message, type, param, code, hint } }`) as an OpenLedgerError; `fallback` when the body has none. */
export function apiError(body: any, fallback: string): OpenLedgerError {
  const e = body?.error;
  return new OpenLedgerError(e?.message ?? fallback, { type: e?.type ?? 'internal_error', param: e?.param ?? null, code: e?.code ?? null, hint: e?.hint });
}

/** The frames of a server-sent event stream, each with its `event:` name (if any) and `data:` line. */
export async function* sseFrames(body: AsyncIterable<Uint8Array>): AsyncGenerator<{ event?: string; data: string }> {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (data !== undefined) yield { event: /^event: (.*)$/m.exec(frame)?.[1], data };
    }
  }
}

export function devAccount(dataDir: string, as: string | undefined): HDAccount {
  if (!existsSync(join(dataDir, 'keyring', 'mnemonic'))) {
    throw new OpenLedgerError(`no dev keyring in ${dataDir}`, {
      type: 'config_error',
      code: 'no_keyring',
      hint: 'run the command on the machine of a node started with the embedded chain, or pass --data-dir',
    });
  }
  const k = loadOrCreateKeyring(dataDir);
  if (!as) return k.accounts[0];
  if (/^\d+$/.test(as)) return k.account(Number(as));
  const a = k.find(as);
  if (!a) throw new OpenLedgerError(`${as} is not an account of the dev keyring`, { type: 'invalid_request_error', param: 'as', hint: 'run `openledger accounts` to list them' });
  return a;
}

/** Options of every command that acts as a user of a running node. */
export interface UserOptions {
  api: string;
  dataDir: string;
  as?: string;
  json: boolean;
}

/** Add --api, --data-dir, --as and --json to a command that acts as a dev-keyring user. */
export const userOptions = (c: Command) =>
  c
    .option('--api <url>', 'node API', process.env.OPENLEDGER_API ?? DEFAULT_API)
    .option('--data-dir <dir>', "the node's data dir (for the dev keyring)", process.env.OPENLEDGER_DATA_DIR ?? DEFAULT_DATA_DIR)
    .option('--as <account>', 'dev account to act as: index (1 = first dev account) or address')
    .option('--json', 'print JSON', false);

/** Sign in to the node (SIWE) as the chosen dev account. */
export async function signedIn(o: UserOptions): Promise<{ client: NodeClient; account: HDAccount }> {
  const account = devAccount(o.dataDir, o.as);
  const client = new NodeClient(o.api);
  await client.signIn(account);
  return { client, account };
}
