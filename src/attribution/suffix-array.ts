/**
 * A suffix array over token ids, stored as a file and read lazily (infini-gram style).
 *
 *   text   (n)   the tokens of every document, each followed by SEP (never a token), so no match
 *                crosses a document
 *   SA     (n)   start positions of the suffixes in lexicographic token order, sorted on their
 *                first `depth` tokens (prefix doubling with counting sorts, ⌈log2 depth⌉ + 1
 *                rounds at most); a pattern of ≤ depth tokens is found exactly by binary search
 *
 * File: "OLSA0001" | u32 header length | JSON header {n, width, depth, docs, docBase, sha256} |
 * text (n·width, padded to 4) | SA (n·u32) | doc starts ((docs + 1)·u32).
 * Queries never load the file: each probe reads the SA entry and the suffix's first tokens with
 * pread through a small page cache (the OS page cache does the rest, like infini-gram's mmap).
 * `open` checks the structure and the body's sha256 once per process; a damaged file is the error
 * `span_index_corrupt` (the caller rebuilds it).
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { OpenLedgerError } from '../util/errors.ts';

const MAGIC = 'OLSA0001';
export const DEFAULT_DEPTH = 1024;

/** Suffix array of `text` (values ≥ 0; SEP included) sorted on the first `depth` tokens. */
export function buildSuffixArray(text: ArrayLike<number>, depth = DEFAULT_DEPTH): Uint32Array {
  const n = text.length;
  const sa = new Uint32Array(n);
  if (n === 0) return sa;
  // Round 0: rank = dense token rank (counting sort over the distinct values).
  let maxV = 0;
  for (let i = 0; i < n; i++) if (text[i] > maxV) maxV = text[i];
  let rank = new Int32Array(n), tmp = new Int32Array(n);
  {
    const cnt = new Int32Array(maxV + 2);
    for (let i = 0; i < n; i++) cnt[text[i] + 1]++;
    const dense = new Int32Array(maxV + 1);
    let r = 0;
    for (let v = 0; v <= maxV; v++) { if (cnt[v + 1]) dense[v] = r++; }
    for (let v = 1; v <= maxV + 1; v++) cnt[v] += cnt[v - 1];
    for (let i = 0; i < n; i++) { sa[cnt[text[i]]++] = i; rank[i] = dense[text[i]]; }
  }
  const second = new Uint32Array(n);
  let cnt = new Int32Array(Math.max(n, 1) + 1);
  for (let k = 1; k < depth; k *= 2) {
    // Order by the second key rank[i + k] (−1 past the end): those past the end first, then sa order shifted by k.
    let p = 0;
    for (let i = n - k; i < n; i++) if (i >= 0) second[p++] = i;
    for (let j = 0; j < n; j++) if (sa[j] >= k) second[p++] = sa[j] - k;
    // Stable counting sort by the first key.
    cnt.fill(0);
    for (let i = 0; i < n; i++) cnt[rank[i] + 1]++;
    for (let v = 1; v <= n; v++) cnt[v] += cnt[v - 1];
    for (let j = 0; j < n; j++) { const i = second[j]; sa[cnt[rank[i]]++] = i; }
    // New ranks.
    tmp[sa[0]] = 0;
    let r = 0;
    for (let j = 1; j < n; j++) {
      const a = sa[j - 1], b = sa[j];
      const ra = a + k < n ? rank[a + k] : -1, rb = b + k < n ? rank[b + k] : -1;
      if (rank[a] !== rank[b] || ra !== rb) r++;
      tmp[b] = r;
    }
    const t = rank; rank = tmp; tmp = t;
    if (r === n - 1) break;
  }
  void cnt; cnt = new Int32Array(0);
  return sa;
}

export interface ShardHeader {
  n: number;
  /** Bytes per token: 2 (vocab < 65535) or 4. */
  width: 2 | 4;
  depth: number;
  docs: number;
  /** Index of this shard's first document in the whole index. */
  docBase: number;
  sha256: string;
}

export const sepOf = (width: 2 | 4) => (width === 2 ? 0xffff : 0xffffffff);

/** Build one shard from documents (token arrays) and write it atomically to `path`. */
export function writeShard(path: string, docs: ReadonlyArray<ArrayLike<number>>, opts: { width: 2 | 4; docBase: number; depth?: number }): ShardHeader {
  const SEP = sepOf(opts.width);
  let n = 0;
  for (const d of docs) n += d.length + 1;
  const text = opts.width === 2 ? new Uint16Array(n) : new Uint32Array(n);
  const starts = new Uint32Array(docs.length + 1);
  let o = 0;
  docs.forEach((d, i) => {
    starts[i] = o;
    for (let j = 0; j < d.length; j++) {
      const t = d[j];
      if (!(t >= 0 && t < SEP)) throw new OpenLedgerError(`token ${t} does not fit a ${opts.width}-byte span index`, { type: 'invalid_request_error', code: 'invalid_tokens' });
      text[o++] = t;
    }
    text[o++] = SEP;
  });
  starts[docs.length] = o;
  const depth = opts.depth ?? DEFAULT_DEPTH;
  const sa = buildSuffixArray(text, depth);
  const pad = (text.byteLength + 3) & ~3;
  const body = [Buffer.from(text.buffer, text.byteOffset, text.byteLength), Buffer.alloc(pad - text.byteLength), Buffer.from(sa.buffer, sa.byteOffset, sa.byteLength), Buffer.from(starts.buffer)];
  const h = createHash('sha256');
  for (const b of body) h.update(b);
  const header: ShardHeader = { n, width: opts.width, depth, docs: docs.length, docBase: opts.docBase, sha256: h.digest('hex') };
  const head = Buffer.from(JSON.stringify(header));
  const pre = Buffer.alloc(12 + head.length + ((4 - ((12 + head.length) % 4)) % 4));
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(head.length, 8);
  head.copy(pre, 12);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of [pre, ...body]) writeSync(fd, b);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return header;
}

const verified = new Set<string>();
const PAGE = 1024;
/** In-memory samples: every S-th suffix's first SAMPLE_TOKENS tokens (≤ MAX_SAMPLES of them), so the top levels of every binary search cost no I/O. */
const MAX_SAMPLES = 1 << 15;
const SAMPLE_TOKENS = 16;

/** An open shard: binary searches over a file it reads a page at a time. */
export class Shard {
  readonly header: ShardHeader;
  private readonly fd: number;
  private readonly textOff: number;
  private readonly saOff: number;
  private readonly startsOff: number;
  private readonly pages = new Map<number, Buffer>();
  private starts: Uint32Array | null = null;
  private samples: { step: number; count: number; tokens: Uint32Array } | null = null;
  readonly SEP: number;

  private constructor(readonly path: string, fd: number, header: ShardHeader, bodyOff: number, readonly maxPages: number) {
    this.fd = fd;
    this.header = header;
    this.textOff = bodyOff;
    this.saOff = bodyOff + ((header.n * header.width + 3) & ~3);
    this.startsOff = this.saOff + header.n * 4;
    this.SEP = sepOf(header.width);
  }

  static open(path: string, opts: { maxPages?: number; verify?: boolean } = {}): Shard {
    let fd: number;
    const corrupt = (why: string) => new OpenLedgerError(`span index file ${path.split('/').pop()} is damaged: ${why}`, { type: 'internal_error', code: 'span_index_corrupt', hint: 'it is rebuilt from the datanet version on next use' });
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new OpenLedgerError(`span index file ${path.split('/').pop()} is missing`, { type: 'internal_error', code: 'span_index_missing', hint: 'it is built from the datanet version on first use', cause: e });
    }
    try {
      const size = fstatSync(fd).size;
      const pre = Buffer.alloc(12);
      if (readSync(fd, pre, 0, 12, 0) !== 12 || pre.toString('latin1', 0, 8) !== MAGIC) throw corrupt('bad magic');
      const len = pre.readUInt32LE(8);
      if (len > 1 << 20 || 12 + len > size) throw corrupt('bad header length');
      const hb = Buffer.alloc(len);
      readSync(fd, hb, 0, len, 12);
      let header: ShardHeader;
      try { header = JSON.parse(hb.toString('utf8')) as ShardHeader; } catch { throw corrupt('header is not JSON'); }
      const bodyOff = 12 + len + ((4 - ((12 + len) % 4)) % 4);
      if (!(header.width === 2 || header.width === 4) || !Number.isInteger(header.n) || !Number.isInteger(header.docs)) throw corrupt('bad header');
      const expect = bodyOff + ((header.n * header.width + 3) & ~3) + header.n * 4 + (header.docs + 1) * 4;
      if (size !== expect) throw corrupt(`expected ${expect} bytes, found ${size}`);
      const key = `${path}:${size}:${fstatSync(fd).mtimeMs}`;
      if (opts.verify !== false && !verified.has(key)) {
        const h = createHash('sha256'), buf = Buffer.alloc(1 << 20);
        for (let o = bodyOff; o < size;) {
          const r = readSync(fd, buf, 0, Math.min(buf.length, size - o), o);
          if (r <= 0) break;
          h.update(buf.subarray(0, r));
          o += r;
        }
        if (h.digest('hex') !== header.sha256) throw corrupt('checksum mismatch');
        verified.add(key);
      }
      return new Shard(path, fd, header, bodyOff, opts.maxPages ?? 16384);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
    this.pages.clear();
  }

  private page(no: number): Buffer {
    let p = this.pages.get(no);
    if (p) return p;
    p = Buffer.allocUnsafe(PAGE);
    readSync(this.fd, p, 0, PAGE, no * PAGE);
    if (this.pages.size >= this.maxPages) this.pages.delete(this.pages.keys().next().value!);
    this.pages.set(no, p);
    return p;
  }

  private u32(off: number): number {
    const no = Math.floor(off / PAGE), at = off - no * PAGE;
    if (at + 4 <= PAGE) return this.page(no).readUInt32LE(at);
    const b = Buffer.alloc(4);
    readSync(this.fd, b, 0, 4, off);
    return b.readUInt32LE(0);
  }

  private u16(off: number): number {
    const no = Math.floor(off / PAGE), at = off - no * PAGE;
    if (at + 2 <= PAGE) return this.page(no).readUInt16LE(at);
    const b = Buffer.alloc(2);
    readSync(this.fd, b, 0, 2, off);
    return b.readUInt16LE(0);
  }

  token(pos: number): number {
    if (pos >= this.header.n) return this.SEP;
    return this.header.width === 2 ? this.u16(this.textOff + pos * 2) : this.u32(this.textOff + pos * 4);
  }

  sa(i: number): number {
    return this.u32(this.saOff + i * 4);
  }

  /** Compare suffix sa[i] with q[from, from + len): <0, 0 (q is a prefix of it), >0, and the common prefix length. */
  private cmp(i: number, q: ArrayLike<number>, from: number, len: number): { c: number; lcp: number } {
    const p = this.sa(i);
    for (let t = 0; t < len; t++) {
      const a = this.token(p + t), b = q[from + t];
      if (a !== b) return { c: a < b ? -1 : 1, lcp: t };
    }
    return { c: 0, lcp: len };
  }

  private sampleTable(): { step: number; count: number; tokens: Uint32Array } {
    if (!this.samples) {
      const n = this.header.n, step = Math.max(1, Math.ceil(n / MAX_SAMPLES)), count = Math.ceil(n / step);
      const tokens = new Uint32Array(count * SAMPLE_TOKENS);
      for (let j = 0; j < count; j++) {
        const p = this.sa(j * step);
        for (let t = 0; t < SAMPLE_TOKENS; t++) tokens[j * SAMPLE_TOKENS + t] = this.token(p + t);
      }
      this.samples = { step, count, tokens };
    }
    return this.samples;
  }

  /** Is suffix sa[i] before the boundary of q[from, from + len)? (lower: suffix < q; upper: suffix ≤ q as a prefix match) */
  private before(i: number, q: ArrayLike<number>, from: number, len: number, upper: boolean): boolean {
    const c = this.cmp(i, q, from, len).c;
    return upper ? c <= 0 : c < 0;
  }

  /** `before` for sample j from memory when its stored prefix decides it, else from the file. */
  private beforeSample(j: number, q: ArrayLike<number>, from: number, len: number, upper: boolean): boolean {
    const sm = this.samples!, o = j * SAMPLE_TOKENS;
    const m = Math.min(len, SAMPLE_TOKENS);
    for (let t = 0; t < m; t++) {
      const a = sm.tokens[o + t], b = q[from + t];
      if (a !== b) return a < b;
    }
    if (len <= SAMPLE_TOKENS) return upper; // q is a prefix of the suffix: equal
    return this.before(j * sm.step, q, from, len, upper);
  }

  /** First SA index not `before` the boundary: samples in memory narrow it to one step, the file does the rest. */
  private bound(q: ArrayLike<number>, from: number, len: number, upper: boolean): number {
    const n = this.header.n;
    let lo = 0, hi = n;
    const sm = this.sampleTable();
    if (sm.step > 1) {
      let a = 0, b = sm.count;
      while (a < b) { const m = (a + b) >>> 1; if (this.beforeSample(m, q, from, len, upper)) a = m + 1; else b = m; }
      lo = a > 0 ? (a - 1) * sm.step + 1 : 0;
      hi = a < sm.count ? a * sm.step : n;
    }
    while (lo < hi) { const m = (lo + hi) >>> 1; if (this.before(m, q, from, len, upper)) lo = m + 1; else hi = m; }
    return lo;
  }

  /** [lo, hi): the SA range of suffixes that start with q[from, from + len). */
  range(q: ArrayLike<number>, from: number, len: number): [number, number] {
    return [this.bound(q, from, len, false), this.bound(q, from, len, true)];
  }

  count(q: ArrayLike<number>, from = 0, len = q.length - from): number {
    const [a, b] = this.range(q, from, len);
    return b - a;
  }

  /** Length of the longest prefix of q[from, from + maxLen) that occurs in the shard. */
  longestPrefix(q: ArrayLike<number>, from: number, maxLen: number): number {
    const len = Math.min(maxLen, this.header.depth, q.length - from);
    if (len <= 0 || this.header.n === 0) return 0;
    // The longest match is a neighbour of q's insertion point (lexicographic order).
    const lo = this.bound(q, from, len, false);
    let best = 0;
    if (lo > 0) best = this.cmp(lo - 1, q, from, len).lcp;
    if (lo < this.header.n) best = Math.max(best, this.cmp(lo, q, from, len).lcp);
    return best;
  }

  /** Text positions of SA entries [lo, lo + limit). */
  positions(lo: number, hi: number, limit: number): number[] {
    const out: number[] = [];
    for (let i = lo; i < hi && out.length < limit; i++) out.push(this.sa(i));
    return out;
  }

  /** The shard-local document holding text position `pos`. */
  docAt(pos: number): number {
    if (!this.starts) {
      const b = Buffer.alloc((this.header.docs + 1) * 4);
      readSync(this.fd, b, 0, b.length, this.startsOff);
      this.starts = new Uint32Array(b.buffer, b.byteOffset, this.header.docs + 1);
    }
    const s = this.starts;
    let lo = 0, hi = this.header.docs - 1;
    while (lo < hi) { const m = (lo + hi + 1) >>> 1; if (s[m] <= pos) lo = m; else hi = m - 1; }
    return lo;
  }

  /** Start of a shard-local document in the text. */
  docStart(doc: number): number {
    this.docAt(0);
    return this.starts![doc];
  }
}
