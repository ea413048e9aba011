import { OpenLedgerError, invalid } from '../../util/errors.ts';
import type { DataFormat } from '../formats.ts';
import { DEFAULT_LIMITS, type UploadLimits } from '../limits.ts';
import { assertLooksLikeText, decodeUtf8, fileKindOf } from './detect.ts';
import { parseTextBlocks } from './text.ts';
import { parseJsonDocument, parseJsonl } from './jsonl.ts';
import { parseCsv } from './csv.ts';
import { extractDocxText } from './docx.ts';
import { extractPdfText } from './pdf.ts';
import type { FileKind, ParsedRecord } from './types.ts';

export type { ParsedRecord, FileKind } from './types.ts';
export { fileKindOf, decodeUtf8, firstInvalidUtf8, assertLooksLikeText } from './detect.ts';
export { recordsFromJsonValue } from './jsonl.ts';

export const tooLarge = (what: string, size: number, max: number) =>
  new OpenLedgerError(`${what} is ${size} bytes; the limit is ${max} bytes`, {
    type: 'payload_too_large',
    code: 'upload_too_large',
    param: 'file',
    hint: 'split the data into several smaller uploads',
    details: { size, max },
  });

/**
 * Bytes of one uploaded file → records, by extension. File-level problems (size, binary content,
 * invalid UTF-8, malformed JSONL/JSON/CSV structure, a CSV header without the format's columns, zip
 * bombs, unreadable PDFs) throw a 4xx and nothing of the upload is kept; row-level problems are left
 * to validation.
 */
export async function parseFile(bytes: Uint8Array, filename: string, format: DataFormat, limits: UploadLimits = DEFAULT_LIMITS): Promise<{ kind: FileKind; records: ParsedRecord[] }> {
  if (bytes.byteLength > limits.maxUploadBytes) throw tooLarge(filename, bytes.byteLength, limits.maxUploadBytes);
  if (bytes.byteLength === 0) throw invalid(`${filename} is empty`, { param: 'file', code: 'empty_upload', hint: 'upload a file with at least one row' });
  const kind = fileKindOf(filename);
  let text: string;
  if (kind === 'pdf' || kind === 'docx') {
    if (format !== 'text') throw structuredOnly(format, kind);
    text = kind === 'pdf' ? await extractPdfText(bytes, filename, limits) : await extractDocxText(bytes, filename, limits);
  } else {
    assertLooksLikeText(bytes, filename);
    text = decodeUtf8(bytes, filename);
  }
  let records: ParsedRecord[];
  switch (kind) {
    case 'txt':
    case 'md':
    case 'pdf':
    case 'docx':
      if (format !== 'text') throw structuredOnly(format, kind);
      records = parseTextBlocks(text, kind === 'md');
      break;
    case 'jsonl':
      records = parseJsonl(text, filename);
      break;
    case 'json':
      records = parseJsonDocument(text, filename);
      break;
    case 'csv':
      records = parseCsv(text, filename, format);
      break;
  }
  if (records.length === 0) throw invalid(`${filename} has no rows`, { param: 'file', code: 'empty_upload', hint: 'upload a file with at least one row' });
  if (records.length > limits.maxRows) {
    throw new OpenLedgerError(`${filename} has ${records.length} rows; the limit is ${limits.maxRows} rows per upload`, {
      type: 'payload_too_large',
      code: 'too_many_rows',
      param: 'file',
      hint: 'split the data into several smaller uploads',
      details: { rows: records.length, max: limits.maxRows },
    });
  }
  return { kind, records };
}

function structuredOnly(format: DataFormat, kind: FileKind) {
  return invalid(`a ${format} datanet needs structured rows; .${kind} holds free text`, {
    param: 'file',
    code: 'unsupported_file_for_format',
    hint: format === 'sharegpt' ? 'upload .jsonl or .json in sharegpt form' : 'upload .jsonl, .json or .csv with the format\'s fields',
  });
}
