/**
 * Opening the node's SQLite database: one file in the data dir, WAL mode, a data-dir lock so two
 * nodes never share it, an integrity check, and migrations applied in one transaction each.
 */
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { configError, OpenLedgerError } from '../util/errors.ts';
import { migrate } from './migrate.ts';

export type Db = Database.Database;

/** Take `<dataDir>/node.lock` (holds our PID); a lock whose PID is alive is a node already running. */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'node.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw configError(`cannot create the lock file ${path}: ${(e as Error).message}`, {
          code: 'data_dir_unwritable',
          hint: 'check that the data dir is writable, or choose another with --data-dir',
        });
      }
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || isAlive(pid))) {
        throw configError(`data dir ${dataDir} is in use by another openledger node (pid ${pid}${pid === process.pid ? ', this process' : ''})`, {
          code: 'data_dir_locked',
          hint: `stop that node first (kill ${pid}), or start this one with another --data-dir`,
        });
      }
      unlinkSync(path); // stale lock from a node that died: take it over
    }
  }
  throw configError(`could not lock data dir ${dataDir}`, { code: 'data_dir_locked' });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Open (creating if needed) the store database and bring its schema up to date. */
export function openDatabase(path: string): Db {
  let db: Db;
  const existed = existsSync(path);
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    if (existed) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
    }
  } catch (e) {
    throw new OpenLedgerError(`the store database ${path} is corrupt or unreadable: ${(e as Error).message}`, {
      type: 'config_error',
      code: 'store_corrupt',
      hint: `restore it from a backup, or move it away to start with an empty store (the chain state is kept separately; the indexer rebuilds chain events)`,
      cause: e,
    });
  }
  migrate(db);
  return db;
}
