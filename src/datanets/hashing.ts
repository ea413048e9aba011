import { createHash } from 'node:crypto';
import type { Hex } from '../da/index.ts';
import { canonicalRow, type DataFormat, type RowData } from './formats.ts';

const sha256Hex = (s: string | Uint8Array): Hex => `0x${createHash('sha256').update(s).digest('hex')}`;

/** Canonical UTF-8 JSON of a row: fixed field order, no whitespace. */
export function canonicalJson(format: DataFormat, row: RowData): string {
  return JSON.stringify(canonicalRow(format, row));
}

/**
 * A row's content hash: sha256 of its canonical JSON. This is the bytes32 the Merkle leaf binds to the
 * contributor, so it identifies the exact row (case and spacing included).
 */
export function rowHash(format: DataFormat, row: RowData): Hex {
  return sha256Hex(canonicalJson(format, row));
}

/** NFKC, lower case, whitespace collapsed to one space, trimmed: the form exact dedup compares. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** Exact-duplicate key: sha256 of the normalised row text. */
export function dedupKey(text: string): Hex {
  return sha256Hex(normalizeText(text));
}
