import { canonicalJson, dedupKey, rowHash } from './hashing.ts';
import { ROW_SCHEMAS, rowText, type DataFormat, type RowData } from './formats.ts';
import { LshIndex, minhash, DEFAULT_MINHASH, type MinHashParams } from './minhash.ts';
import { DEFAULT_LIMITS, type UploadLimits } from './limits.ts';
import type { ParsedRecord } from './parse/index.ts';
import type { Hex } from '../da/index.ts';

/**
 * Automatic validation of one upload's records against the datanet: schema of the format, size,
 * empty or garbage content, exact duplicates (normalised-text hash) and near duplicates (MinHash +
 * LSH), against the datanet's existing rows and earlier rows of the same upload. The first
 * submitter keeps the credit: a later copy is rejected and points at the row it duplicates.
 *
 * Rows that pass are `passed`; the policy then makes them `accepted` (automatic) or `pending`
 * (validators). Every rejected row carries reasons; the report lists them with line numbers.
 */
export type RejectCode =
  | 'schema'
  | 'empty'
  | 'too_long'
  | 'garbage'
  | 'control_characters'
  | 'label_not_allowed'
  | 'duplicate'
  | 'near_duplicate'
  | 'csv_row';

export interface Reason {
  code: RejectCode;
  message: string;
}

/** What the datanet already holds, for dedup. Keys of `near` are row ids. */
export interface ExistingRows {
  /** normalised-text hash → row id of the first row with it */
  exact: Map<Hex, number>;
  near: LshIndex<number>;
}

export function emptyExisting(params: MinHashParams = DEFAULT_MINHASH): ExistingRows {
  return { exact: new Map(), near: new LshIndex<number>(params) };
}

export interface CheckedRow {
  item: number;
  line: number | null;
  status: 'passed' | 'rejected';
  reasons: Reason[];
  /** Canonical row (null when the record failed the schema). */
  data: RowData | null;
  /** sha256 of canonical JSON (null when the schema failed). */
  hash: Hex | null;
  dedupKey: Hex | null;
  /** MinHash signature, kept for rows that pass so the store can index them. */
  signature: Uint32Array | null;
  /** For duplicates: the row it duplicates, `{ rowId }` in the datanet or `{ item }` in this upload. */
  duplicateOf?: { rowId: number } | { item: number };
  similarity?: number;
}

export interface ValidateOptions {
  format: DataFormat;
  /** For labelled datanets: allowed labels (any non-empty label when absent). */
  labels?: string[];
  limits?: UploadLimits;
  minhash?: MinHashParams;
  /** Called every `yieldEvery` rows so a large upload does not hold the event loop. */
  yieldEvery?: number;
}

/**
 * Garbage heuristics on the row text (after the schema passed): control characters other than tab
 * and newline; fewer than half of the non-space characters letters or digits; one character making
 * most of a long text; U+FFFD replacement characters (mojibake from a bad conversion).
 */
export function garbageReason(text: string): Reason | null {
  if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/u.test(text)) return { code: 'control_characters', message: 'contains control characters' };
  const chars = [...text.replace(/\s+/gu, '')];
  if (chars.length === 0) return { code: 'empty', message: 'is empty or whitespace only' };
  const repl = chars.filter((c) => c === '\uFFFD').length;
  if (repl > 0) return { code: 'garbage', message: `contains ${repl} replacement character(s) (U+FFFD): likely a broken encoding conversion` };
  const alnum = chars.filter((c) => /[\p{L}\p{N}]/u.test(c)).length;
  if (chars.length >= 4 && alnum / chars.length < 0.5) return { code: 'garbage', message: `only ${Math.round((100 * alnum) / chars.length)}% letters or digits` };
  if (chars.length >= 20) {
    const counts = new Map<string, number>();
    for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
    const top = Math.max(...counts.values());
    if (top / chars.length > 0.5) return { code: 'garbage', message: 'one character repeated over most of the text' };
  }
  return null;
}

export async function validateRecords(records: ParsedRecord[], existing: ExistingRows, opts: ValidateOptions): Promise<CheckedRow[]> {
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const schema = ROW_SCHEMAS[opts.format];
  const params = opts.minhash ?? existing.near.params;
  // Rows of this upload that passed, for in-upload dedup (negative keys keep them apart from row ids).
  const uploadExact = new Map<Hex, number>();
  const uploadNear = new LshIndex<number>(params);
  const out: CheckedRow[] = [];
  const yieldEvery = opts.yieldEvery ?? 500;

  for (let n = 0; n < records.length; n++) {
    if (n > 0 && n % yieldEvery === 0) await new Promise((r) => setImmediate(r));
    const rec = records[n];
    const row: CheckedRow = { item: rec.item, line: rec.line, status: 'rejected', reasons: [], data: null, hash: null, dedupKey: null, signature: null };
    out.push(row);
    const raw = rec.data as Record<string, unknown> | null;
    if (raw && typeof raw === 'object' && '__csvError' in raw) {
      row.reasons.push({ code: 'csv_row', message: String(raw.__csvError) });
      continue;
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.join('.');
        const empty = issue.message === 'must not be empty';
        row.reasons.push({ code: empty ? 'empty' : 'schema', message: path ? `${path}: ${issue.message}` : issue.message });
      }
      continue;
    }
    const data = parsed.data;
    const json = canonicalJson(opts.format, data);
    row.data = JSON.parse(json) as RowData;
    row.hash = rowHash(opts.format, data);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > limits.maxRowBytes) {
      row.reasons.push({ code: 'too_long', message: `row is ${bytes} bytes (limit ${limits.maxRowBytes})` });
      continue;
    }
    if (opts.format === 'labelled' && opts.labels && opts.labels.length > 0) {
      const label = (data as { label: string }).label;
      if (!opts.labels.includes(label)) {
        row.reasons.push({ code: 'label_not_allowed', message: `label "${label}" is not one of: ${opts.labels.join(', ')}` });
        continue;
      }
    }
    const text = rowText(opts.format, data);
    const garbage = garbageReason(text);
    if (garbage) {
      row.reasons.push(garbage);
      continue;
    }
    const key = dedupKey(text);
    row.dedupKey = key;
    const prevRow = existing.exact.get(key);
    const prevItem = uploadExact.get(key);
    if (prevRow !== undefined || prevItem !== undefined) {
      row.duplicateOf = prevRow !== undefined ? { rowId: prevRow } : { item: prevItem! };
      row.reasons.push({
        code: 'duplicate',
        message: prevRow !== undefined ? `exact duplicate of row ${prevRow} already in the datanet` : `exact duplicate of item ${prevItem} in this upload`,
      });
      continue;
    }
    const sig = minhash(text, params);
    const nearRow = existing.near.query(sig);
    const nearItem = nearRow ? null : uploadNear.query(sig);
    const near = nearRow ? { dup: { rowId: nearRow.key }, sim: nearRow.similarity } : nearItem ? { dup: { item: nearItem.key }, sim: nearItem.similarity } : null;
    if (near) {
      row.duplicateOf = near.dup;
      row.similarity = near.sim;
      const where = 'rowId' in near.dup ? `row ${near.dup.rowId} already in the datanet` : `item ${near.dup.item} in this upload`;
      row.reasons.push({ code: 'near_duplicate', message: `near duplicate (estimated Jaccard ${near.sim.toFixed(2)}) of ${where}` });
      continue;
    }
    row.status = 'passed';
    row.signature = sig;
    uploadExact.set(key, rec.item);
    uploadNear.add(rec.item, sig);
  }
  return out;
}

/** Per-upload report: counts and the rejected rows with their lines and reasons. */
export interface UploadReport {
  file: string;
  format: DataFormat;
  rows: number;
  accepted: number;
  pending: number;
  rejected: number;
  /** Every row: item, line, status after policy, reasons, hash, and row id once stored. */
  results: Array<{
    item: number;
    line: number | null;
    status: 'accepted' | 'pending' | 'rejected';
    reasons: Reason[];
    hash: Hex | null;
    rowId?: number;
    duplicateOf?: { rowId: number } | { item: number };
  }>;
}

/** Builds the report, turning `passed` into the policy's first status (accepted or pending). */
export function buildReport(file: string, format: DataFormat, rows: CheckedRow[], passedAs: 'accepted' | 'pending', rowIds?: Map<number, number>): UploadReport {
  const results = rows.map((r) => ({
    item: r.item,
    line: r.line,
    status: r.status === 'passed' ? passedAs : ('rejected' as const),
    reasons: r.reasons,
    hash: r.hash,
    ...(rowIds?.has(r.item) ? { rowId: rowIds.get(r.item)! } : {}),
    ...(r.duplicateOf ? { duplicateOf: r.duplicateOf } : {}),
  }));
  const count = (s: string) => results.filter((r) => r.status === s).length;
  return { file, format, rows: rows.length, accepted: count('accepted'), pending: count('pending'), rejected: count('rejected'), results };
}
