-- Datanets (owned by src/datanets). The chain is the source of truth for ownership, policy mirror,
-- validators, grants and versions; these tables hold what the chain does not: metadata, uploads,
-- rows with their content, votes, version trees and the paid-access credit ledger.

CREATE TABLE datanets (
  id INTEGER PRIMARY KEY,                -- DatanetRegistry id (1, 2, …)
  name TEXT NOT NULL,
  summary TEXT NOT NULL,
  description TEXT NOT NULL,             -- markdown
  tags TEXT NOT NULL,                    -- JSON array of strings
  license TEXT NOT NULL,                 -- SPDX id
  format TEXT NOT NULL CHECK (format IN ('text', 'alpaca', 'sharegpt', 'labelled')),
  labels TEXT,                           -- JSON array (labelled format) or NULL
  policies TEXT NOT NULL,                -- JSON (wei as decimal strings)
  owner TEXT NOT NULL,
  metadata_blob TEXT NOT NULL,           -- DA id of the metadata JSON (the on-chain metadataURI points at it)
  tx_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- One signed upload. (datanet, contributor, nonce) is unique: a replayed signature is refused.
CREATE TABLE datanet_uploads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  datanet_id INTEGER NOT NULL REFERENCES datanets(id),
  contributor TEXT NOT NULL,             -- checksummed address
  filename TEXT NOT NULL,
  kind TEXT NOT NULL,                    -- txt md jsonl json csv pdf docx rows
  bytes INTEGER NOT NULL,
  blob_id TEXT NOT NULL,                 -- DA content id of the raw upload
  blob_commitment TEXT NOT NULL,
  rows_root TEXT NOT NULL,
  row_count INTEGER NOT NULL,            -- rows covered by rows_root
  nonce TEXT NOT NULL,                   -- uint256 as decimal
  deadline INTEGER NOT NULL,
  signature TEXT NOT NULL,
  accepted INTEGER NOT NULL,
  pending INTEGER NOT NULL,
  rejected INTEGER NOT NULL,             -- rejected by the automatic checks (those rows are not stored)
  report TEXT NOT NULL,                  -- JSON UploadReport
  created_at INTEGER NOT NULL,
  UNIQUE (datanet_id, contributor, nonce)
);
CREATE INDEX datanet_uploads_quota ON datanet_uploads (datanet_id, created_at);

-- Rows that passed the automatic checks. status: pending → accepted | rejected (validators).
CREATE TABLE datanet_rows (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  datanet_id INTEGER NOT NULL REFERENCES datanets(id),
  upload_id INTEGER NOT NULL REFERENCES datanet_uploads(id),
  item INTEGER NOT NULL,
  line INTEGER,
  contributor TEXT NOT NULL,
  hash TEXT NOT NULL,                    -- sha256 of canonical JSON (Merkle leaf with contributor)
  dedup_key TEXT NOT NULL,               -- sha256 of normalised text
  minhash BLOB NOT NULL,                 -- 128 little-endian uint32
  data TEXT NOT NULL,                    -- canonical JSON
  status TEXT NOT NULL CHECK (status IN ('accepted', 'pending', 'rejected')),
  reason TEXT,                           -- last rejection reason
  created_at INTEGER NOT NULL,
  decided_at INTEGER
);
CREATE INDEX datanet_rows_status ON datanet_rows (datanet_id, status, id);
CREATE INDEX datanet_rows_contributor ON datanet_rows (datanet_id, contributor);
-- First submitter keeps the credit, even under concurrent uploads.
CREATE UNIQUE INDEX datanet_rows_live_dedup ON datanet_rows (datanet_id, dedup_key) WHERE status <> 'rejected';

CREATE TABLE datanet_votes (
  row_id INTEGER NOT NULL REFERENCES datanet_rows(id),
  validator TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (row_id, validator)
);

CREATE TABLE datanet_versions (
  datanet_id INTEGER NOT NULL REFERENCES datanets(id),
  version INTEGER NOT NULL,
  merkle_root TEXT NOT NULL,
  row_count INTEGER NOT NULL,
  snapshot_id TEXT NOT NULL,             -- DA content id (sha256) of the JSONL snapshot = on-chain contentHash
  da_commitment TEXT NOT NULL,
  tree TEXT NOT NULL,                    -- StandardMerkleTree dump, for proofs
  tx_hash TEXT NOT NULL,
  block_number INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (datanet_id, version)
);

CREATE TABLE datanet_version_rows (
  datanet_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  row_id INTEGER NOT NULL REFERENCES datanet_rows(id),
  PRIMARY KEY (datanet_id, version, row_id)
);

-- Paid access: the buyer's payment (on chain, to the owner) and its split to contributors by
-- accepted rows, in wei (decimal strings), for the rewards module to settle.
CREATE TABLE datanet_purchases (
  datanet_id INTEGER NOT NULL REFERENCES datanets(id),
  buyer TEXT NOT NULL,
  price_wei TEXT NOT NULL,
  tx_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (datanet_id, buyer)
);
CREATE TABLE datanet_credits (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  datanet_id INTEGER NOT NULL REFERENCES datanets(id),
  buyer TEXT NOT NULL,
  contributor TEXT NOT NULL,
  amount_wei TEXT NOT NULL,
  tx_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX datanet_credits_contributor ON datanet_credits (contributor);
