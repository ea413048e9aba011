/** One record as a parser found it, before the format's schema is applied. */
export interface ParsedRecord {
  /** 1-based position in the upload (row number for reports when there are no lines). */
  item: number;
  /** 1-based line in the (extracted) text where the record starts, when it has one. */
  line: number | null;
  /** The record: an object for structured files, `{ text }` for text blocks. */
  data: unknown;
}

export type FileKind = 'txt' | 'md' | 'jsonl' | 'json' | 'csv' | 'pdf' | 'docx';
export const FILE_KINDS: readonly FileKind[] = ['txt', 'md', 'jsonl', 'json', 'csv', 'pdf', 'docx'];
export const TEXT_KINDS: readonly FileKind[] = ['txt', 'md', 'jsonl', 'json', 'csv'];
