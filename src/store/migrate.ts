/**
 * Versioned migrations: `migrations/NNN_name.sql`, applied in filename order, each in its own
 * transaction, recorded with a checksum so an edited migration that already ran is caught.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { configError } from '../util/errors.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const sql = readFileSync(join(dir, f), 'utf8');
      return {
        version: Number(f.split('_')[0]),
        name: f.replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

/** Apply pending migrations; returns the names applied. */
export function migrate(db: Database.Database, migrations = listMigrations()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Map<number, { name: string; checksum: string }>();
  for (const row of db.prepare('SELECT version, name, checksum FROM schema_migrations').all() as Array<{ version: number; name: string; checksum: string }>) {
    applied.set(row.version, row);
  }
  const known = new Set(migrations.map((m) => m.version));
  for (const [version, row] of applied) {
    if (!known.has(version)) {
      throw configError(`the store was migrated by a newer openledger (migration ${row.name} is unknown to this version)`, {
        code: 'store_too_new',
        hint: 'upgrade openledger, or use a data dir made by this version',
      });
    }
  }
  const done: string[] = [];
  for (const m of migrations) {
    const prev = applied.get(m.version);
    if (prev) {
      if (prev.checksum !== m.checksum) {
        throw configError(`migration ${m.name} changed after it was applied to this store`, {
          code: 'migration_checksum',
          hint: 'migrations are append-only: restore the original file and add a new migration for the change',
        });
      }
      continue;
    }
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        m.version, m.name, m.checksum, new Date().toISOString(),
      );
    })();
    done.push(m.name);
  }
  return done;
}
