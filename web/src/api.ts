/**
 * The node's HTTP API as the studio uses it: one fetch wrapper that turns every failure into an
 * ApiError in the API's one error shape ({message, type, param, code, hint}), and a reader for
 * server-sent events (fetch, not EventSource: the requests carry a bearer token).
 */

export interface ApiErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
  hint?: string;
}

export class ApiError extends Error {
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly hint?: string;
  readonly status: number;
  constructor(e: ApiErrorBody, status: number) {
    super(e.message);
    this.name = 'ApiError';
    this.type = e.type;
    this.param = e.param ?? null;
    this.code = e.code ?? null;
    this.hint = e.hint;
    this.status = status;
  }
}

/** A failure before any answer: the node is down or unreachable. */
export const unreachable = (cause: unknown) =>
  new ApiError(
    {
      message: `The node did not answer (${(cause as Error)?.message ?? 'network error'}).`,
      type: 'network_error',
      param: null,
      code: 'node_unreachable',
      hint: 'Check that the node is still running (openledger up / npm start), then try again.',
    },
    0,
  );

/** Any thrown value as an ApiError (for display). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = e as { message?: string; code?: number | string; type?: string; param?: string | null; hint?: string };
  return new ApiError({ message: err?.message ?? String(e), type: err?.type ?? 'client_error', param: err?.param ?? null, code: err?.code != null ? String(err.code) : null, hint: err?.hint }, 0);
}

let token: string | null = null;
/** The session token sent with every request (set by the session on sign-in). */
export const setToken = (t: string | null) => {
  token = t;
};
let onExpired: (() => void) | null = null;
/** Called when the node no longer accepts the session token (expired, signed out elsewhere, new data dir). */
export const setOnExpired = (f: (() => void) | null) => {
  onExpired = f;
};

export interface RequestOptions {
  /** Raw body (a File or bytes) instead of JSON. */
  raw?: Blob | ArrayBuffer;
  contentType?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** Sends a request; resolves with the response, rejects with an ApiError for non-2xx answers. */
export async function send(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...o.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (o.raw !== undefined) {
    payload = o.raw;
    headers['content-type'] = o.contentType ?? 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, signal: o.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw unreachable(e);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    let parsed: { error?: ApiErrorBody } | null = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const err = new ApiError(parsed?.error ?? { message: `HTTP ${res.status} from ${path}`, type: 'http_error', param: null, code: String(res.status) }, res.status);
    if (res.status === 401 && err.code === 'invalid_token' && token) onExpired?.();
    throw err;
  }
  return res;
}

export async function api<T = any>(method: string, path: string, body?: unknown, o: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, body, o);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T = any>(path: string, o?: RequestOptions) => api<T>('GET', path, undefined, o);
export const post = <T = any>(path: string, body?: unknown, o?: RequestOptions) => api<T>('POST', path, body, o);

/** The frames of a server-sent event stream: `event:` name (if any) and `data:` text. */
export async function* sseFrames(res: Response): AsyncGenerator<{ event?: string; data: string }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(
        { message: 'The connection to the node was lost mid-stream.', type: 'network_error', param: null, code: 'stream_interrupted', hint: 'The node may have stopped: check it is running, then try again.' },
        0,
      );
    }
    if (chunk.done) break;
    buf += dec.decode(chunk.value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = /^data: ?(.*)$/m.exec(frame)?.[1];
      if (data !== undefined) yield { event: /^event: ?(.*)$/m.exec(frame)?.[1], data };
    }
  }
}

/** Shapes the studio reads (the parts it uses). */
export interface NodeStatus {
  version: string;
  chainId: number;
  embeddedChain: boolean;
  rpcUrl: string;
  blockNumber: string;
  contracts: Record<string, string>;
  operator: string;
}

export interface Policies {
  access: { kind: 'open' } | { kind: 'approval' } | { kind: 'paid'; priceWei: string };
  validation: { kind: 'automatic' } | { kind: 'validators'; approvals: number; rejections?: number };
  quota?: { userBytesPerDay: number; userUploadsPerDay: number; datanetBytesPerDay: number };
}

export interface Datanet {
  id: number;
  name: string;
  summary: string;
  description: string;
  tags: string[];
  license: string;
  format: 'text' | 'alpaca' | 'sharegpt' | 'labelled';
  labels: string[] | null;
  policies: Policies;
  owner: string;
  metadataURI: string;
  txHash: string;
  createdAt: number;
  latestVersion: number | null;
  counts: { accepted: number; pending: number; rejected: number };
}

export interface Version {
  datanetId: number;
  version: number;
  merkleRoot: string;
  rowCount: number;
  daCommitment: string;
  txHash: string;
  blockNumber: number;
  createdAt: number;
}

export interface Row {
  id: number;
  uploadId: number;
  item: number;
  line: number | null;
  contributor: string;
  hash: string;
  data: Record<string, unknown>;
  status: 'accepted' | 'pending' | 'rejected';
  reason: string | null;
}

export interface ReportRow {
  item: number;
  line: number | null;
  status: 'accepted' | 'pending' | 'rejected';
  reasons: { code: string; message: string }[];
  hash?: string;
  duplicateOf?: { rowId?: number; item?: number };
}

export interface UploadReport {
  file: string;
  rows: number;
  accepted: number;
  pending: number;
  rejected: number;
  results: ReportRow[];
  uploadId?: number;
}

export interface ModelView {
  id: string;
  kind: 'base' | 'fine-tuned' | string;
  owned_by: string;
  parent: string | null;
  model_id: string | null;
  context_length?: number;
  family?: string;
  created: number;
  price_per_1k_input?: string;
  price_per_1k_output?: string;
}

export interface Job {
  id: string;
  status: 'validating_files' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  model: string;
  fine_tuned_model: string | null;
  created_at: number;
  datanets: { id: number; version: number }[] | null;
  hyperparameters: Record<string, unknown>;
  trained_steps: number | null;
  total_steps: number | null;
  error: { message: string; code?: string; hint?: string } | string | null;
  result: any;
}
