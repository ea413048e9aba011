import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFile } from './index.ts';
import { DEFAULT_LIMITS } from '../limits.ts';
import { buildDocx, buildZip } from '../testing/zip.ts';
import { buildPdf } from '../testing/pdf.ts';
import { OpenLedgerError } from '../../util/errors.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const rejectsWith = (p: Promise<unknown>, code: string, status: number) =>
  assert.rejects(p, (e: OpenLedgerError) => {
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.ok(e.hint, 'every error names a fix');
    return true;
  });

test('.txt splits into paragraphs with their first line', async () => {
  const { records } = await parseFile(enc('first para\nstill first\n\n\nsecond\n\n  \nthird'), 'a.txt', 'text');
  assert.deepEqual(records.map((r) => [r.line, (r.data as { text: string }).text]), [
    [1, 'first para\nstill first'],
    [5, 'second'],
    [8, 'third'],
  ]);
});

test('.md keeps fenced code and a heading with its paragraph', async () => {
  const md = '# Title\n\nIntro text.\n\n```\ncode\n\nmore code\n```\n\nEnd.';
  const { records } = await parseFile(enc(md), 'a.md', 'text');
  assert.deepEqual(records.map((r) => (r.data as { text: string }).text), ['# Title\nIntro text.', '```\ncode\n\nmore code\n```', 'End.']);
});

test('.jsonl rows keep line numbers; a malformed line is a 400 naming the line', async () => {
  const { records } = await parseFile(enc('{"text":"a"}\n\n{"text":"b"}\n'), 'a.jsonl', 'text');
  assert.deepEqual(records.map((r) => r.line), [1, 3]);
  await assert.rejects(parseFile(enc('{"text":"a"}\n{"text": oops}\n[1]\n'), 'bad.jsonl', 'text'), (e: OpenLedgerError) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, 'malformed_jsonl');
    assert.match(e.message, /line 2/);
    assert.deepEqual((e.details!.lines as Array<{ line: number }>).map((l) => l.line), [2, 3]);
    return true;
  });
});

test('.json array and {rows}', async () => {
  const a = await parseFile(enc('[{"text":"x"},{"text":"y"}]'), 'a.json', 'text');
  assert.equal(a.records.length, 2);
  const b = await parseFile(enc('{"rows":[{"text":"x"}]}'), 'a.json', 'text');
  assert.equal(b.records[0].item, 1);
  await rejectsWith(parseFile(enc('{"text":"x"}'), 'a.json', 'text'), 'malformed_json', 400);
});

test('.csv maps columns, reports ragged rows on their line, refuses a missing column', async () => {
  const csv = 'text,label,extra\n"hello, world",pos,x\n"multi\nline",neg,y\nonly-one-field\nplain,pos,z\n';
  const { records } = await parseFile(enc(csv), 'a.csv', 'labelled');
  assert.deepEqual(records.map((r) => r.line), [2, 3, 5, 6]);
  assert.deepEqual(records[0].data, { text: 'hello, world', label: 'pos' });
  assert.deepEqual(records[1].data, { text: 'multi\nline', label: 'neg' });
  assert.ok('__csvError' in (records[2].data as object));
  await assert.rejects(parseFile(enc('text\nhello\n'), 'a.csv', 'labelled'), (e: OpenLedgerError) => {
    assert.equal(e.code, 'csv_missing_column');
    assert.match(e.message, /"label"/);
    return true;
  });
  await rejectsWith(parseFile(enc('text\n"unterminated\n'), 'a.csv', 'text'), 'malformed_csv', 400);
});

test('invalid UTF-8 is a 400 with offset and line', async () => {
  const bytes = new Uint8Array([...enc('good line\nbad '), 0xc3, 0x28, ...enc(' here')]);
  await assert.rejects(parseFile(bytes, 'a.txt', 'text'), (e: OpenLedgerError) => {
    assert.equal(e.code, 'invalid_utf8');
    assert.equal(e.details!.line, 2);
    assert.equal(e.details!.offset, 14);
    return true;
  });
  // overlong encoding of '/' and a lone surrogate are invalid too
  await rejectsWith(parseFile(new Uint8Array([0x61, 0xc0, 0xaf]), 'a.txt', 'text'), 'invalid_utf8', 400);
  await rejectsWith(parseFile(new Uint8Array([0x61, 0xed, 0xa0, 0x80]), 'a.txt', 'text'), 'invalid_utf8', 400);
  // valid multi-byte text passes, BOM dropped
  const ok = await parseFile(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('héllo wörld 日本 🎉')]), 'a.txt', 'text');
  assert.equal((ok.records[0].data as { text: string }).text, 'héllo wörld 日本 🎉');
});

test('binary content with a text extension is refused', async () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  await rejectsWith(parseFile(png, 'photo.txt', 'text'), 'binary_file', 400);
  await rejectsWith(parseFile(new Uint8Array([0x61, 0x00, 0x62]), 'a.jsonl', 'text'), 'binary_file', 400);
  await rejectsWith(parseFile(buildPdf([['x']]), 'a.txt', 'text'), 'binary_file', 400);
});

test('size, emptiness, type and format checks', async () => {
  await rejectsWith(parseFile(new Uint8Array(11), 'a.txt', 'text', { ...DEFAULT_LIMITS, maxUploadBytes: 10 }), 'upload_too_large', 413);
  await rejectsWith(parseFile(new Uint8Array(0), 'a.txt', 'text'), 'empty_upload', 400);
  await rejectsWith(parseFile(enc('\n\n  \n'), 'a.txt', 'text'), 'empty_upload', 400);
  await rejectsWith(parseFile(enc('x'), 'a.exe', 'text'), 'unsupported_file_type', 400);
  await rejectsWith(parseFile(enc('x'), 'a.txt', 'alpaca'), 'unsupported_file_for_format', 400);
  await rejectsWith(parseFile(enc('a\nb'), 'a.csv', 'sharegpt'), 'unsupported_file_for_format', 400);
  await rejectsWith(parseFile(enc('{"text":"a"}\n{"text":"b"}\n{"text":"c"}'), 'a.jsonl', 'text', { ...DEFAULT_LIMITS, maxRows: 2 }), 'too_many_rows', 413);
});

test('.pdf text is extracted page by page', async () => {
  const pdf = buildPdf([['The first page says hello.', 'Second line.'], ['Page two has its own paragraph.']]);
  const { records } = await parseFile(pdf, 'doc.pdf', 'text');
  const texts = records.map((r) => (r.data as { text: string }).text);
  assert.equal(texts.length, 2);
  assert.match(texts[0], /The first page says hello\./);
  assert.match(texts[0], /Second line\./);
  assert.equal(texts[1], 'Page two has its own paragraph.');
  await rejectsWith(parseFile(enc('%PDF-1.4 garbage'), 'x.pdf', 'text'), 'invalid_pdf', 400);
});

test('.docx text is extracted with mammoth', async () => {
  const docx = buildDocx(['Alpha paragraph one.', 'Beta paragraph two.']);
  const { records } = await parseFile(docx, 'doc.docx', 'text');
  assert.deepEqual(records.map((r) => (r.data as { text: string }).text), ['Alpha paragraph one.', 'Beta paragraph two.']);
  await rejectsWith(parseFile(enc('not a zip at all'), 'x.docx', 'text'), 'invalid_docx', 400);
});

test('zip-bomb .docx is refused before inflating: by declared size, by ratio, and when the header lies', async () => {
  const limits = { ...DEFAULT_LIMITS, maxExtractedBytes: 2 * 1024 * 1024 };
  const zeros = new Uint8Array(4 * 1024 * 1024); // deflates ~1000×
  const declared = buildDocx(['x'], [{ name: 'word/media/bomb.bin', data: zeros }]);
  assert.ok(declared.length < 20_000);
  await rejectsWith(parseFile(declared, 'bomb.docx', 'text', limits), 'zip_bomb', 413);
  // ratio: 1.5 MiB of zeros fits the total cap but expands absurdly
  const ratio = buildDocx(['x'], [{ name: 'word/media/r.bin', data: new Uint8Array(1536 * 1024) }]);
  await rejectsWith(parseFile(ratio, 'ratio.docx', 'text', limits), 'zip_bomb', 413);
  // the header claims 100 bytes but the entry inflates to 4 MiB
  const liar = buildDocx(['x'], [{ name: 'word/media/liar.bin', data: zeros, declaredSize: 100 }]);
  await rejectsWith(parseFile(liar, 'liar.docx', 'text', limits), 'zip_bomb', 413);
  // too many entries
  const many = buildZip(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.xml`, data: 'x' })));
  await rejectsWith(parseFile(many, 'many.docx', 'text', { ...limits, maxZipEntries: 20 }), 'zip_bomb', 413);
});
