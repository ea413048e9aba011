/**
 * Paged KV cache: keys and values of every sequence live in fixed-size blocks (default 16
 * positions) drawn from one pool preallocated on the heap up to a token budget, as in vLLM's
 * PagedAttention. A sequence owns a block table; position p is slot p mod B of block
 * table[⌊p/B⌋]. Blocks are reference-counted so a sequence can be forked (shared prompt
 * prefix, parallel samples) and copied on write only when a shared block is written.
 *
 * Per layer the pools are k, v: (numBlocks, blockSize, kvDim) f32, kvDim = nKvHeads·headDim.
 */
import type { Heap } from './heap.ts';
import { OpenLedgerError } from '../util/errors.ts';

export interface KvCacheOptions {
  nLayers: number;
  kvDim: number;
  /** Positions per block (default 16). */
  blockSize?: number;
  /** Token budget: the pool holds ⌈maxTokens / blockSize⌉ blocks (for all sequences together). */
  maxTokens: number;
  /** Longest sequence (the model's context); sizes each block table. */
  maxSeqLen: number;
}

/** One sequence's view of the cache. */
export class SeqKv {
  /** Block ids; only the first ⌈length/blockSize⌉ entries are meaningful. Passed to kernels as is. */
  readonly blockTable: Int32Array;
  /** Blocks held (entries of blockTable in use). */
  nBlocks = 0;
  /** Positions whose K/V are written. */
  length = 0;
  constructor(maxBlocks: number) {
    this.blockTable = new Int32Array(maxBlocks);
  }
}

export class KvCache {
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly nLayers: number;
  readonly kvDim: number;
  readonly maxSeqLen: number;
  /** Per layer: (numBlocks, blockSize, kvDim) pools. */
  readonly k: Float32Array[] = [];
  readonly v: Float32Array[] = [];
  private readonly refs: Int32Array;
  private readonly freeList: number[] = [];

  constructor(heap: Heap, opts: KvCacheOptions) {
    this.blockSize = opts.blockSize ?? 16;
    this.nLayers = opts.nLayers;
    this.kvDim = opts.kvDim;
    this.maxSeqLen = opts.maxSeqLen;
    this.numBlocks = Math.max(1, Math.ceil(opts.maxTokens / this.blockSize));
    const per = this.numBlocks * this.blockSize * this.kvDim;
    for (let l = 0; l < this.nLayers; l++) {
      this.k.push(heap.f32(per));
      this.v.push(heap.f32(per));
    }
    this.refs = new Int32Array(this.numBlocks);
    for (let b = this.numBlocks - 1; b >= 0; b--) this.freeList.push(b);
  }

  /** Free the pools (every sequence becomes invalid). */
  dispose(heap: Heap): void {
    for (const a of [...this.k, ...this.v]) heap.free(a);
    this.k.length = 0;
    this.v.length = 0;
    this.freeList.length = 0;
  }

  get freeBlocks(): number {
    return this.freeList.length;
  }

  /** Bytes of K+V per token (for capacity planning). */
  get bytesPerToken(): number {
    return 2 * this.nLayers * this.kvDim * 4;
  }

  newSequence(): SeqKv {
    return new SeqKv(Math.ceil(this.maxSeqLen / this.blockSize));
  }

  /** Blocks `seq` must newly allocate to hold `length` positions, counting copy-on-write of a shared tail. */
  blocksNeeded(seq: SeqKv, length: number): number {
    const want = Math.ceil(length / this.blockSize);
    let n = Math.max(0, want - seq.nBlocks);
    // Writing into a partially filled shared last block copies it.
    if (length > seq.length && seq.length % this.blockSize !== 0 && this.refs[seq.blockTable[seq.nBlocks - 1]] > 1) n++;
    return n;
  }

  /**
   * Make positions [seq.length, length) writable: allocate blocks and copy shared blocks on write.
   * Does not advance seq.length (the forward pass does, once the K/V are written).
   */
  reserve(seq: SeqKv, length: number): void {
    if (length > this.maxSeqLen) {
      throw new OpenLedgerError(`sequence of ${length} tokens exceeds the context of ${this.maxSeqLen}`, {
        code: 'context_length_exceeded', param: 'prompt',
        hint: 'shorten the prompt or lower max_tokens',
      });
    }
    if (this.blocksNeeded(seq, length) > this.freeList.length) {
      throw new OpenLedgerError(`KV cache full: ${length} positions need ${this.blocksNeeded(seq, length)} more blocks, ${this.freeList.length} free`, {
        type: 'rate_limit_error', code: 'kv_cache_full',
        hint: 'retry when running sequences finish, or start the engine with a larger kvTokens budget',
      });
    }
    const bs = this.blockSize;
    if (length > seq.length && seq.length % bs !== 0) {
      const last = seq.nBlocks - 1;
      const b = seq.blockTable[last];
      if (this.refs[b] > 1) {
        const nb = this.take();
        for (let l = 0; l < this.nLayers; l++) {
          const n = bs * this.kvDim;
          this.k[l].copyWithin(nb * n, b * n, (b + 1) * n);
          this.v[l].copyWithin(nb * n, b * n, (b + 1) * n);
        }
        this.refs[b]--;
        seq.blockTable[last] = nb;
      }
    }
    const want = Math.ceil(length / bs);
    while (seq.nBlocks < want) seq.blockTable[seq.nBlocks++] = this.take();
  }

  /** A new sequence sharing all of `seq`'s blocks (copy-on-write when either writes a shared block). */
  fork(seq: SeqKv): SeqKv {
    const f = this.newSequence();
    f.blockTable.set(seq.blockTable.subarray(0, seq.nBlocks));
    f.nBlocks = seq.nBlocks;
    f.length = seq.length;
    for (let i = 0; i < seq.nBlocks; i++) this.refs[seq.blockTable[i]]++;
    return f;
  }

  /** Drop positions ≥ length (e.g. to retry from a prefix); frees whole blocks past it. */
  truncate(seq: SeqKv, length: number): void {
    if (length >= seq.length) return;
    const keep = Math.ceil(length / this.blockSize);
    while (seq.nBlocks > keep) this.release(seq.blockTable[--seq.nBlocks]);
    seq.length = length;
  }

  /** Release every block of `seq`. */
  free(seq: SeqKv): void {
    this.truncate(seq, 0);
  }

  private take(): number {
    const b = this.freeList.pop();
    if (b === undefined) throw new Error('KvCache.take: no free block (reserve checks this first)');
    this.refs[b] = 1;
    return b;
  }

  private release(b: number): void {
    if (--this.refs[b] === 0) this.freeList.push(b);
  }
}
