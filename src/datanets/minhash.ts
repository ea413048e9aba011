import { normalizeText } from './hashing.ts';

/**
 * MinHash signatures and an LSH index for near-duplicate detection (REFERENCES §6.6).
 *
 * Shingles are k consecutive words (k = 5) of the normalised text; a text shorter than k words is one
 * shingle. Each shingle is hashed once to two 32-bit values (h1, h2) and permutation i is simulated by
 * g_i = fmix32(h1 + i·h2) (Kirsch–Mitzenmacher double hashing, finalised with murmur3's mixer), so a
 * signature of P = 128 values costs P cheap integer ops per shingle and needs no seeds table.
 *
 * LSH: the signature is cut into B bands of R rows (B·R = P, default 16 × 8); two texts that agree on
 * a whole band become candidates, with probability 1 − (1 − s^R)^B (≈ 0.95 at s = 0.8, ≈ 0.05 at
 * s = 0.5). Candidates are then kept only if their estimated Jaccard (share of equal signature slots)
 * reaches the threshold (default 0.8).
 */
export interface MinHashParams {
  /** Words per shingle. */
  shingle: number;
  /** Signature length P. */
  perms: number;
  /** LSH bands B (perms must be divisible by bands). */
  bands: number;
  /** Estimated Jaccard at or above which two texts are near duplicates. */
  threshold: number;
}
export const DEFAULT_MINHASH: MinHashParams = { shingle: 5, perms: 128, bands: 16, threshold: 0.8 };

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent-enough 32-bit hashes of a string (FNV-1a with two offsets, then mixed). */
function hash2(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) + 0x7f4a7c15;
  }
  return [fmix32(a), fmix32(b) | 1]; // h2 odd so h1 + i·h2 walks distinct values
}

/** The k-word shingles of a text (after normalisation), as a set. */
export function shingles(text: string, k = DEFAULT_MINHASH.shingle): Set<string> {
  const words = normalizeText(text).split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
  const out = new Set<string>();
  if (words.length === 0) return out;
  if (words.length < k) {
    out.add(words.join(' '));
    return out;
  }
  for (let i = 0; i + k <= words.length; i++) out.add(words.slice(i, i + k).join(' '));
  return out;
}

/** MinHash signature (P uint32 values). An empty shingle set gives all 0xffffffff. */
export function minhash(text: string, p: MinHashParams = DEFAULT_MINHASH): Uint32Array {
  const sig = new Uint32Array(p.perms).fill(0xffffffff);
  for (const sh of shingles(text, p.shingle)) {
    const [h1, h2] = hash2(sh);
    for (let i = 0; i < p.perms; i++) {
      const v = fmix32((h1 + Math.imul(i, h2)) >>> 0);
      if (v < sig[i]) sig[i] = v;
    }
  }
  return sig;
}

/** Share of equal slots: an unbiased estimate of the Jaccard similarity of the shingle sets. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array): number {
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/** Exact Jaccard of two texts' shingle sets (for tests and for checking the estimate). */
export function jaccard(a: string, b: string, k = DEFAULT_MINHASH.shingle): number {
  const A = shingles(a, k);
  const B = shingles(b, k);
  if (A.size === 0 && B.size === 0) return 1;
  let inter = 0;
  for (const s of A) if (B.has(s)) inter++;
  return inter / (A.size + B.size - inter);
}

export interface NearMatch<K> {
  key: K;
  similarity: number;
}

/**
 * LSH index over MinHash signatures. Keys are whatever the caller uses to name a row (a row id, or
 * an index into the upload). `query` returns the best match at or above the threshold, earliest
 * inserted first on ties, so the first submitter keeps the credit.
 */
export class LshIndex<K> {
  private readonly rows: number;
  private readonly buckets: Map<number, K[]>[];
  private readonly sigs = new Map<K, Uint32Array>();
  private readonly order = new Map<K, number>();

  constructor(readonly params: MinHashParams = DEFAULT_MINHASH) {
    if (params.perms % params.bands !== 0) throw new Error(`perms ${params.perms} not divisible by bands ${params.bands}`);
    this.rows = params.perms / params.bands;
    this.buckets = Array.from({ length: params.bands }, () => new Map());
  }

  get size(): number {
    return this.sigs.size;
  }

  /**
   * One band (R uint32) folded into a 52-bit number key. Two different bands can share a key only by
   * a hash collision, which merely adds a candidate that the Jaccard check then drops.
   */
  private bandKey(sig: Uint32Array, band: number): number {
    let a = 0x9e3779b9 ^ band;
    let b = 0x85ebca6b + band;
    for (let j = band * this.rows; j < (band + 1) * this.rows; j++) {
      a = fmix32((a ^ sig[j]) >>> 0);
      b = fmix32((b + Math.imul(sig[j], 0x27d4eb2f)) >>> 0);
    }
    return (a & 0xfffff) * 0x100000000 + b;
  }

  add(key: K, sig: Uint32Array): void {
    if (this.sigs.has(key)) return;
    this.sigs.set(key, sig);
    this.order.set(key, this.order.size);
    for (let b = 0; b < this.params.bands; b++) {
      const k = this.bandKey(sig, b);
      const list = this.buckets[b].get(k);
      if (list) list.push(key);
      else this.buckets[b].set(k, [key]);
    }
  }

  query(sig: Uint32Array): NearMatch<K> | null {
    const seen = new Set<K>();
    let best: NearMatch<K> | null = null;
    for (let b = 0; b < this.params.bands; b++) {
      const list = this.buckets[b].get(this.bandKey(sig, b));
      if (!list) continue;
      for (const key of list) {
        if (seen.has(key)) continue;
        seen.add(key);
        const sim = estimateJaccard(sig, this.sigs.get(key)!);
        if (sim < this.params.threshold) continue;
        if (!best || sim > best.similarity || (sim === best.similarity && this.order.get(key)! < this.order.get(best.key)!)) {
          best = { key, similarity: sim };
        }
      }
    }
    return best;
  }
}

/** Signature ↔ bytes (little-endian uint32s) for storing beside a row. */
export function signatureToBytes(sig: Uint32Array): Uint8Array {
  const out = new Uint8Array(sig.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < sig.length; i++) dv.setUint32(i * 4, sig[i], true);
  return out;
}
export function signatureFromBytes(bytes: Uint8Array): Uint32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sig = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0; i < sig.length; i++) sig[i] = dv.getUint32(i * 4, true);
  return sig;
}
