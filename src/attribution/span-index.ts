/**
 * The span index of one datanet version for one tokenizer: shards of suffix arrays over the
 * version's rows (one document per row), a manifest naming the rows in document order, and unigram
 * counts for OLMoTrace's span filter.
 *
 *   <dir>/index.json           {format, key, rows: [{rowId, contributor}], shards: [{file, docBase, docs}], totalTokens, vocab}
 *   <dir>/shard-<i>.sa         suffix-array.ts files (≤ shardTokens tokens each, like infini-gram's shards)
 *   <dir>/unigrams.u32         token counts (vocab) as little-endian u32
 *
 * `openOrBuild` opens the index, or builds it when it is missing or damaged (logged by the
 * caller through onRebuild); a build writes to a temp folder and renames it into place.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenLedgerError } from '../util/errors.ts';
import { Shard, writeShard } from './suffix-array.ts';

export const SPAN_INDEX_FORMAT = 'openledger-span-index-v1';
export const DEFAULT_SHARD_TOKENS = 64 << 20;

export interface IndexRow {
  rowId: number;
  contributor: string;
}

export interface SpanIndexManifest {
  format: typeof SPAN_INDEX_FORMAT;
  /** What the index was built from (datanet, version, tokenizer hash): a mismatch means rebuild. */
  key: string;
  rows: IndexRow[];
  shards: Array<{ file: string; docBase: number; docs: number; tokens: number }>;
  totalTokens: number;
  vocab: number;
  buildMs: number;
}

export interface IndexDoc extends IndexRow {
  tokens: ArrayLike<number>;
}

export class SpanIndex {
  private constructor(readonly dir: string, readonly manifest: SpanIndexManifest, readonly shards: Shard[], readonly unigrams: Uint32Array) {}

  static build(dir: string, key: string, docs: readonly IndexDoc[], opts: { vocab: number; shardTokens?: number; depth?: number }): SpanIndex {
    const t0 = performance.now();
    const tmp = `${dir}.building-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const width: 2 | 4 = opts.vocab < 0xffff ? 2 : 4;
    const unigrams = new Uint32Array(opts.vocab);
    const shardTokens = opts.shardTokens ?? DEFAULT_SHARD_TOKENS;
    const shards: SpanIndexManifest['shards'] = [];
    let batch: Array<ArrayLike<number>> = [], batchTokens = 0, docBase = 0, total = 0;
    const flush = () => {
      if (!batch.length) return;
      const file = `shard-${shards.length}.sa`;
      const h = writeShard(join(tmp, file), batch, { width, docBase, depth: opts.depth });
      shards.push({ file, docBase, docs: batch.length, tokens: h.n });
      docBase += batch.length;
      batch = []; batchTokens = 0;
    };
    for (const d of docs) {
      for (let j = 0; j < d.tokens.length; j++) { const t = d.tokens[j]; if (t >= 0 && t < opts.vocab) unigrams[t]++; }
      if (batchTokens + d.tokens.length + 1 > shardTokens && batch.length) flush();
      batch.push(d.tokens);
      batchTokens += d.tokens.length + 1;
      total += d.tokens.length;
    }
    flush();
    writeFileSync(join(tmp, 'unigrams.u32'), Buffer.from(unigrams.buffer));
    const manifest: SpanIndexManifest = {
      format: SPAN_INDEX_FORMAT, key, rows: docs.map((d) => ({ rowId: d.rowId, contributor: d.contributor })), shards, totalTokens: total, vocab: opts.vocab,
      buildMs: Math.round(performance.now() - t0),
    };
    writeFileSync(join(tmp, 'index.json'), JSON.stringify(manifest));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return SpanIndex.open(dir, key);
  }

  /** Open a built index; `span_index_missing` / `span_index_corrupt` / `span_index_stale` otherwise. */
  static open(dir: string, key?: string): SpanIndex {
    const mp = join(dir, 'index.json');
    if (!existsSync(mp)) throw new OpenLedgerError('the span index is not built', { type: 'internal_error', code: 'span_index_missing' });
    let m: SpanIndexManifest;
    try { m = JSON.parse(readFileSync(mp, 'utf8')) as SpanIndexManifest; } catch (e) {
      throw new OpenLedgerError(`span index manifest is damaged: ${(e as Error).message}`, { type: 'internal_error', code: 'span_index_corrupt' });
    }
    if (m.format !== SPAN_INDEX_FORMAT || !Array.isArray(m.shards) || !Array.isArray(m.rows)) throw new OpenLedgerError('span index manifest is damaged: unknown format', { type: 'internal_error', code: 'span_index_corrupt' });
    if (key !== undefined && m.key !== key) throw new OpenLedgerError('the span index was built from other data', { type: 'internal_error', code: 'span_index_stale' });
    let u: Buffer;
    try { u = readFileSync(join(dir, 'unigrams.u32')); } catch { throw new OpenLedgerError('span index unigram counts are missing', { type: 'internal_error', code: 'span_index_corrupt' }); }
    if (u.length !== m.vocab * 4) throw new OpenLedgerError('span index unigram counts are damaged', { type: 'internal_error', code: 'span_index_corrupt' });
    const unigrams = new Uint32Array(m.vocab);
    new Uint8Array(unigrams.buffer).set(u);
    const shards: Shard[] = [];
    try {
      for (const s of m.shards) {
        if (!/^shard-\d+\.sa$/.test(s.file)) throw new OpenLedgerError(`span index names a bad shard ${s.file}`, { type: 'internal_error', code: 'span_index_corrupt' });
        const sh = Shard.open(join(dir, s.file));
        shards.push(sh);
        if (sh.header.docs !== s.docs || sh.header.docBase !== s.docBase) throw new OpenLedgerError(`span index shard ${s.file} does not match the manifest`, { type: 'internal_error', code: 'span_index_corrupt' });
      }
    } catch (e) {
      for (const s of shards) s.close();
      throw e;
    }
    return new SpanIndex(dir, m, shards, unigrams);
  }

  /** Open, or (re)build when missing, damaged or stale. `onRebuild` hears why (for the log). */
  static openOrBuild(dir: string, key: string, docs: () => readonly IndexDoc[], opts: { vocab: number; shardTokens?: number; onRebuild?: (reason: string, code: string) => void }): SpanIndex {
    try {
      return SpanIndex.open(dir, key);
    } catch (e) {
      const code = (e as OpenLedgerError).code ?? 'span_index_corrupt';
      if (code !== 'span_index_missing') opts.onRebuild?.((e as Error).message, code);
      return SpanIndex.build(dir, key, docs(), opts);
    }
  }

  close(): void {
    for (const s of this.shards) s.close();
  }

  get totalTokens(): number {
    return this.manifest.totalTokens;
  }

  count(q: ArrayLike<number>, from = 0, len = q.length - from): number {
    let c = 0;
    for (const s of this.shards) c += s.count(q, from, len);
    return c;
  }

  longestPrefix(q: ArrayLike<number>, from: number, maxLen: number): number {
    let best = 0;
    for (const s of this.shards) {
      best = Math.max(best, s.longestPrefix(q, from, maxLen));
      if (best >= Math.min(maxLen, q.length - from)) break;
    }
    return best;
  }

  /** Up to `limit` documents (rows) containing q[from, from + len), in index order. */
  documents(q: ArrayLike<number>, from: number, len: number, limit: number): Array<{ doc: number; row: IndexRow }> {
    const out: Array<{ doc: number; row: IndexRow }> = [];
    const seen = new Set<number>();
    for (const s of this.shards) {
      if (out.length >= limit) break;
      const [lo, hi] = s.range(q, from, len);
      for (const pos of s.positions(lo, hi, limit * 4)) {
        const doc = s.header.docBase + s.docAt(pos);
        if (seen.has(doc)) continue;
        seen.add(doc);
        out.push({ doc, row: this.manifest.rows[doc] });
        if (out.length >= limit) break;
      }
    }
    return out;
  }

  /** Unigram probability of a token (add-one smoothed). */
  unigram(t: number): number {
    const c = t >= 0 && t < this.unigrams.length ? this.unigrams[t] : 0;
    return (c + 1) / (this.manifest.totalTokens + this.manifest.vocab);
  }
}
