/**
 * The engine heap: one shared `WebAssembly.Memory` that holds every tensor the kernels touch
 * (weights, activations, KV cache blocks, LoRA factors). Because WASM kernels and their worker
 * threads instantiate on this same memory, a tensor is passed to them as a byte offset — never
 * copied. Plain TypeScript code sees the same bytes through typed-array views.
 *
 * Layout: [0, RESERVED) belongs to the kernel modules (their static data); tensors live above.
 * Allocation is first-fit over a sorted free list with coalescing; memory grows on demand up to
 * `maxBytes` (wasm32 caps it at 4 GiB). Allocate up front (weights at load, scratch per batch
 * shape), never in hot loops.
 *
 * Growing a shared memory replaces `memory.buffer` with a larger SharedArrayBuffer over the same
 * backing store; views made earlier stay valid. `contains()` therefore remembers every buffer
 * object this memory has handed out.
 */
import { OpenLedgerError } from '../util/errors.ts';

export const PAGE = 65536;
/** Bytes at the bottom of memory left to kernel modules' static data and stack. */
export const RESERVED = 1 << 20;
const MAX_PAGES = 65536; // 4 GiB

export interface HeapOptions {
  /** Initial size in bytes (rounded up to pages). Default 16 MiB. */
  initialBytes?: number;
  /** Upper bound in bytes. Default 4 GiB (the wasm32 limit). */
  maxBytes?: number;
}

interface Block {
  offset: number;
  size: number;
}

export class Heap {
  readonly memory: WebAssembly.Memory;
  readonly maxBytes: number;
  private free_: Block[] = []; // sorted by offset, coalesced
  private used = new Map<number, number>(); // offset -> size
  private buffers = new WeakSet<ArrayBufferLike>();
  private top = RESERVED; // first byte never handed out
  private peak = 0;

  constructor(opts: HeapOptions = {}) {
    const maxPages = Math.min(MAX_PAGES, Math.ceil((opts.maxBytes ?? MAX_PAGES * PAGE) / PAGE));
    const initialPages = Math.min(maxPages, Math.max(Math.ceil(RESERVED / PAGE) + 1, Math.ceil((opts.initialBytes ?? 16 << 20) / PAGE)));
    this.memory = new WebAssembly.Memory({ initial: initialPages, maximum: maxPages, shared: true });
    this.maxBytes = maxPages * PAGE;
    this.buffers.add(this.memory.buffer);
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let s = 0;
    for (const size of this.used.values()) s += size;
    return s;
  }

  /** Highest `allocatedBytes` seen. */
  get peakBytes(): number {
    return this.peak;
  }

  /** Current size of the memory in bytes. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** Allocate `bytes` (aligned to `align`, a power of two ≥ 16) and return the byte offset. */
  alloc(bytes: number, align = 64): number {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`alloc: bad size ${bytes}`);
    const size = Math.max(align, Math.ceil(bytes / align) * align);
    for (let i = 0; i < this.free_.length; i++) {
      const b = this.free_[i];
      const start = Math.ceil(b.offset / align) * align;
      const end = start + size;
      if (end <= b.offset + b.size) {
        // Split the free block into [b.offset, start) and [end, b.end).
        const rest: Block[] = [];
        if (start > b.offset) rest.push({ offset: b.offset, size: start - b.offset });
        if (end < b.offset + b.size) rest.push({ offset: end, size: b.offset + b.size - end });
        this.free_.splice(i, 1, ...rest);
        return this.take(start, size);
      }
    }
    const start = Math.ceil(this.top / align) * align;
    if (start > this.top) this.release(this.top, start - this.top);
    const end = start + size;
    this.ensure(end);
    this.top = end;
    return this.take(start, size);
  }

  /** Return a block obtained from `alloc` (or a view from `f32`/`u8`/…). */
  free(ref: number | ArrayBufferView): void {
    const offset = typeof ref === 'number' ? ref : ref.byteOffset;
    const size = this.used.get(offset);
    if (size === undefined) throw new Error(`heap.free: ${offset} is not an allocated block`);
    this.used.delete(offset);
    this.release(offset, size);
  }

  f32(n: number): Float32Array {
    const off = this.alloc(n * 4); // alloc may grow memory: read .buffer after it
    return new Float32Array(this.memory.buffer, off, n);
  }
  u8(n: number): Uint8Array {
    const off = this.alloc(n); // alloc may grow memory: read .buffer after it
    return new Uint8Array(this.memory.buffer, off, n);
  }
  u16(n: number): Uint16Array {
    const off = this.alloc(n * 2); // alloc may grow memory: read .buffer after it
    return new Uint16Array(this.memory.buffer, off, n);
  }
  i32(n: number): Int32Array {
    const off = this.alloc(n * 4); // alloc may grow memory: read .buffer after it
    return new Int32Array(this.memory.buffer, off, n);
  }

  /** Copy `src` onto the heap (for weights read from a file). */
  copyIn<T extends Float32Array | Uint8Array>(src: T): T {
    if (src instanceof Float32Array) {
      const v = this.f32(src.length);
      v.set(src);
      return v as T;
    }
    const v = this.u8(src.length);
    v.set(src);
    return v as T;
  }

  /** True when `view` lies in this heap's memory, so kernels may address it by byteOffset. */
  contains(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer) && view.byteOffset >= RESERVED && view.byteOffset + view.byteLength <= this.byteLength;
  }

  private take(offset: number, size: number): number {
    this.used.set(offset, size);
    const a = this.allocatedBytes;
    if (a > this.peak) this.peak = a;
    return offset;
  }

  private release(offset: number, size: number): void {
    // Insert keeping order, then merge with neighbours.
    let i = 0;
    while (i < this.free_.length && this.free_[i].offset < offset) i++;
    this.free_.splice(i, 0, { offset, size });
    const next = this.free_[i + 1];
    if (next && offset + size === next.offset) {
      this.free_[i].size += next.size;
      this.free_.splice(i + 1, 1);
    }
    const prev = this.free_[i - 1];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += this.free_[i].size;
      this.free_.splice(i, 1);
    }
    // A free block that reaches the top shrinks the top instead.
    const last = this.free_[this.free_.length - 1];
    if (last && last.offset + last.size === this.top) {
      this.top = last.offset;
      this.free_.pop();
    }
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    if (end > this.maxBytes) {
      throw new OpenLedgerError(`engine heap exhausted: need ${(end / 2 ** 20).toFixed(0)} MiB, limit is ${(this.maxBytes / 2 ** 20).toFixed(0)} MiB`, {
        type: 'model_error',
        code: 'heap_exhausted',
        hint: 'use a smaller or more quantized model (Q8_0/Q4_K), fewer concurrent sequences, or a shorter context',
      });
    }
    this.memory.grow(pages);
    this.buffers.add(this.memory.buffer);
  }
}
