// Contributor weights: positive only, exclusions, near-duplicate clusters paid once to the earliest
// contributor, the cap, exact ppm sums, and sybil splitting / duplication not raising a payout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { minhash } from '../datanets/minhash.ts';
import { contributorWeights, mixSignals, toPpm, PPM, type RowEvidence } from './weights.ts';

const sum = (w: { weightPpm: number }[]) => w.reduce((s, x) => s + x.weightPpm, 0);
const of = (w: { address: string; weightPpm: number }[], a: string) => w.find((x) => x.address === a)?.weightPpm ?? 0;

test('positive influence only, exclusions, exact ppm', () => {
  const rows: RowEvidence[] = [
    { rowId: 1, contributor: 'A', score: 3 },
    { rowId: 2, contributor: 'B', score: 1 },
    { rowId: 3, contributor: 'C', score: -5 },
    { rowId: 4, contributor: 'D', score: 9, status: 'rejected' },
    { rowId: 5, contributor: 'E', score: 9, rejectVotes: 1 },
    { rowId: 6, contributor: 'F', score: 9, flagged: true },
  ];
  const r = contributorWeights(rows);
  assert.deepEqual(r.weights, [{ address: 'A', weightPpm: 750_000 }, { address: 'B', weightPpm: 250_000 }]);
  assert.deepEqual(r.excluded.map((e) => e.reason), ['not_accepted', 'rejected_by_validator', 'flagged']);
  assert.equal(contributorWeights([{ rowId: 1, contributor: 'A', score: -1 }]).weights.length, 0);
  const thirds = toPpm([['x', 1 / 3], ['y', 1 / 3], ['z', 1 / 3]]);
  assert.equal(sum(thirds), PPM);
});

test('near-duplicate clusters are paid once, to the earliest contributor', () => {
  const text = 'The capital of Zorblax is Quenth, a city on the river Mell, founded in 1432 by traders.';
  const rows: RowEvidence[] = [
    { rowId: 10, contributor: 'orig', score: 2, minhash: minhash(text) },
    { rowId: 11, contributor: 'copy', score: 5, minhash: minhash(text.replace('traders.', 'traders!')) },
    { rowId: 12, contributor: 'other', score: 2, minhash: minhash('A completely different sentence about the weather in the hills today.') },
  ];
  const r = contributorWeights(rows);
  assert.equal(r.clusters.get(11), 10);
  // The cluster is paid as its earliest row (2), to that row's contributor; the copy adds nothing.
  assert.equal(of(r.weights, 'orig'), PPM / 2);
  assert.equal(of(r.weights, 'copy'), 0);
});

test('sybil: splitting rows over new addresses or duplicating them does not raise the payout', () => {
  const base: RowEvidence[] = Array.from({ length: 12 }, (_, i) => ({ rowId: i + 1, contributor: `c${i % 4}`, score: (i % 5) - 1, minhash: minhash(`row number ${i} says something unique about topic ${i * 7}`) }));
  const before = of(contributorWeights(base).weights, 'c1');
  // Split: c1's rows spread over c1, s1, s2.
  let k = 0;
  const split = base.map((r) => (r.contributor === 'c1' ? { ...r, contributor: ['c1', 's1', 's2'][k++ % 3] } : r));
  const w = contributorWeights(split).weights;
  assert.equal(of(w, 'c1') + of(w, 's1') + of(w, 's2'), before);
  // Duplicate: c1 re-uploads its rows (near-identical) later under another address.
  const dup = [...base, ...base.filter((r) => r.contributor === 'c1').map((r, i) => ({ ...r, rowId: 100 + i, contributor: 'd1', score: r.score * 1.5 }))];
  const wd = contributorWeights(dup).weights;
  assert.ok(of(wd, 'c1') + of(wd, 'd1') <= before + 1, `${of(wd, 'c1')} + ${of(wd, 'd1')} vs ${before}`);
});

test('cap: water-filling keeps every share ≤ cap and the sum exact', () => {
  const rows: RowEvidence[] = [
    { rowId: 1, contributor: 'big', score: 90 }, { rowId: 2, contributor: 'b', score: 6 }, { rowId: 3, contributor: 'c', score: 4 },
  ];
  const w = contributorWeights(rows, { capPpm: 500_000 }).weights;
  assert.equal(of(w, 'big'), 500_000);
  assert.equal(of(w, 'b'), 300_000);
  assert.equal(of(w, 'c'), 200_000);
  assert.equal(sum(w), PPM);
  // Infeasible cap (one contributor): it takes everything.
  assert.deepEqual(contributorWeights([{ rowId: 1, contributor: 'solo', score: 1 }], { capPpm: 100_000 }).weights, [{ address: 'solo', weightPpm: PPM }]);
});

test('mixing signals: each normalised, the missing one drops out', () => {
  const m = mixSignals([{ weight: 0.75, scores: new Map([[1, 2], [2, 2]]) }, { weight: 0.25, scores: new Map([[3, 10]]) }]);
  assert.ok(Math.abs(m.get(1)! - 0.375) < 1e-12 && Math.abs(m.get(3)! - 0.25) < 1e-12);
  const only = mixSignals([{ weight: 0.75, scores: new Map([[1, -2]]) }, { weight: 0.25, scores: new Map([[3, 10]]) }]);
  assert.equal(only.get(3), 1);
  assert.equal(only.get(1), -0.75); // negatives keep their sign (÷ the signal's negative mass here), never paid
});
