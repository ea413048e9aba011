import { extname } from 'node:path';
import { invalid } from '../../util/errors.ts';
import { FILE_KINDS, type FileKind } from './types.ts';

/** File kind from the name's extension (`.jsonl`, `.ndjson` → jsonl, `.markdown` → md); 400 otherwise. */
export function fileKindOf(filename: string): FileKind {
  const ext = extname(filename).toLowerCase().replace(/^\./, '');
  const kind = ext === 'ndjson' ? 'jsonl' : ext === 'markdown' ? 'md' : ext === 'text' ? 'txt' : ext;
  if ((FILE_KINDS as readonly string[]).includes(kind)) return kind as FileKind;
  throw invalid(`unsupported file type "${extname(filename) || filename}"`, {
    param: 'file',
    code: 'unsupported_file_type',
    hint: `upload one of: ${FILE_KINDS.map((k) => '.' + k).join(' ')}`,
  });
}

/** Magic numbers of common binary formats, checked on files that claim to be text. */
const MAGIC: Array<[string, number[]]> = [
  ['PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG image', [0xff, 0xd8, 0xff]],
  ['GIF image', [0x47, 0x49, 0x46, 0x38]],
  ['zip archive (or .docx/.xlsx)', [0x50, 0x4b, 0x03, 0x04]],
  ['gzip archive', [0x1f, 0x8b]],
  ['PDF document', [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ['ELF executable', [0x7f, 0x45, 0x4c, 0x46]],
  ['WebAssembly module', [0x00, 0x61, 0x73, 0x6d]],
  ['7z archive', [0x37, 0x7a, 0xbc, 0xaf]],
  ['SQLite database', [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65]],
];

/**
 * Refuses bytes that are not text although the name says they are: a known binary magic number, a
 * NUL byte, or more than 1% control characters (other than tab, newline, CR, form feed) in the
 * first 64 KiB.
 */
export function assertLooksLikeText(bytes: Uint8Array, filename: string): void {
  const reject = (what: string) =>
    invalid(`${filename} looks like ${what}, not text`, {
      param: 'file',
      code: 'binary_file',
      hint: 'upload plain UTF-8 text (.txt .md .jsonl .json .csv), or give a .pdf/.docx its real extension',
    });
  for (const [name, sig] of MAGIC) {
    if (bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b)) throw reject(`a ${name}`);
  }
  const n = Math.min(bytes.length, 65536);
  let ctrl = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0) throw reject('binary data (it contains NUL bytes)');
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) ctrl++;
  }
  if (n > 0 && ctrl / n > 0.01) throw reject('binary data (it is full of control characters)');
}

/**
 * Offset of the first byte that is not part of a valid UTF-8 sequence, or -1. Rejects overlongs,
 * surrogates and code points above U+10FFFF, exactly as TextDecoder's fatal mode does.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= b.length) return i; // truncated sequence
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= need; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) return i;
    i += need + 1;
  }
  return -1;
}

/** Decodes UTF-8 strictly (a BOM is dropped); invalid bytes are a 400 naming the line and byte offset. */
export function decodeUtf8(bytes: Uint8Array, filename: string): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    throw invalid(`${filename} is not valid UTF-8: invalid byte 0x${bytes[bad].toString(16).padStart(2, '0')} at offset ${bad} (line ${line})`, {
      param: 'file',
      code: 'invalid_utf8',
      hint: 'save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 in.txt > out.txt`)',
      details: { offset: bad, line },
    });
  }
  // fatal: a second guard; it cannot throw after the scan above.
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
}
