import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler, topIndices, Prng } from './sampling.ts';

const probsToLogits = (p: number[]) => Float32Array.from(p, (x) => Math.log(x));
function freq(s: Sampler, logits: Float32Array, n: number): number[] {
  const c = new Array(logits.length).fill(0);
  for (let i = 0; i < n; i++) c[s.sample(logits).token]++;
  return c.map((x) => x / n);
}

test('greedy picks the argmax; temperature 0 ignores the PRNG', () => {
  const s = new Sampler({ temperature: 0 }, 5);
  assert.equal(s.sample(new Float32Array([0.1, 3, -1, 2.9, 0])).token, 1);
});

test('same seed → same tokens; different seed → different tokens', () => {
  const logits = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3);
  const run = (seed: number) => { const s = new Sampler({ seed, temperature: 1 }, 1000); return Array.from({ length: 50 }, () => s.sample(logits).token); };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
  const r = new Prng(1);
  const xs = Array.from({ length: 10000 }, () => r.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.ok(Math.abs(xs.reduce((a, b) => a + b) / xs.length - 0.5) < 0.02);
});

test('temperature 1 samples the softmax; temperature reshapes it', () => {
  const p = [0.5, 0.3, 0.15, 0.05];
  const f = freq(new Sampler({ seed: 1 }, 4), probsToLogits(p), 40000);
  f.forEach((x, i) => assert.ok(Math.abs(x - p[i]) < 0.01, `p[${i}] ${x}`));
  // T = 0.5 squares the odds.
  const q = p.map((x) => x * x), zq = q.reduce((a, b) => a + b);
  const g = freq(new Sampler({ seed: 2, temperature: 0.5 }, 4), probsToLogits(p), 40000);
  g.forEach((x, i) => assert.ok(Math.abs(x - q[i] / zq) < 0.01, `T=0.5 p[${i}] ${x}`));
});

test('top-k, top-p and min-p keep exactly the right tokens, renormalized', () => {
  const L = probsToLogits([0.5, 0.3, 0.15, 0.05]);
  const k2 = freq(new Sampler({ seed: 3, topK: 2 }, 4), L, 20000);
  assert.equal(k2[2] + k2[3], 0);
  assert.ok(Math.abs(k2[0] - 0.625) < 0.015);
  const p8 = freq(new Sampler({ seed: 4, topP: 0.8 }, 4), L, 20000);
  assert.equal(p8[2] + p8[3], 0);
  const p81 = freq(new Sampler({ seed: 5, topP: 0.81 }, 4), L, 20000);
  assert.ok(p81[2] > 0.1 && p81[3] === 0);
  const m = freq(new Sampler({ seed: 6, minP: 0.5 }, 4), L, 20000);
  assert.ok(m[0] > 0 && m[1] > 0 && m[2] === 0 && m[3] === 0);
  // top-k then top-p over the survivors: top-2 renormalized = [0.625, 0.375]; top-p 0.6 → only token 0.
  const kp = freq(new Sampler({ seed: 7, topK: 2, topP: 0.6 }, 4), L, 2000);
  assert.equal(kp[0], 1);
});

test('top-p over a large vocabulary grows its candidate set until the mass is reached', () => {
  const V = 50000;
  const logits = new Float32Array(V); // flat: top-p 0.5 needs 25000 candidates
  const s = new Sampler({ seed: 8, topP: 0.5 }, V);
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) seen.add(s.sample(logits).token);
  const ids = [...seen];
  assert.ok(ids.every((t) => t < 25000), 'ties rank lower ids first, so only the first half survives');
  assert.ok(ids.length > 350);
});

test('repetition, frequency and presence penalties', () => {
  const L = new Float32Array([2, 1.9, -1, -1.2]);
  assert.equal(new Sampler({ temperature: 0, repetitionPenalty: 2 }, 4, [0]).sample(L).token, 1);
  const neg = new Sampler({ temperature: 0, repetitionPenalty: 2, logitBias: { 0: -10, 1: -10 } }, 4, [2]);
  assert.equal(neg.sample(L).token, 3); // −1·2 = −2 < −1.2
  const fr = new Sampler({ temperature: 0, frequencyPenalty: 0.06 }, 4);
  assert.equal(fr.sample(L).token, 0);
  fr.accept(0);
  assert.equal(fr.sample(L).token, 0); // 2 − 0.06 > 1.9
  fr.accept(0);
  assert.equal(fr.sample(L).token, 1); // 2 − 0.12 < 1.9
  const pr = new Sampler({ temperature: 0, presencePenalty: 0.2 }, 4);
  pr.accept(0);
  assert.equal(pr.sample(L).token, 1);
});

test('logprobs of the raw distribution, top-n sorted', () => {
  const L = probsToLogits([0.5, 0.3, 0.15, 0.05]).map((x) => x + 5); // positive: the penalty divides
  const r = new Sampler({ temperature: 0, logprobs: 3, repetitionPenalty: 1.5 }, 4, [0]).sample(L);
  assert.equal(r.token, 1); // penalty moved the choice…
  assert.ok(Math.abs(r.logprob! - Math.log(0.3)) < 1e-6); // …but logprobs are the model's
  assert.deepEqual(r.top!.map((t) => t.token), [0, 1, 2]);
  assert.ok(Math.abs(r.top![0].logprob - Math.log(0.5)) < 1e-6);
});

test('topIndices equals a full sort', () => {
  const x = Float32Array.from({ length: 5000 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  const want = Array.from(x.keys()).sort((a, b) => x[b] - x[a] || a - b).slice(0, 37);
  assert.deepEqual(Array.from(topIndices(x, 37)), want);
});

test('bad parameters are rejected with the parameter named', () => {
  assert.throws(() => new Sampler({ temperature: -1 }, 4), (e: any) => e.param === 'temperature');
  assert.throws(() => new Sampler({ topP: 0 }, 4), (e: any) => e.param === 'top_p');
  assert.throws(() => new Sampler({ topK: 1.5 }, 4), (e: any) => e.param === 'top_k');
});
