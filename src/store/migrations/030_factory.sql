-- Model Factory (issue 4): uploaded training files, fine-tuning jobs, their events and
-- checkpoints, the exact rows each job trained on, and the models it registered.

CREATE TABLE factory_files (
  id          TEXT PRIMARY KEY,            -- file-<hex>
  owner       TEXT NOT NULL,               -- address that uploaded it
  filename    TEXT NOT NULL,
  purpose     TEXT NOT NULL,               -- 'fine-tune'
  bytes       INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  path        TEXT NOT NULL,               -- under <dataDir>/factory/files
  created_at  INTEGER NOT NULL             -- unix seconds
);
CREATE INDEX factory_files_owner ON factory_files(owner);

CREATE TABLE factory_jobs (
  id            TEXT PRIMARY KEY,          -- ftjob-<hex>
  seq           INTEGER NOT NULL UNIQUE,   -- creation order (pagination, queue order)
  owner         TEXT NOT NULL,             -- the caller who created it (registered model owner)
  model         TEXT NOT NULL,             -- base model: catalog name or path
  status        TEXT NOT NULL,             -- validating_files | queued | running | succeeded | failed | cancelled
  request       TEXT NOT NULL,             -- the validated request (JSON): sources, hyperparameters, suffix, …
  result        TEXT,                      -- JSON: evaluation, exports, registration
  error         TEXT,                      -- JSON { message, code, param, hint } when failed
  fine_tuned_model TEXT,
  trained_steps INTEGER NOT NULL DEFAULT 0,
  total_steps   INTEGER,
  created_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER
);
CREATE INDEX factory_jobs_owner ON factory_jobs(owner, seq);
CREATE INDEX factory_jobs_status ON factory_jobs(status, seq);

CREATE TABLE factory_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id      TEXT NOT NULL REFERENCES factory_jobs(id),
  level       TEXT NOT NULL,               -- info | warn | error
  type        TEXT NOT NULL,               -- message | metrics
  message     TEXT NOT NULL,
  data        TEXT,                        -- JSON (metrics: step, loss, lr, tokens_per_s, eta_s, …)
  created_at  INTEGER NOT NULL
);
CREATE INDEX factory_events_job ON factory_events(job_id, id);

CREATE TABLE factory_checkpoints (
  id          TEXT PRIMARY KEY,            -- ftckpt-<job>-<step>
  job_id      TEXT NOT NULL REFERENCES factory_jobs(id),
  step        INTEGER NOT NULL,
  loss        REAL NOT NULL,
  path        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (job_id, step)
);

-- Exactly which rows a job saw: source (datanet id + version, or an uploaded file), row id, hash, split.
CREATE TABLE factory_job_rows (
  job_id      TEXT NOT NULL REFERENCES factory_jobs(id),
  ord         INTEGER NOT NULL,            -- index in the job's dataset
  datanet_id  INTEGER,                     -- null for an uploaded file
  version     INTEGER,
  file_id     TEXT,
  row_id      INTEGER NOT NULL,
  row_hash    TEXT NOT NULL,
  contributor TEXT,
  split       TEXT NOT NULL,               -- train | eval
  PRIMARY KEY (job_id, ord)
);

CREATE TABLE factory_models (
  job_id        TEXT PRIMARY KEY,          -- ftjob-… (trained here) or import-… (adapter added from elsewhere)
  name          TEXT NOT NULL UNIQUE,      -- ft:<base>:<suffix>:<job>
  owner         TEXT NOT NULL,
  base_model    TEXT NOT NULL,             -- catalog name or path, as the request named it
  model_id      TEXT,                      -- ModelRegistry id (decimal), null when not registered
  tx_hash       TEXT,
  base_model_hash TEXT NOT NULL,
  adapter_hash  TEXT NOT NULL,
  config_hash   TEXT NOT NULL,
  metadata_uri  TEXT NOT NULL,
  peft_dir      TEXT NOT NULL,
  gguf_path     TEXT NOT NULL,
  price_in_wei  TEXT NOT NULL,
  price_out_wei TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
