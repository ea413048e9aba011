-- Chain index: contract events in block order with the block hashes seen, for reorg detection.
CREATE TABLE chain_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  block_number INTEGER NOT NULL,
  block_hash TEXT NOT NULL
);

CREATE TABLE chain_blocks (
  block_number INTEGER PRIMARY KEY,
  block_hash TEXT NOT NULL
);

CREATE TABLE chain_events (
  block_number INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  block_hash TEXT NOT NULL,
  tx_hash TEXT NOT NULL,
  address TEXT NOT NULL,
  contract TEXT NOT NULL,
  event TEXT NOT NULL,
  args TEXT NOT NULL, -- JSON, bigints as decimal strings
  PRIMARY KEY (block_number, log_index)
);
CREATE INDEX chain_events_by_name ON chain_events (contract, event, block_number);
CREATE INDEX chain_events_by_tx ON chain_events (tx_hash);

-- Identity: SIWE nonces (single use), sessions and API keys. Tokens are stored as sha256 hashes.
CREATE TABLE siwe_nonces (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_address ON sessions (address);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  name TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_keys_by_address ON api_keys (address);

-- Node metadata (version that created the store, chain id it is bound to).
CREATE TABLE node_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
