import type { Address } from 'viem';
import type { Hex } from '../da/index.ts';
import { canonicalRow, type DataFormat, type RowData } from './formats.ts';
import { rowHash } from './hashing.ts';
import { invalid } from '../util/errors.ts';

/** One accepted row as a version holds it. */
export interface VersionRow {
  id: number;
  hash: Hex;
  contributor: Address;
  data: RowData;
}

/**
 * A version snapshot: JSONL, one row per line in row-id order,
 *   {"id":17,"hash":"0x…","contributor":"0x…","data":{…canonical row…}}
 * Deterministic bytes for the same rows, so its sha256 (the DA content id) is recorded on chain as the
 * version's contentHash and anyone can rebuild the Merkle root from it.
 */
export function snapshotJsonl(format: DataFormat, rows: VersionRow[]): string {
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  return sorted.map((r) => JSON.stringify({ id: r.id, hash: r.hash, contributor: r.contributor, data: canonicalRow(format, r.data) })).join('\n') + '\n';
}

/** Parses a snapshot and checks every row's hash against its data. */
export function parseSnapshot(format: DataFormat, text: string): VersionRow[] {
  const out: VersionRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].length === 0) continue;
    const r = JSON.parse(lines[i]) as VersionRow;
    if (rowHash(format, r.data) !== r.hash) {
      throw invalid(`snapshot line ${i + 1}: row ${r.id} does not hash to ${r.hash}`, { code: 'snapshot_corrupt', hint: 'the snapshot blob was altered; fetch it again from the DA layer' });
    }
    out.push(r);
  }
  return out;
}

/**
 * Training export: JSONL in the datanet's format, one row per line with its row id and hash first,
 * so a training run can record exactly which rows it saw:
 *   text      {"id","hash","text"}
 *   alpaca    {"id","hash","instruction","input"?,"output"}
 *   sharegpt  {"id","hash","system"?,"conversations":[{"from","value"}]}
 *   labelled  {"id","hash","text","label"}
 */
export function exportJsonl(format: DataFormat, rows: VersionRow[]): string {
  const sorted = [...rows].sort((a, b) => a.id - b.id);
  return sorted.map((r) => JSON.stringify({ id: r.id, hash: r.hash, ...canonicalRow(format, r.data) })).join('\n') + '\n';
}
