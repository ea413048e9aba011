import type { Hex } from '../da/index.ts';
import { invalid } from '../util/errors.ts';
import { ROW_SCHEMAS, type DataFormat } from './formats.ts';
import { rowHash } from './hashing.ts';
import { DEFAULT_LIMITS, type UploadLimits } from './limits.ts';
import { uploadRoot } from './merkle.ts';
import { parseFile, recordsFromJsonValue, type ParsedRecord } from './parse/index.ts';

/**
 * The part of an upload that needs no datanet state: parse the file (or JSON rows) and compute the
 * hashes of the rows that fit the format's schema, and their root. Client and node both run this:
 * the client to sign `rowsRoot`, the node to check that the signature covers what it received.
 */
export interface PreparedUpload {
  records: ParsedRecord[];
  /** Hashes of the schema-valid rows, in upload order. */
  rowHashes: Hex[];
  rowsRoot: Hex;
}

export async function prepareFile(bytes: Uint8Array, filename: string, format: DataFormat, limits: UploadLimits = DEFAULT_LIMITS): Promise<PreparedUpload> {
  const { records } = await parseFile(bytes, filename, format, limits);
  return withRoot(records, format, filename);
}

/** Rows sent as JSON (an array of row objects) instead of a file. */
export function prepareRows(rows: unknown, format: DataFormat, limits: UploadLimits = DEFAULT_LIMITS): PreparedUpload {
  const records = recordsFromJsonValue(rows, 'rows');
  if (records.length === 0) throw invalid('no rows given', { param: 'rows', code: 'empty_upload', hint: 'send at least one row' });
  if (records.length > limits.maxRows) throw invalid(`${records.length} rows; the limit is ${limits.maxRows}`, { param: 'rows', code: 'too_many_rows', hint: 'split the rows into several uploads' });
  return withRoot(records, format, 'rows');
}

function withRoot(records: ParsedRecord[], format: DataFormat, filename: string): PreparedUpload {
  const schema = ROW_SCHEMAS[format];
  const rowHashes: Hex[] = [];
  for (const r of records) {
    const p = schema.safeParse(r.data);
    if (p.success) rowHashes.push(rowHash(format, p.data));
  }
  if (rowHashes.length === 0) {
    throw invalid(`${filename}: no row fits the ${format} format`, {
      param: 'file',
      code: 'no_valid_rows',
      hint: `check the field names: ${formatHint(format)}`,
      details: { records: records.length },
    });
  }
  return { records, rowHashes, rowsRoot: uploadRoot(rowHashes) };
}

export function formatHint(format: DataFormat): string {
  switch (format) {
    case 'text':
      return '{"text": "..."}';
    case 'alpaca':
      return '{"instruction": "...", "input": "..." (optional), "output": "..."}';
    case 'sharegpt':
      return '{"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}';
    case 'labelled':
      return '{"text": "...", "label": "..."}';
  }
}
