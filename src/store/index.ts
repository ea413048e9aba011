/**
 * The node's store. `openStore(dataDir)` locks the data dir, opens `<dataDir>/store.sqlite`,
 * migrates it, and hands out repositories. `store.db` is the raw handle for modules that own
 * their own tables and migrations (datanets, factory, …) — they keep their SQL in their own
 * repository file so the Postgres port has one place per module to change.
 */
import { join } from 'node:path';
import { lockDataDir, openDatabase, type Db } from './db.ts';
import { SqliteChainIndex, SqliteIdentity, SqliteMeta } from './sqlite.ts';
import type { ChainIndexRepo, IdentityRepo, MetaRepo } from './types.ts';

export * from './types.ts';
export { migrate, listMigrations } from './migrate.ts';
export type { Db } from './db.ts';

export interface Store {
  db: Db;
  chainIndex: ChainIndexRepo;
  identity: IdentityRepo;
  meta: MetaRepo;
  close(): void;
}

export function openStore(dataDir: string, opts: { lock?: boolean } = {}): Store {
  const unlock = opts.lock === false ? () => {} : lockDataDir(dataDir);
  let db: Db;
  try {
    db = openDatabase(join(dataDir, 'store.sqlite'));
  } catch (e) {
    unlock();
    throw e;
  }
  return {
    db,
    chainIndex: new SqliteChainIndex(db),
    identity: new SqliteIdentity(db),
    meta: new SqliteMeta(db),
    close() {
      if (db.open) db.close();
      unlock();
    },
  };
}
