/**
 * Token sampling. One Sampler per sequence holds its PRNG (seeded: same seed, same logits → same
 * tokens), its penalty state and a work buffer of V floats; `sample` allocates nothing but the
 * small result object.
 *
 * Order (as vLLM / HF): logit bias → repetition penalty (prompt + output, CTRL style: positive
 * logits ÷ p, negative × p) → frequency/presence penalties (output counts, OpenAI style) →
 * greedy if temperature = 0 → ÷ temperature → top-k → top-p (over the top-k survivors,
 * renormalized) → min-p (p ≥ minP·p_max) → draw. Log-probabilities are of the raw model
 * distribution (log-softmax of the unprocessed logits), as OpenAI's `logprobs` report.
 */
import { invalid } from '../util/errors.ts';

export interface SamplingParams {
  /** 0 = greedy (default 1). */
  temperature?: number;
  /** Keep the k most likely tokens; 0 or undefined = off. */
  topK?: number;
  /** Nucleus: smallest set with cumulative probability ≥ topP; 1 = off. */
  topP?: number;
  /** Drop tokens with p < minP · p_max; 0 = off. */
  minP?: number;
  /** > 1 discourages tokens already in the prompt or output; 1 = off. */
  repetitionPenalty?: number;
  /** Subtract frequencyPenalty · count(token in output); 0 = off (OpenAI range −2…2). */
  frequencyPenalty?: number;
  /** Subtract presencePenalty if the token occurs in the output; 0 = off. */
  presencePenalty?: number;
  /** Added to the logits of these token ids (OpenAI logit_bias). */
  logitBias?: Record<number, number>;
  /** PRNG seed; undefined = random. */
  seed?: number;
  /** Report this many top alternatives per token (0 = only the chosen token's logprob); undefined = no logprobs. */
  logprobs?: number;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
}

export interface SampledToken {
  token: number;
  /** Present when logprobs were asked for. */
  logprob?: number;
  top?: TokenLogprob[];
}

/** xoshiro128** seeded through splitmix32: fast, 32-bit, reproducible across platforms. */
export class Prng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r / 4294967296;
  }
}
/** Logits this far below the max are treated as probability 0 (e^-30 ≈ 1e-13). */
const CUT = 30;

const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;

/** Indices of the n largest values of x, largest first (min-heap selection, O(V log n)). */
export function topIndices(x: ArrayLike<number>, n: number, V = x.length): Int32Array {
  n = Math.min(n, V);
  if (n * 8 >= V) {
    // A large share of the vocabulary: one full sort beats the heap.
    const all = new Int32Array(V);
    for (let i = 0; i < V; i++) all[i] = i;
    all.sort((a, b) => x[b] - x[a] || a - b);
    return all.slice(0, n);
  }
  const heap = new Int32Array(n);
  let size = 0;
  const less = (a: number, b: number) => x[a] < x[b] || (x[a] === x[b] && a > b); // ties: lower id ranks higher
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && less(heap[l], heap[m])) m = l;
      if (r < size && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i]; heap[i] = heap[m]; heap[m] = t;
      i = m;
    }
  };
  for (let i = 0; i < V; i++) {
    if (size < n) {
      heap[size] = i;
      let c = size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!less(heap[c], heap[p])) break;
        const t = heap[c]; heap[c] = heap[p]; heap[p] = t;
        c = p;
      }
    } else if (less(heap[0], i)) {
      heap[0] = i;
      down(0);
    }
  }
  const out = new Int32Array(size);
  for (let k = size - 1; k >= 0; k--) {
    out[k] = heap[0];
    heap[0] = heap[--size];
    down(0);
  }
  return out;
}

export function argmax(x: ArrayLike<number>, V = x.length): number {
  let best = 0;
  for (let i = 1; i < V; i++) if (x[i] > x[best]) best = i;
  return best;
}

function validate(p: SamplingParams): void {
  const bad = (param: string, msg: string) => invalid(`${param} ${msg}`, { param, code: 'invalid_sampling_param' });
  if (p.temperature !== undefined && !(p.temperature >= 0)) throw bad('temperature', 'must be ≥ 0');
  if (p.topK !== undefined && !(Number.isInteger(p.topK) && p.topK >= 0)) throw bad('top_k', 'must be an integer ≥ 0');
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) throw bad('top_p', 'must be in (0, 1]');
  if (p.minP !== undefined && !(p.minP >= 0 && p.minP <= 1)) throw bad('min_p', 'must be in [0, 1]');
  if (p.repetitionPenalty !== undefined && !(p.repetitionPenalty > 0)) throw bad('repetition_penalty', 'must be > 0');
  if (p.frequencyPenalty !== undefined && !(Math.abs(p.frequencyPenalty) <= 2)) throw bad('frequency_penalty', 'must be in [−2, 2]');
  if (p.presencePenalty !== undefined && !(Math.abs(p.presencePenalty) <= 2)) throw bad('presence_penalty', 'must be in [−2, 2]');
  if (p.logprobs !== undefined && !(Number.isInteger(p.logprobs) && p.logprobs >= 0 && p.logprobs <= 20)) throw bad('logprobs', 'must be an integer in 0…20');
}

export class Sampler {
  readonly params: Required<Omit<SamplingParams, 'logitBias' | 'seed' | 'logprobs'>> & Pick<SamplingParams, 'logitBias' | 'logprobs'> & { seed: number };
  private readonly V: number;
  private readonly work: Float32Array;
  private readonly rng: Prng;
  /** Output counts (frequency/presence) and prompt ∪ output membership (repetition). */
  private readonly counts: Int32Array | null;
  private readonly seen: Uint8Array | null;
  private readonly seenList: number[] = [];
  private readonly countList: number[] = [];

  constructor(params: SamplingParams, vocabSize: number, prompt: readonly number[] = []) {
    validate(params);
    const seed = params.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.params = {
      temperature: params.temperature ?? 1, topK: params.topK ?? 0, topP: params.topP ?? 1, minP: params.minP ?? 0,
      repetitionPenalty: params.repetitionPenalty ?? 1, frequencyPenalty: params.frequencyPenalty ?? 0,
      presencePenalty: params.presencePenalty ?? 0, logitBias: params.logitBias, logprobs: params.logprobs, seed,
    };
    this.V = vocabSize;
    this.work = new Float32Array(vocabSize);
    this.rng = new Prng(seed);
    const p = this.params;
    this.counts = p.frequencyPenalty || p.presencePenalty ? new Int32Array(vocabSize) : null;
    this.seen = p.repetitionPenalty !== 1 ? new Uint8Array(vocabSize) : null;
    for (const t of prompt) this.markSeen(t);
  }

  /** Record a generated token (penalties count it from now on). */
  accept(token: number): void {
    this.markSeen(token);
    if (this.counts) {
      if (this.counts[token]++ === 0) this.countList.push(token);
    }
  }

  /** Choose the next token from logits (V); does not call accept. */
  sample(logits: Float32Array): SampledToken {
    const p = this.params, V = this.V, l = this.work;
    l.set(logits.subarray(0, V));
    if (p.logitBias) for (const [k, b] of Object.entries(p.logitBias)) { const i = Number(k); if (i >= 0 && i < V) l[i] += b; }
    if (this.seen) {
      const rp = p.repetitionPenalty;
      for (const t of this.seenList) l[t] = l[t] > 0 ? l[t] / rp : l[t] * rp;
    }
    if (this.counts) {
      for (const t of this.countList) l[t] -= p.frequencyPenalty * this.counts[t] + p.presencePenalty;
    }
    let token: number;
    if (p.temperature === 0 || p.topK === 1) token = argmax(l, V);
    else token = this.draw(l);
    const out: SampledToken = { token };
    if (p.logprobs !== undefined) this.logprobs(logits, out, p.logprobs);
    return out;
  }

  private draw(l: Float32Array): number {
    const p = this.params, V = this.V;
    const invT = 1 / p.temperature;
    let mx = -Infinity;
    for (let i = 0; i < V; i++) { l[i] *= invT; if (l[i] > mx) mx = l[i]; }
    const k = p.topK > 0 ? Math.min(p.topK, V) : V;
    const minLogit = p.minP > 0 ? mx + Math.log(p.minP) : -Infinity;
    // Tokens more than CUT below the max have p < e^-CUT·p_max ≈ 1e-13·p_max: counted as 0.
    const floor = Math.max(minLogit, mx - CUT);
    if (k === V && p.topP >= 1) {
      // Full distribution (after min-p): weights computed once into l, then one pass to draw.
      let z = 0;
      for (let i = 0; i < V; i++) {
        const e = l[i] >= floor ? Math.exp(l[i] - mx) : 0;
        l[i] = e;
        z += e;
      }
      let u = this.rng.next() * z;
      let last = 0;
      for (let i = 0; i < V; i++) {
        if (l[i] === 0) continue;
        last = i;
        u -= l[i];
        if (u < 0) return i;
      }
      return last;
    }
    // Candidates sorted by logit: grow the selection until top-k is covered or top-p is reached.
    let zAll = 0;
    if (k === V) for (let i = 0; i < V; i++) if (l[i] >= mx - CUT) zAll += Math.exp(l[i] - mx);
    let n = k < V ? k : Math.min(V, 64);
    let cand: Int32Array;
    let cut: number;
    for (;;) {
      cand = topIndices(l, n, V);
      let z = zAll;
      if (k < V) { z = 0; for (let i = 0; i < cand.length; i++) z += Math.exp(l[cand[i]] - mx); }
      cut = cand.length;
      if (p.topP < 1) {
        let c = 0;
        for (let i = 0; i < cand.length; i++) {
          c += Math.exp(l[cand[i]] - mx);
          if (c >= p.topP * z) { cut = i + 1; break; }
          if (i === cand.length - 1) cut = -1; // not reached within the selection
        }
      }
      if (cut > 0 || n >= k) { if (cut < 0) cut = cand.length; break; }
      n = Math.min(k, n * 8);
    }
    let z = 0;
    let m = 0;
    for (let i = 0; i < cut; i++) {
      if (l[cand[i]] < minLogit) break; // sorted: the rest are below too
      z += Math.exp(l[cand[i]] - mx);
      m = i + 1;
    }
    let u = this.rng.next() * z;
    for (let i = 0; i < m; i++) {
      u -= Math.exp(l[cand[i]] - mx);
      if (u < 0) return cand[i];
    }
    return cand[Math.max(0, m - 1)];
  }

  private logprobs(raw: Float32Array, out: SampledToken, n: number): void {
    const V = this.V;
    let mx = -Infinity;
    for (let i = 0; i < V; i++) if (raw[i] > mx) mx = raw[i];
    let z = 0;
    for (let i = 0; i < V; i++) if (raw[i] >= mx - CUT) z += Math.exp(raw[i] - mx);
    const lse = mx + Math.log(z);
    out.logprob = raw[out.token] - lse;
    out.top = n > 0 ? Array.from(topIndices(raw, n, V), (t) => ({ token: t, logprob: raw[t] - lse })) : [];
  }

  private markSeen(t: number): void {
    if (this.seen && t >= 0 && t < this.V && !this.seen[t]) {
      this.seen[t] = 1;
      this.seenList.push(t);
    }
  }
}
