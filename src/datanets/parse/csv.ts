import { parse } from 'csv-parse/sync';
import { invalid } from '../../util/errors.ts';
import { CSV_COLUMNS, type DataFormat } from '../formats.ts';
import type { ParsedRecord } from './types.ts';

/**
 * CSV with a header row → one record per data row, keyed by the format's column names (csv-parse,
 * RFC 4180 quoting, multi-line fields). A header missing a required column, or a quoting error, is a
 * 400 for the whole upload; a row with the wrong number of fields becomes a record carrying
 * `__csvError` so it is reported on its line and rejected alone. Extra columns are ignored.
 */
export function parseCsv(text: string, filename: string, format: DataFormat): ParsedRecord[] {
  const cols = CSV_COLUMNS[format];
  if (!cols) {
    throw invalid(`a ${format} datanet does not take CSV`, {
      param: 'file',
      code: 'unsupported_file_for_format',
      hint: 'conversations have nested turns: upload .jsonl or .json in sharegpt form',
    });
  }
  let records: Array<{ record: string[]; info: { lines: number; records: number; invalid_field_length: number } }>;
  try {
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true }) as never;
  } catch (err) {
    const e = err as Error & { lines?: number };
    throw invalid(`${filename}: CSV syntax error${e.lines ? ` near line ${e.lines}` : ''}: ${e.message}`, {
      param: 'file',
      code: 'malformed_csv',
      hint: 'quote fields that contain commas, quotes or newlines ("a ""quoted"" word")',
      details: { line: e.lines ?? null },
    });
  }
  if (records.length === 0) return [];
  const header = records[0].record.map((h) => h.trim().toLowerCase());
  const missing = cols.required.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw invalid(`${filename}: CSV is missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')}`, {
      param: 'file',
      code: 'csv_missing_column',
      hint: `the first row must name the columns; a ${format} datanet needs ${cols.required.join(', ')}${cols.optional.length ? ` (optional: ${cols.optional.join(', ')})` : ''}`,
      details: { header, missing },
    });
  }
  const wanted = [...cols.required, ...cols.optional].filter((c) => header.includes(c));
  const out: ParsedRecord[] = [];
  for (let r = 1; r < records.length; r++) {
    const { record, info } = records[r];
    // info.lines is the line the record ends on; count back the newlines inside its fields.
    const inner = record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0);
    const line = info.lines - inner;
    if (record.length !== header.length) {
      out.push({ item: r, line, data: { __csvError: `expected ${header.length} fields, found ${record.length}` } });
      continue;
    }
    const data: Record<string, string> = {};
    for (const c of wanted) {
      const v = record[header.indexOf(c)];
      if (cols.optional.includes(c) && v === '') continue;
      data[c] = v;
    }
    out.push({ item: r, line, data });
  }
  return out;
}
