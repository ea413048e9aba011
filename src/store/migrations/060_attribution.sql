-- Proof of Attribution (src/attribution): the text of each inference (fed by the serving hook,
-- kept here because attribution needs it and payable's `inferences` table does not hold it), the
-- persisted queue a restart resumes, one record per attributed inference, contributor weights
-- (what the fee split reads), and per-row influence statistics (flags, reputation).

CREATE TABLE attribution_inferences (
  id               TEXT PRIMARY KEY NOT NULL, -- the completion id returned to the client (= inference id)
  model            TEXT NOT NULL,          -- as requested
  base             TEXT NOT NULL,          -- base model name
  fine_tuned_model TEXT,                   -- ft:… (factory model) or NULL for a base model
  adapters         TEXT NOT NULL,          -- JSON [{model, weight}]
  caller           TEXT,
  prompt           TEXT NOT NULL,
  completion       TEXT NOT NULL,
  created_at       INTEGER NOT NULL
);

CREATE TABLE attribution_queue (
  inference_id TEXT PRIMARY KEY REFERENCES attribution_inferences(id),
  seq          INTEGER NOT NULL,           -- processing order (on-demand requests jump ahead: lower seq)
  status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  error        TEXT,                       -- JSON {message, code, hint} of the last failure
  enqueued_at  INTEGER NOT NULL,
  finished_at  INTEGER
);
CREATE INDEX attribution_queue_next ON attribution_queue (status, seq);

CREATE TABLE attribution_records (
  inference_id   TEXT PRIMARY KEY REFERENCES attribution_inferences(id),
  method         TEXT NOT NULL,            -- e.g. "tracin+span", "span"
  method_version TEXT NOT NULL,
  record         TEXT NOT NULL,            -- JSON (see src/attribution/README.md)
  created_at     INTEGER NOT NULL
);

-- Integer parts per million, Σ = 1_000_000 per inference (none: not attributable → pro rata).
CREATE TABLE attribution_weights (
  inference_id TEXT NOT NULL REFERENCES attribution_inferences(id),
  contributor  TEXT NOT NULL,
  weight_ppm   INTEGER NOT NULL CHECK (weight_ppm > 0 AND weight_ppm <= 1000000),
  PRIMARY KEY (inference_id, contributor)
);

-- Per datanet row: how often it was among an answer's most positive / most negative rows.
CREATE TABLE attribution_row_stats (
  datanet_id    INTEGER NOT NULL,
  row_id        INTEGER NOT NULL,
  contributor   TEXT NOT NULL,
  positive      INTEGER NOT NULL DEFAULT 0,
  negative      INTEGER NOT NULL DEFAULT 0,
  positive_mass REAL NOT NULL DEFAULT 0,   -- Σ normalised influence (a score, not money)
  negative_mass REAL NOT NULL DEFAULT 0,
  flagged_at    INTEGER,                   -- set once the row crossed the flag rule; flagged rows stop earning
  PRIMARY KEY (datanet_id, row_id)
);
CREATE INDEX attribution_row_stats_contributor ON attribution_row_stats (contributor);
CREATE INDEX attribution_row_stats_flagged ON attribution_row_stats (flagged_at) WHERE flagged_at IS NOT NULL;
