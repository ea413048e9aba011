/**
 * Write a GGUF v3 file (the inverse of formats/gguf.ts):
 *
 *   "GGUF" u32 version=3 | u64 n_tensors | u64 n_kv
 *   n_kv × (string key, u32 value_type, value)           strings are u64 length + UTF-8 bytes
 *   n_tensors × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *   zero padding to `general.alignment` (default 32)
 *   tensor data, each tensor starting at an aligned offset (relative to the data section)
 *
 * `ne` is ggml's order — fastest-varying first — so a 2-D (rows, cols) matrix has ne = [cols, rows].
 * Values are quantized on write (formats/quantize.ts). Tensor data may be given lazily, as a
 * function, so a large model (the benchmark's) never holds all of its f32 weights at once.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { OpenLedgerError } from '../../util/errors.ts';
import { BLOCK, type DType } from '../kernels/types.ts';
import { quantize, quantizedBytes } from './quantize.ts';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f32' | 'f64' | 'bool' | 'string';
type Scalar = number | bigint | boolean | string;

/**
 * A metadata value. Plain values are typed by inference: string → string, boolean → bool,
 * integer number → u32 (i32 if negative), other number → f32, bigint → u64, arrays of strings →
 * string array, arrays of numbers → i32 array if all integers else f32 array. Use the explicit
 * form (or the `gg` helpers) wherever llama.cpp expects a specific type.
 */
export type GgufValue =
  | Scalar
  | Scalar[]
  | { type: GgufScalarType; value: Scalar }
  | { type: 'array'; itemType: GgufScalarType; value: Scalar[] };

/** Explicitly typed metadata values. */
export const gg = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  u64: (value: number | bigint): GgufValue => ({ type: 'u64', value }),
  i64: (value: number | bigint): GgufValue => ({ type: 'i64', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  arr: (itemType: GgufScalarType, value: Scalar[]): GgufValue => ({ type: 'array', itemType, value }),
};

const VALUE_TYPE: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

/** ggml_type ids (ggml.h). */
export const GGML_TYPE: Record<DType, number> = {
  f32: 0, f16: 1, q4_0: 2, q8_0: 8, q4_K: 12, q5_K: 13, q6_K: 14, bf16: 30,
};

export interface GgufTensorInput {
  name: string;
  /** ggml ne order: [cols, rows] for a matrix, [n] for a vector. */
  shape: number[];
  dtype: DType;
  /** Values in row-major order (ne[0] fastest), quantized on write; or a function producing them. */
  data: Float32Array | (() => Float32Array);
}

export interface GgufInput {
  metadata: Array<[string, GgufValue]>;
  tensors: GgufTensorInput[];
}

/** Grows a byte buffer for the header. */
class Bytes {
  buf = Buffer.alloc(1 << 16);
  len = 0;
  private need(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number) { this.need(1); this.buf.writeUInt8(v, this.len); this.len += 1; }
  i8(v: number) { this.need(1); this.buf.writeInt8(v, this.len); this.len += 1; }
  u16(v: number) { this.need(2); this.buf.writeUInt16LE(v, this.len); this.len += 2; }
  i16(v: number) { this.need(2); this.buf.writeInt16LE(v, this.len); this.len += 2; }
  u32(v: number) { this.need(4); this.buf.writeUInt32LE(v, this.len); this.len += 4; }
  i32(v: number) { this.need(4); this.buf.writeInt32LE(v, this.len); this.len += 4; }
  u64(v: number | bigint) { this.need(8); this.buf.writeBigUInt64LE(BigInt(v), this.len); this.len += 8; }
  i64(v: number | bigint) { this.need(8); this.buf.writeBigInt64LE(BigInt(v), this.len); this.len += 8; }
  f32(v: number) { this.need(4); this.buf.writeFloatLE(v, this.len); this.len += 4; }
  f64(v: number) { this.need(8); this.buf.writeDoubleLE(v, this.len); this.len += 8; }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.need(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
}

function badValue(key: string, why: string): OpenLedgerError {
  return new OpenLedgerError(`GGUF metadata ${key}: ${why}`, {
    type: 'internal_error', code: 'gguf_bad_metadata', param: key,
    hint: 'give the value explicitly typed, e.g. gg.f32(x) or gg.arr("string", [...])',
  });
}

function inferScalar(v: Scalar): GgufScalarType {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'u64';
  return Number.isInteger(v) ? (v < 0 ? 'i32' : 'u32') : 'f32';
}

function normalize(key: string, v: GgufValue): { type: GgufScalarType | 'array'; itemType?: GgufScalarType; value: Scalar | Scalar[] } {
  if (Array.isArray(v)) {
    if (v.length === 0) throw badValue(key, 'an empty array needs an explicit item type');
    const itemType = v.every((x) => typeof x === 'string') ? 'string'
      : v.every((x) => typeof x === 'number') ? (v.every((x) => Number.isInteger(x)) ? 'i32' : 'f32')
      : v.every((x) => typeof x === 'boolean') ? 'bool' : null;
    if (!itemType) throw badValue(key, 'an array mixes value types');
    return { type: 'array', itemType, value: v };
  }
  if (typeof v === 'object' && v !== null && typeof v !== 'bigint') return v;
  return { type: inferScalar(v), value: v };
}

function writeScalar(b: Bytes, key: string, t: GgufScalarType, v: Scalar): void {
  const num = () => {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw badValue(key, `expected a number for ${t}, got ${typeof v}`);
    return Number(v);
  };
  switch (t) {
    case 'u8': return b.u8(num());
    case 'i8': return b.i8(num());
    case 'u16': return b.u16(num());
    case 'i16': return b.i16(num());
    case 'u32': return b.u32(num());
    case 'i32': return b.i32(num());
    case 'f32': return b.f32(num());
    case 'f64': return b.f64(num());
    case 'u64':
    case 'i64':
      if (typeof v !== 'number' && typeof v !== 'bigint') throw badValue(key, `expected a number for ${t}`);
      return t === 'u64' ? b.u64(v) : b.i64(v);
    case 'bool':
      if (typeof v !== 'boolean') throw badValue(key, 'expected a boolean');
      return b.u8(v ? 1 : 0);
    case 'string':
      if (typeof v !== 'string') throw badValue(key, 'expected a string');
      return b.str(v);
  }
}

function tensorBytes(t: GgufTensorInput): number {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.shape[0] % BLOCK[t.dtype].elems !== 0) {
    throw new OpenLedgerError(`GGUF tensor ${t.name}: ${t.dtype} rows need a multiple of ${BLOCK[t.dtype].elems} values, ne[0] is ${t.shape[0]}`, {
      type: 'internal_error', code: 'gguf_bad_tensor', param: t.name,
      hint: 'store this tensor as f32/f16, or choose shapes that are multiples of the block size',
    });
  }
  return quantizedBytes(t.dtype, n);
}

/** Write `input` to `path` as GGUF v3. Returns the number of bytes written. */
export function writeGguf(path: string, input: GgufInput): number {
  const alignEntry = input.metadata.find(([k]) => k === 'general.alignment');
  const align = alignEntry ? Number(normalize('general.alignment', alignEntry[1]).value) : 32;
  const b = new Bytes();
  b.u32(0x46554747); // "GGUF" little-endian
  b.u32(3);
  b.u64(input.tensors.length);
  b.u64(input.metadata.length);
  for (const [key, raw] of input.metadata) {
    const v = normalize(key, raw);
    b.str(key);
    b.u32(VALUE_TYPE[v.type]);
    if (v.type === 'array') {
      const items = v.value as Scalar[];
      b.u32(VALUE_TYPE[v.itemType!]);
      b.u64(items.length);
      for (const item of items) writeScalar(b, key, v.itemType!, item);
    } else {
      writeScalar(b, key, v.type, v.value as Scalar);
    }
  }
  const sizes = input.tensors.map(tensorBytes);
  let offset = 0;
  const offsets: number[] = [];
  input.tensors.forEach((t, i) => {
    b.str(t.name);
    b.u32(t.shape.length);
    for (const d of t.shape) b.u64(d);
    b.u32(GGML_TYPE[t.dtype]);
    b.u64(offset);
    offsets.push(offset);
    offset = Math.ceil((offset + sizes[i]) / align) * align;
  });
  const headerPad = (align - (b.len % align)) % align;
  for (let i = 0; i < headerPad; i++) b.u8(0);
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    written += writeSync(fd, b.buf, 0, b.len);
    input.tensors.forEach((t, i) => {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const n = t.shape.reduce((a, c) => a * c, 1);
      if (data.length !== n) {
        throw new OpenLedgerError(`GGUF tensor ${t.name}: shape [${t.shape}] holds ${n} values but data has ${data.length}`, {
          type: 'internal_error', code: 'gguf_bad_tensor', param: t.name, hint: 'pass data whose length is the product of ne',
        });
      }
      const bytes = quantize(data, t.dtype);
      written += writeSync(fd, bytes);
      const end = (i + 1 < offsets.length ? offsets[i + 1] : Math.ceil((offsets[i] + sizes[i]) / align) * align) - offsets[i] - sizes[i];
      // Pad between tensors so the next starts aligned (the last one too, as gguf-py does).
      if (end > 0) written += writeSync(fd, new Uint8Array(end));
    });
  } finally {
    closeSync(fd);
  }
  return written;
}
