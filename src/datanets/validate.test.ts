import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRecords, emptyExisting, buildReport, garbageReason } from './validate.ts';
import { minhash, jaccard, estimateJaccard, LshIndex, signatureToBytes, signatureFromBytes } from './minhash.ts';
import { dedupKey, rowHash, normalizeText } from './hashing.ts';
import type { ParsedRecord } from './parse/index.ts';

const recs = (rows: unknown[]): ParsedRecord[] => rows.map((data, i) => ({ item: i + 1, line: i + 1, data }));
const para =
  'The quick brown fox jumps over the lazy dog while the farmer watches from the porch and the sun sets slowly behind the hills of the valley on a warm summer evening ' +
  'while in the distance a train whistles twice as it crosses the old iron bridge near the mill where children once played games of hide and seek among stacks of grain sacks';

test('normalisation: NFKC, case and whitespace', () => {
  assert.equal(normalizeText('  Ｆｕｌｌ\u00a0WIDTH\n\ttext  '), 'full width text');
  assert.equal(dedupKey('Hello   World'), dedupKey('hello world'));
  assert.notEqual(rowHash('text', { text: 'Hello World' }), rowHash('text', { text: 'hello world' }));
  // canonical order: field order in the input does not change the hash
  assert.equal(rowHash('alpaca', { output: 'o', instruction: 'i' } as never), rowHash('alpaca', { instruction: 'i', output: 'o' }));
});

test('MinHash estimate tracks Jaccard; LSH finds near duplicates and not unrelated text', () => {
  const words = para.split(' ');
  const edited = [...words.slice(0, 30), 'suddenly', ...words.slice(30)].join(' ');
  const j = jaccard(para, edited);
  const est = estimateJaccard(minhash(para), minhash(edited));
  assert.ok(j > 0.8, `jaccard ${j}`);
  assert.ok(Math.abs(est - j) < 0.12, `estimate ${est} vs ${j}`);
  const other = 'Completely different sentence about ledgers, tokens and merkle proofs that shares no five word run with the fox text at all';
  assert.ok(estimateJaccard(minhash(para), minhash(other)) < 0.1);
  const idx = new LshIndex<number>();
  idx.add(1, minhash(para));
  idx.add(2, minhash(other));
  assert.equal(idx.query(minhash(edited))?.key, 1);
  assert.equal(idx.query(minhash('yet another unrelated line of text with its own words entirely here')), null);
  const sig = minhash(para);
  assert.deepEqual(signatureFromBytes(signatureToBytes(sig)), sig);
});

test('validation: schema, empty, garbage, too long, labels, duplicates; first submitter keeps credit', async () => {
  const existing = emptyExisting();
  existing.exact.set(dedupKey('already in the datanet'), 7);
  existing.near.add(9, minhash(para));
  const words = para.split(' ');
  const rows = await validateRecords(
    recs([
      { text: 'A fine first sentence about something.', label: 'pos' }, // 1 ok
      { text: 'A FINE first   sentence about something.', label: 'neg' }, // 2 exact dup of 1 (label ignored)
      { text: '   ', label: 'pos' }, // 3 empty
      { text: '@@@@ #### $$$$ %%%% !!!!', label: 'pos' }, // 4 garbage
      { text: 'Already in the datanet', label: 'pos' }, // 5 dup of row 7
      { text: [...words.slice(0, 20), 'indeed', ...words.slice(20)].join(' '), label: 'pos' }, // 6 near dup of row 9
      { txt: 'wrong field', label: 'pos' }, // 7 schema
      { text: 'Fine but with a label nobody allowed.', label: 'maybe' }, // 8 label
      { text: 'x'.repeat(100) + ' long words here', label: 'pos' }, // 9 garbage (one char)
      { text: 'Bell\u0007 character inside', label: 'pos' }, // 10 control chars
      { __csvError: 'expected 2 fields, found 1' }, // 11 csv
      { text: 'A distinct second sentence that is fine too.', label: 'neg' }, // 12 ok
      { text: 'word '.repeat(20000), label: 'pos' }, // 13 too long
    ]),
    existing,
    { format: 'labelled', labels: ['pos', 'neg'] },
  );
  const codes = rows.map((r) => (r.status === 'passed' ? 'ok' : r.reasons[0].code));
  assert.deepEqual(codes, ['ok', 'duplicate', 'empty', 'garbage', 'duplicate', 'near_duplicate', 'schema', 'label_not_allowed', 'garbage', 'control_characters', 'csv_row', 'ok', 'too_long']);
  assert.deepEqual(rows[1].duplicateOf, { item: 1 });
  assert.deepEqual(rows[4].duplicateOf, { rowId: 7 });
  assert.deepEqual(rows[5].duplicateOf, { rowId: 9 });
  assert.ok(rows[0].signature && rows[0].hash && rows[0].dedupKey);

  const report = buildReport('mixed.csv', 'labelled', rows, 'pending', new Map([[1, 101], [12, 102]]));
  assert.equal(report.rows, 13);
  assert.equal(report.pending, 2);
  assert.equal(report.rejected, 11);
  assert.equal(report.results[0].rowId, 101);
  assert.equal(report.results[6].line, 7);
  assert.match(report.results[6].reasons[0].message, /text/);
});

test('near duplicates inside one upload: the earlier item keeps the credit', async () => {
  const words = para.split(' ');
  const rows = await validateRecords(recs([{ text: para }, { text: [...words.slice(0, 25), 'and', ...words.slice(25)].join(' ') }]), emptyExisting(), { format: 'text' });
  assert.equal(rows[0].status, 'passed');
  assert.equal(rows[1].reasons[0].code, 'near_duplicate');
  assert.deepEqual(rows[1].duplicateOf, { item: 1 });
});

test('format schemas: alpaca and sharegpt', async () => {
  const rows = await validateRecords(
    recs([
      { instruction: 'Name the capital of Veloria.', output: 'Port Amsel.' },
      { instruction: 'No output here.' },
      { conversations: [{ from: 'human', value: 'hi' }] },
    ]),
    emptyExisting(),
    { format: 'alpaca' },
  );
  assert.deepEqual(rows.map((r) => r.status), ['passed', 'rejected', 'rejected']);
  const chat = await validateRecords(
    recs([
      { conversations: [{ from: 'human', value: 'What is a datanet?' }, { from: 'gpt', value: 'A curated, versioned dataset.' }] },
      { conversations: [{ from: 'human', value: 'only a question' }, { from: 'human', value: 'and another' }] },
      { conversations: [{ from: 'robot', value: 'x' }, { from: 'gpt', value: 'y' }] },
    ]),
    emptyExisting(),
    { format: 'sharegpt' },
  );
  assert.deepEqual(chat.map((r) => r.status), ['passed', 'rejected', 'rejected']);
});

test('garbage heuristics leave ordinary prose, code-ish text and other scripts alone', () => {
  for (const ok of ['Plain English sentence.', 'Übermäßig schöne Grüße!', '東京は日本の首都です。', 'x = f(y) + 2 for each y in list']) assert.equal(garbageReason(ok), null, ok);
  assert.equal(garbageReason('\uFFFD\uFFFDbroken')!.code, 'garbage');
});
