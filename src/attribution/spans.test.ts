// Span attribution: the suffix array against a naive sort, lookups against naive counting, shards
// against one index, damage detected and rebuilt, and the OLMoTrace procedure on planted text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenLedgerError } from '../util/errors.ts';
import { buildSuffixArray, Shard, writeShard } from './suffix-array.ts';
import { SpanIndex, type IndexDoc } from './span-index.ts';
import { findSpans, spanRowScores } from './spans.ts';

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}
const naiveSA = (t: number[]) => t.map((_, i) => i).sort((a, b) => {
  for (let k = 0; ; k++) {
    if (a + k >= t.length) return b + k >= t.length ? 0 : -1;
    if (b + k >= t.length) return 1;
    if (t[a + k] !== t[b + k]) return t[a + k] - t[b + k];
  }
});
const naiveCount = (docs: number[][], q: number[]) => docs.reduce((c, d) => { for (let i = 0; i + q.length <= d.length; i++) if (q.every((v, j) => d[i + j] === v)) c++; return c; }, 0);

test('suffix array equals a naive sort (random text, long repeats)', () => {
  const r = rng(3);
  for (const [n, sigma] of [[1, 3], [50, 2], [400, 5], [300, 300]]) {
    const t = Array.from({ length: n }, () => Math.floor(r() * sigma));
    assert.deepEqual(Array.from(buildSuffixArray(t, 1 << 20)), naiveSA(t), `n=${n} σ=${sigma}`);
  }
  const rep = [...Array(20)].flatMap(() => [1, 2, 3, 1, 2]);
  assert.deepEqual(Array.from(buildSuffixArray(rep, 1 << 20)), naiveSA(rep));
});

test('shard lookups: counts, longest match and documents equal naive search; sharding does not change them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-sa-'));
  try {
    const r = rng(9);
    const docs = Array.from({ length: 60 }, () => Array.from({ length: 5 + Math.floor(r() * 40) }, () => Math.floor(r() * 6)));
    const ixDocs: IndexDoc[] = docs.map((tokens, i) => ({ rowId: 100 + i, contributor: `0x${String(i % 4).repeat(40)}`, tokens }));
    const one = SpanIndex.build(join(dir, 'one'), 'k', ixDocs, { vocab: 6 });
    const many = SpanIndex.build(join(dir, 'many'), 'k', ixDocs, { vocab: 6, shardTokens: 200 });
    assert.ok(many.shards.length > 3);
    for (let trial = 0; trial < 200; trial++) {
      const d = docs[Math.floor(r() * docs.length)];
      const s = Math.floor(r() * d.length), len = 1 + Math.floor(r() * 6);
      const q = trial % 3 === 0 ? Array.from({ length: len }, () => Math.floor(r() * 6)) : d.slice(s, s + len);
      const want = naiveCount(docs, q);
      assert.equal(one.count(q), want);
      assert.equal(many.count(q), want);
      // longest prefix: the largest m with count(q[0, m)) > 0
      let m = 0;
      while (m < q.length && naiveCount(docs, q.slice(0, m + 1)) > 0) m++;
      assert.equal(one.longestPrefix(q, 0, 64), m);
      assert.equal(many.longestPrefix(q, 0, 64), m);
      if (want > 0) {
        const rows = many.documents(q, 0, q.length, 100).map((x) => x.row.rowId).sort((a, b) => a - b);
        const naive = docs.map((dd, i) => (naiveCount([dd], q) > 0 ? 100 + i : -1)).filter((x) => x >= 0);
        assert.deepEqual(rows, naive);
      }
    }
    one.close(); many.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('large shard: the in-memory samples that narrow each binary search give the same answers as naive search', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-sa-'));
  try {
    const r = rng(21);
    const docs = Array.from({ length: 400 }, () => Array.from({ length: 150 + Math.floor(r() * 100) }, () => Math.floor(r() * 4)));
    const ix = SpanIndex.build(join(dir, 'big'), 'k', docs.map((tokens, i) => ({ rowId: i, contributor: '0x0', tokens })), { vocab: 4 });
    assert.ok(ix.shards[0].header.n > 1 << 15, `${ix.shards[0].header.n} tokens: samples in use`);
    for (let trial = 0; trial < 60; trial++) {
      const d = docs[Math.floor(r() * docs.length)];
      const s0 = Math.floor(r() * (d.length - 30)), len = 1 + Math.floor(r() * 24);
      const q = trial % 4 === 0 ? Array.from({ length: len }, () => Math.floor(r() * 4)) : d.slice(s0, s0 + len);
      assert.equal(ix.count(q), naiveCount(docs, q), `count of ${q}`);
      let m = 0;
      while (m < q.length && naiveCount(docs, q.slice(0, m + 1)) > 0) m++;
      assert.equal(ix.longestPrefix(q, 0, 64), m);
    }
    ix.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged or stale index is detected and rebuilt, and the rebuild is reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-sa-'));
  try {
    const docs: IndexDoc[] = [{ rowId: 1, contributor: '0xa', tokens: [1, 2, 3, 4, 5] }, { rowId: 2, contributor: '0xb', tokens: [2, 3, 4, 9] }];
    const ix = SpanIndex.build(join(dir, 'ix'), 'v1', docs, { vocab: 16 });
    ix.close();
    const f = join(dir, 'ix', 'shard-0.sa');
    const b = readFileSync(f);
    b[b.length - 30] ^= 0x55;
    writeFileSync(f, b);
    assert.throws(() => Shard.open(f), (e: unknown) => e instanceof OpenLedgerError && e.code === 'span_index_corrupt' && !!e.hint);
    const heard: string[] = [];
    const re = SpanIndex.openOrBuild(join(dir, 'ix'), 'v1', () => docs, { vocab: 16, onRebuild: (_, code) => heard.push(code) });
    assert.deepEqual(heard, ['span_index_corrupt']);
    assert.equal(re.count([2, 3, 4]), 2);
    re.close();
    writeFileSync(join(dir, 'ix', 'index.json'), '{nope');
    const re2 = SpanIndex.openOrBuild(join(dir, 'ix'), 'v1', () => docs, { vocab: 16, onRebuild: (_, code) => heard.push(code) });
    re2.close();
    const re3 = SpanIndex.openOrBuild(join(dir, 'ix'), 'v2', () => docs.slice(0, 1), { vocab: 16, onRebuild: (_, code) => heard.push(code) });
    assert.equal(re3.count([2, 3, 4]), 1);
    re3.close();
    assert.deepEqual(heard, ['span_index_corrupt', 'span_index_corrupt', 'span_index_stale']);
    assert.throws(() => writeShard(join(dir, 'x.sa'), [[1, 0xffff]], { width: 2, docBase: 0 }), (e: unknown) => e instanceof OpenLedgerError && e.code === 'invalid_tokens');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('OLMoTrace spans: the planted rare sentence is found in its row and pays its contributor; common words do not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-sa-'));
  try {
    const r = rng(5);
    // Filler over tokens 0..19; the fact uses rare tokens 40..47, planted in row 7 only.
    const docs: IndexDoc[] = Array.from({ length: 30 }, (_, i) => ({ rowId: i, contributor: i === 7 ? '0xfact' : `0xc${i % 5}`, tokens: Array.from({ length: 30 }, () => Math.floor(r() * 20)) }));
    const fact = [40, 41, 42, 43, 44, 45, 46, 47];
    docs[7].tokens = [...(docs[7].tokens as number[]).slice(0, 10), ...fact, ...(docs[7].tokens as number[]).slice(10)];
    const ix = SpanIndex.build(join(dir, 'ix'), 'k', docs, { vocab: 64 });
    const answer = [1, 2, ...fact.slice(0, 7), 60, 61, 3];
    const spans = findSpans(ix, answer, { minTokens: 4 });
    const best = spans.find((s) => s.end - s.start >= 7)!;
    assert.ok(best, JSON.stringify(spans));
    assert.deepEqual([best.start, best.end, best.count], [2, 9, 1]);
    assert.deepEqual(best.rows.map((x) => x.rowId), [7]);
    const scores = spanRowScores(spans);
    const top = [...scores.entries()].sort((a, b) => b[1].score - a[1].score)[0];
    assert.equal(top[0], 7);
    assert.equal(top[1].contributor, '0xfact');
    // Nothing matches an answer of unseen tokens.
    assert.deepEqual(findSpans(ix, [60, 61, 62, 63, 60]), []);
    ix.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
