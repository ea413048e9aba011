/**
 * Repository interfaces: everything above the store talks to these, so a Postgres implementation
 * can replace the SQLite one without touching callers. Methods are synchronous here because
 * better-sqlite3 is; a Postgres implementation would wrap them (or we make them async then).
 */
export type Hex = `0x${string}`;

export interface BlockRef {
  blockNumber: bigint;
  blockHash: Hex;
}

export interface StoredEvent {
  blockNumber: bigint;
  blockHash: Hex;
  txHash: Hex;
  logIndex: number;
  address: Hex;
  contract: string;
  event: string;
  args: Record<string, unknown>;
}

export interface EventQuery {
  contract?: string;
  event?: string;
  txHash?: Hex;
  fromBlock?: bigint;
  /** Match a top-level arg by equality on its JSON value (e.g. { datanetId: '1' }). */
  args?: Record<string, string>;
  limit?: number;
  /** Newest first when true. */
  desc?: boolean;
}

export interface ChainIndexRepo {
  cursor(): BlockRef | null;
  blockHash(blockNumber: bigint): Hex | null;
  apply(events: StoredEvent[], to: BlockRef): void;
  rewind(toBlockNumber: bigint): void;
  events(q?: EventQuery): StoredEvent[];
}

export interface ApiKeyRow {
  id: string;
  address: Hex;
  name: string;
  prefix: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface IdentityRepo {
  putNonce(nonce: string, expiresAt: number): void;
  /** Consume a nonce: true once if it exists and has not expired. */
  takeNonce(nonce: string, now: number): boolean;
  putSession(tokenHash: string, address: Hex, createdAt: number, expiresAt: number): void;
  sessionAddress(tokenHash: string, now: number): Hex | null;
  deleteSession(tokenHash: string): void;
  putApiKey(row: ApiKeyRow, keyHash: string): void;
  apiKeyByHash(keyHash: string): ApiKeyRow | null;
  apiKeys(address: Hex): ApiKeyRow[];
  touchApiKey(id: string, now: number): void;
  revokeApiKey(id: string, address: Hex, now: number): boolean;
}

export interface MetaRepo {
  get(key: string): string | null;
  set(key: string, value: string): void;
}
