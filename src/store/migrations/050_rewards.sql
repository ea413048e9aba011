-- Payable inference (issue 11): every completion's record, the double-entry ledger of holds,
-- charges, splits, settlements and write-offs (integer wei, never REAL), and the epochs that
-- settle them on chain. Each entry keeps its amount as a signed decimal string (the value) and as
-- three integer words, amount = hi·2^64 + mid·2^32 + lo with 0 ≤ mid, lo < 2^32, so SQL can SUM
-- exactly without overflow (recombined as a bigint in TS: src/rewards/ledger.ts joinWords).

CREATE TABLE inferences (
  id                TEXT PRIMARY KEY,        -- the completion id returned to the client (chatcmpl-… / cmpl-…)
  model             TEXT NOT NULL,           -- as the request named it
  base              TEXT NOT NULL,           -- base model name
  adapters          TEXT NOT NULL,           -- JSON [{model, weight}] (one fine-tuned adapter today)
  model_id          TEXT,                    -- ModelRegistry id when registered
  caller            TEXT NOT NULL,           -- payer address
  api_key_id        TEXT,
  price_in          TEXT NOT NULL,           -- OPEN wei per 1k input tokens used for this call
  price_out         TEXT NOT NULL,
  max_tokens        INTEGER NOT NULL,
  prompt_bound      INTEGER NOT NULL,        -- prompt tokens the hold assumed (upper bound)
  hold_wei          TEXT NOT NULL,
  prompt_tokens     INTEGER,
  completion_tokens INTEGER,
  fee_wei           TEXT,                    -- charged (≤ hold), null until the request ends
  finish_reason     TEXT,
  status            TEXT NOT NULL CHECK (status IN ('held', 'charged', 'released')),
  epoch             INTEGER,                 -- epoch the charge belongs to
  split             TEXT,                    -- JSON: the parties and shares the charge was split with
  created_at        INTEGER NOT NULL,        -- unix ms
  finished_at       INTEGER
);
CREATE INDEX inferences_caller ON inferences (caller, created_at);
CREATE INDEX inferences_epoch ON inferences (epoch, caller);
CREATE INDEX inferences_model ON inferences (model_id, epoch);

-- One ledger transaction = entries summing to zero (checked before insert, in the same SQLite
-- transaction). kind: hold | release | charge (releases the hold too) | settle | writeoff | attribute.
CREATE TABLE ledger_txns (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT NOT NULL,
  inference_id TEXT,                         -- every hold/release/charge/writeoff/attribute names its inference
  epoch        INTEGER,
  chain_block  INTEGER,                      -- settle: the block of the settle transaction
  created_at   INTEGER NOT NULL
);
CREATE INDEX ledger_txns_inference ON ledger_txns (inference_id);
CREATE INDEX ledger_txns_kind_block ON ledger_txns (kind, chain_block);

-- account: payer:<addr> (negative = owed: open holds + unsettled charges), hold:<addr>,
-- earn:<addr> (what an address earned; its cumulative sum is its Merkle leaf), pool:<inference>
-- (contributors' share until attributed at epoch close), distributor (negative = paid in by settlement).
CREATE TABLE ledger_entries (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  txn_id       INTEGER NOT NULL REFERENCES ledger_txns(id),
  inference_id TEXT,
  epoch        INTEGER,
  account      TEXT NOT NULL,
  party        TEXT,                         -- the address behind the account, when there is one
  role         TEXT NOT NULL,                -- payer | hold | protocol | owner | validator | contributor | pool | distributor
  datanet_id   INTEGER,                      -- contributor / validator entries: which datanet earned it
  model_id     TEXT,
  amount       TEXT NOT NULL,
  amount_hi    INTEGER NOT NULL,
  amount_mid   INTEGER NOT NULL CHECK (amount_mid >= 0 AND amount_mid < 4294967296),
  amount_lo    INTEGER NOT NULL CHECK (amount_lo >= 0 AND amount_lo < 4294967296)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account, epoch);
CREATE INDEX ledger_entries_txn ON ledger_entries (txn_id);
CREATE INDEX ledger_entries_inference ON ledger_entries (inference_id);
CREATE INDEX ledger_entries_epoch ON ledger_entries (epoch, role);

-- Running balance per account (the sum of its entries, as word sums: value = hi·2^64 + mid·2^32 + lo),
-- updated in the same transaction as the entries, so admission reads a balance in O(1).
CREATE TABLE ledger_balances (
  account TEXT PRIMARY KEY,
  hi      INTEGER NOT NULL,
  mid     INTEGER NOT NULL,
  lo      INTEGER NOT NULL
);

-- Epoch close is a persisted state machine, one step at a time, each step idempotent:
-- open → closing → settling → settled → attributed → recorded → posted → done
CREATE TABLE rewards_epochs (
  epoch            INTEGER PRIMARY KEY,
  status           TEXT NOT NULL CHECK (status IN ('open', 'closing', 'settling', 'settled', 'attributed', 'recorded', 'posted', 'done')),
  started_at       INTEGER NOT NULL,         -- unix ms
  ends_at          INTEGER NOT NULL,
  closed_at        INTEGER,
  plan             TEXT,                     -- JSON {accounts, amounts, recordsRoot}: what settle sends
  settle_tx        TEXT,
  settle_block     INTEGER,
  settled_total    TEXT,
  settle_result    TEXT,                     -- JSON {debited, shortfalls, refused}
  attribution      TEXT,                     -- JSON per inference: weight source (attribution | pro_rata | owner) and weights
  da_id            TEXT,
  da_commitment    TEXT,
  merkle_root      TEXT,
  total_cumulative TEXT,
  tree             TEXT,                     -- StandardMerkleTree dump (proofs)
  root_tx          TEXT,
  root_block       INTEGER,
  done_at          INTEGER,
  error            TEXT                      -- last failure of a step (retried)
);
