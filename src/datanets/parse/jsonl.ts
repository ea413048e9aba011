import { invalid } from '../../util/errors.ts';
import type { ParsedRecord } from './types.ts';

const MAX_LISTED = 20;

/**
 * JSON Lines → one record per non-blank line. A line that is not a JSON object makes the whole upload
 * a 400 listing the bad lines (up to 20) with the parser's message: a malformed file is refused, not
 * half-imported.
 */
export function parseJsonl(text: string, filename: string): ParsedRecord[] {
  const lines = text.split(/\r?\n/);
  const out: ParsedRecord[] = [];
  const bad: Array<{ line: number; message: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].trim();
    if (s.length === 0) continue;
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (err) {
      bad.push({ line: i + 1, message: (err as Error).message });
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      bad.push({ line: i + 1, message: `expected a JSON object, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}` });
      continue;
    }
    out.push({ item: out.length + bad.length + 1, line: i + 1, data: v });
  }
  if (bad.length > 0) {
    const first = bad[0];
    throw invalid(`${filename}: malformed JSON on line ${first.line}: ${first.message}${bad.length > 1 ? ` (and ${bad.length - 1} more lines)` : ''}`, {
      param: 'file',
      code: 'malformed_jsonl',
      hint: 'each line must be one complete JSON object; fix the listed lines and upload again (nothing was stored)',
      details: { lines: bad.slice(0, MAX_LISTED), malformedLines: bad.length },
    });
  }
  return out;
}

/**
 * A JSON document: an array of row objects, or `{ "rows": [...] }`. Records carry their item number
 * (1-based index in the array) and no line.
 */
export function parseJsonDocument(text: string, filename: string): ParsedRecord[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalid(`${filename}: not valid JSON: ${(err as Error).message}`, {
      param: 'file',
      code: 'malformed_json',
      hint: 'a .json upload is an array of row objects (or {"rows": [...]}); use .jsonl for one object per line',
    });
  }
  return recordsFromJsonValue(v, filename);
}

export function recordsFromJsonValue(v: unknown, filename: string): ParsedRecord[] {
  const rows = Array.isArray(v) ? v : v && typeof v === 'object' && Array.isArray((v as { rows?: unknown }).rows) ? (v as { rows: unknown[] }).rows : null;
  if (!rows) {
    throw invalid(`${filename}: expected an array of rows or {"rows": [...]}`, {
      param: 'rows',
      code: 'malformed_json',
      hint: 'send rows as a JSON array of objects in the datanet\'s format',
    });
  }
  return rows.map((data, i) => ({ item: i + 1, line: null, data }));
}
