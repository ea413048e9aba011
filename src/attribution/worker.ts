/** The attribution thread: its own read-only connection to the store, one Attributor (caches), jobs from queue.ts. */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { OpenLedgerError } from '../util/errors.ts';
import { Attributor } from './attribute.ts';
import type { AttributionConfig } from './config.ts';

const { dbPath, dataDir, config } = workerData as { dbPath: string; dataDir: string; config: AttributionConfig };
// Before anything starts threads (the engine's kernels): attribution yields the CPU to serving.
if (config.nice > 0) {
  try { setPriority(Math.min(19, getPriority() + config.nice)); } catch { /* not permitted: run at the process's priority */ }
}
const db = new Database(dbPath, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
const attributor = new Attributor({ db, dataDir, config });
const port = parentPort!;

port.on('message', (m: { type: 'attribute'; id: string }) => {
  attributor.attribute(m.id).then(
    (outcome) => port.postMessage({ type: 'done', id: m.id, outcome }),
    (e: unknown) => {
      const err = e instanceof OpenLedgerError ? { message: e.message, type: e.type, code: e.code, hint: e.hint } : { message: (e as Error)?.message ?? String(e), type: 'internal_error', code: 'internal_error' };
      port.postMessage({ type: 'error', id: m.id, error: err });
    },
  );
});
