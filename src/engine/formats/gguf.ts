/**
 * GGUF reader (v2 and v3, little-endian): the header (metadata + tensor infos) is parsed from a
 * file descriptor in small chunks, and tensor bytes are read straight into the caller's buffer
 * (a view on the engine heap), so a 1 GB model is never held twice.
 *
 * Layout (ggml/docs/gguf.md):
 *   "GGUF" u32 version | u64 n_tensors | u64 n_kv
 *   n_kv × (string key, u32 value_type, value)            string = u64 length + UTF-8 bytes
 *   n_tensors × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *   padding to general.alignment (default 32)
 *   data section: each tensor at `offset` (relative to the section, aligned)
 *
 * `ne` is ggml's order, fastest-varying first: a matrix with ne = [K, N] is N rows of K columns,
 * i.e. our WeightTensor { rows: N, cols: K }.
 *
 * Every length and offset is checked against the file size before it is trusted, so a truncated
 * or lying file fails with an error that names the file (and the key or tensor), never a hang or
 * a giant allocation.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { modelError } from '../../util/errors.ts';
import { BLOCK, type DType } from '../kernels/types.ts';

/** A metadata value as read. u64/i64 are numbers when they fit in 2^53, bigint otherwise. */
export type GgufMetaValue = number | bigint | boolean | string | GgufMetaValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the fastest-varying dimension (columns of a matrix). */
  ne: number[];
  /** ggml_type id as stored. */
  ggmlType: number;
  /** Our storage type, or null when this engine does not support `ggmlType`. */
  dtype: DType | null;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Byte length of the data (0 when the type is unsupported and its size unknown). */
  nbytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufMetaValue>;
  /** The value type id of each metadata key (for writers that round-trip a file). */
  metadataTypes: Map<string, number>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  fileSize: number;
}

/** ggml_type ids → name, with block geometry where known (ggml.h / ggml-common.h). */
const GGML_TYPES: Record<number, { name: string; elems?: number; bytes?: number }> = {
  0: { name: 'F32', elems: 1, bytes: 4 },
  1: { name: 'F16', elems: 1, bytes: 2 },
  2: { name: 'Q4_0', elems: 32, bytes: 18 },
  3: { name: 'Q4_1', elems: 32, bytes: 20 },
  6: { name: 'Q5_0', elems: 32, bytes: 22 },
  7: { name: 'Q5_1', elems: 32, bytes: 24 },
  8: { name: 'Q8_0', elems: 32, bytes: 34 },
  9: { name: 'Q8_1', elems: 32, bytes: 36 },
  10: { name: 'Q2_K', elems: 256, bytes: 84 },
  11: { name: 'Q3_K', elems: 256, bytes: 110 },
  12: { name: 'Q4_K', elems: 256, bytes: 144 },
  13: { name: 'Q5_K', elems: 256, bytes: 176 },
  14: { name: 'Q6_K', elems: 256, bytes: 210 },
  15: { name: 'Q8_K', elems: 256, bytes: 292 },
  16: { name: 'IQ2_XXS' },
  17: { name: 'IQ2_XS' },
  18: { name: 'IQ3_XXS' },
  19: { name: 'IQ1_S' },
  20: { name: 'IQ4_NL' },
  21: { name: 'IQ3_S' },
  22: { name: 'IQ2_S' },
  23: { name: 'IQ4_XS' },
  24: { name: 'I8', elems: 1, bytes: 1 },
  25: { name: 'I16', elems: 1, bytes: 2 },
  26: { name: 'I32', elems: 1, bytes: 4 },
  27: { name: 'I64', elems: 1, bytes: 8 },
  28: { name: 'F64', elems: 1, bytes: 8 },
  29: { name: 'IQ1_M' },
  30: { name: 'BF16', elems: 1, bytes: 2 },
  34: { name: 'TQ1_0' },
  35: { name: 'TQ2_0' },
  39: { name: 'MXFP4' },
};

/** ggml_type id → our DType, for the types the kernels implement. */
export const GGML_TO_DTYPE: Record<number, DType> = {
  0: 'f32', 1: 'f16', 30: 'bf16', 8: 'q8_0', 2: 'q4_0', 12: 'q4_K', 13: 'q5_K', 14: 'q6_K',
};

export function ggmlTypeName(id: number): string {
  return GGML_TYPES[id]?.name ?? `unknown`;
}

const SUPPORTED = Object.entries(GGML_TO_DTYPE).map(([id]) => GGML_TYPES[Number(id)].name).join(', ');

/** The error for a tensor whose ggml type this engine cannot run. */
export function unsupportedTypeError(path: string, t: GgufTensorInfo) {
  return modelError(
    `${path}: tensor ${t.name} uses ggml type ${t.ggmlType} (${ggmlTypeName(t.ggmlType)}) which this engine does not support; supported: ${SUPPORTED}`,
    {
      code: 'unsupported_quant_type',
      param: 'file',
      hint: 'convert or requantize the model to one of the supported types (e.g. llama-quantize … Q8_0 or Q4_K_M)',
      details: { file: path, tensor: t.name, ggmlType: t.ggmlType },
    },
  );
}

const MAGIC = 0x46554747; // "GGUF" little-endian
const CHUNK = 1 << 16;

/** Sequential reader over a file descriptor with bounds checks against the file size. */
class HeaderReader {
  private buf = Buffer.alloc(CHUNK);
  private bufStart = 0; // file offset of buf[0]
  private bufLen = 0;
  pos = 0; // file offset of the next byte
  constructor(private fd: number, readonly path: string, readonly size: number) {}

  private need(n: number, what: string): void {
    if (this.pos + n > this.size) {
      throw modelError(`${this.path}: truncated GGUF header while reading ${what} (needs ${n} bytes at offset ${this.pos}, file is ${this.size} bytes)`, {
        code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt; download or convert it again',
        details: { file: this.path, offset: this.pos },
      });
    }
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.bufLen) return;
    if (n > this.buf.length) this.buf = Buffer.alloc(n);
    this.bufStart = this.pos;
    this.bufLen = 0;
    const want = Math.min(this.buf.length, this.size - this.pos);
    while (this.bufLen < want) {
      const got = readSync(this.fd, this.buf, this.bufLen, want - this.bufLen, this.bufStart + this.bufLen);
      if (got === 0) break;
      this.bufLen += got;
    }
    if (this.bufLen < n) {
      throw modelError(`${this.path}: could not read ${what} at offset ${this.pos} (file shrank while reading?)`, {
        code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt', details: { file: this.path },
      });
    }
  }

  private at(n: number, what: string): number {
    this.need(n, what);
    const o = this.pos - this.bufStart;
    this.pos += n;
    return o;
  }

  u8(what: string): number { return this.buf.readUInt8(this.at(1, what)); }
  i8(what: string): number { return this.buf.readInt8(this.at(1, what)); }
  u16(what: string): number { return this.buf.readUInt16LE(this.at(2, what)); }
  i16(what: string): number { return this.buf.readInt16LE(this.at(2, what)); }
  u32(what: string): number { return this.buf.readUInt32LE(this.at(4, what)); }
  i32(what: string): number { return this.buf.readInt32LE(this.at(4, what)); }
  f32(what: string): number { return this.buf.readFloatLE(this.at(4, what)); }
  f64(what: string): number { return this.buf.readDoubleLE(this.at(8, what)); }
  u64big(what: string): bigint { return this.buf.readBigUInt64LE(this.at(8, what)); }
  i64big(what: string): bigint { return this.buf.readBigInt64LE(this.at(8, what)); }
  /** A u64 that must be a count/offset no larger than the file (else the header lies). */
  u64size(what: string, limit = this.size): number {
    const v = this.u64big(what);
    if (v > BigInt(limit)) {
      throw modelError(`${this.path}: corrupt GGUF header: ${what} is ${v}, larger than the file allows (${limit})`, {
        code: 'corrupt_header', param: 'file', hint: 'the file is corrupt or not a GGUF file', details: { file: this.path },
      });
    }
    return Number(v);
  }
  str(what: string): string {
    const len = this.u64size(`length of ${what}`, this.size - this.pos);
    if (len === 0) return '';
    return this.buf.toString('utf8', this.at(len, what), this.pos - this.bufStart);
  }
}

/** Minimum encoded size of one value of a type (for array length sanity checks). */
const MIN_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 8: 8, 9: 12, 10: 8, 11: 8, 12: 8 };

function readValue(r: HeaderReader, type: number, key: string, depth = 0): GgufMetaValue {
  switch (type) {
    case 0: return r.u8(key);
    case 1: return r.i8(key);
    case 2: return r.u16(key);
    case 3: return r.i16(key);
    case 4: return r.u32(key);
    case 5: return r.i32(key);
    case 6: return r.f32(key);
    case 7: {
      const b = r.u8(key);
      return b !== 0;
    }
    case 8: return r.str(key);
    case 10: {
      const v = r.u64big(key);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 11: {
      const v = r.i64big(key);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case 12: return r.f64(key);
    case 9: {
      if (depth > 4) throw badHeader(r.path, `metadata ${key}: arrays nested too deeply`);
      const itemType = r.u32(`${key} array type`);
      if (!(itemType in MIN_SIZE)) throw badHeader(r.path, `metadata ${key}: unknown array item type ${itemType}`);
      const n = r.u64size(`${key} array length`, Math.floor((r.size - r.pos) / MIN_SIZE[itemType]));
      const out: GgufMetaValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(r, itemType, key, depth + 1);
      return out;
    }
    default:
      throw badHeader(r.path, `metadata ${key}: unknown value type ${type}`);
  }
}

function badHeader(path: string, what: string) {
  return modelError(`${path}: corrupt GGUF header: ${what}`, {
    code: 'corrupt_header', param: 'file', hint: 'the file is corrupt or not a GGUF file', details: { file: path },
  });
}

/** Parse the header of a GGUF file (metadata and tensor infos); reads no tensor data. */
export function readGgufHeader(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw modelError(`cannot open GGUF file ${path}: ${(e as Error).message}`, { code: 'file_not_found', param: 'file', cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    const r = new HeaderReader(fd, path, size);
    const magic = size >= 4 ? r.u32('magic') : 0;
    if (magic !== MAGIC) {
      throw modelError(`${path} is not a GGUF file (magic ${magic.toString(16)}, expected "GGUF")`, {
        code: 'not_gguf', param: 'file', hint: 'pass a .gguf model file or a Hugging Face model folder',
      });
    }
    if (size < 24) throw badHeader(path, `file is only ${size} bytes`);
    const version = r.u32('version');
    if (version !== 2 && version !== 3) {
      const hint = version === 1 ? 'GGUF v1 is obsolete; convert the model again with a current llama.cpp'
        : version > 0xffff ? 'this looks like a big-endian GGUF, which is not supported' : 'use a GGUF v2/v3 file';
      throw modelError(`${path}: unsupported GGUF version ${version}`, { code: 'unsupported_gguf_version', param: 'file', hint });
    }
    // Each tensor info is ≥ 8+4+8+4+8 bytes, each kv ≥ 8+4+1: bound the counts by the file size.
    const nTensors = r.u64size('tensor count', Math.floor(size / 32));
    const nKv = r.u64size('metadata count', Math.floor(size / 13));
    const metadata = new Map<string, GgufMetaValue>();
    const metadataTypes = new Map<string, number>();
    for (let i = 0; i < nKv; i++) {
      const key = r.str(`metadata key #${i}`);
      const type = r.u32(`type of ${key}`);
      metadata.set(key, readValue(r, type, key));
      metadataTypes.set(key, type);
    }
    let alignment = 32;
    const al = metadata.get('general.alignment');
    if (al !== undefined) {
      if (typeof al !== 'number' || al <= 0 || (al & (al - 1)) !== 0) throw badHeader(path, `general.alignment must be a power of two, got ${String(al)}`);
      alignment = al;
    }
    const infos: Array<{ name: string; ne: number[]; ggmlType: number; rel: number }> = [];
    for (let i = 0; i < nTensors; i++) {
      const name = r.str(`tensor name #${i}`);
      const nDims = r.u32(`dims of ${name}`);
      if (nDims < 1 || nDims > 4) throw badHeader(path, `tensor ${name} has ${nDims} dimensions (1..4 allowed)`);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(r.u64size(`ne[${d}] of ${name}`, Number.MAX_SAFE_INTEGER));
      const ggmlType = r.u32(`type of ${name}`);
      const rel = r.u64size(`offset of ${name}`);
      infos.push({ name, ne, ggmlType, rel });
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    const tensors: GgufTensorInfo[] = [];
    const seen = new Set<string>();
    for (const t of infos) {
      if (seen.has(t.name)) throw badHeader(path, `tensor ${t.name} appears twice`);
      seen.add(t.name);
      if (t.rel % alignment !== 0) throw badHeader(path, `tensor ${t.name} offset ${t.rel} is not a multiple of the alignment ${alignment}`);
      const g = GGML_TYPES[t.ggmlType];
      const dtype = GGML_TO_DTYPE[t.ggmlType] ?? null;
      let nbytes = 0;
      if (g?.elems && g.bytes) {
        const n = t.ne.reduce((a, b) => a * b, 1);
        if (t.ne[0] % g.elems !== 0) throw badHeader(path, `tensor ${t.name} has ${t.ne[0]} columns, not a multiple of the ${g.name} block size ${g.elems}`);
        nbytes = (n / g.elems) * g.bytes;
        const end = dataOffset + t.rel + nbytes;
        if (end > size) {
          throw modelError(`${path}: tensor ${t.name} (${g.name}, ne=[${t.ne.join(', ')}]) ends at byte ${end} but the file has ${size} bytes (truncated file or lying offset)`, {
            code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt; download or convert it again',
            details: { file: path, tensor: t.name, end, size },
          });
        }
      } else if (!g) {
        throw modelError(`${path}: tensor ${t.name} uses unknown ggml type id ${t.ggmlType}`, {
          code: 'unsupported_quant_type', param: 'file', hint: `supported types: ${SUPPORTED}`, details: { file: path, tensor: t.name },
        });
      }
      tensors.push({ name: t.name, ne: t.ne, ggmlType: t.ggmlType, dtype, offset: dataOffset + t.rel, nbytes });
    }
    // Overlap check on the sorted extents (a header that lies could alias two tensors).
    const sorted = tensors.filter((t) => t.nbytes > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1];
      if (p.offset + p.nbytes > sorted[i].offset) throw badHeader(path, `tensors ${p.name} and ${sorted[i].name} overlap`);
    }
    return { path, version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Read `nbytes` from `path` at `offset` into `dest` (typically a heap view). Reads in 16 MiB
 * chunks straight into the destination; no intermediate buffer.
 */
export function readBytesInto(path: string, fd: number, offset: number, dest: Uint8Array, what: string): void {
  const n = dest.byteLength;
  let done = 0;
  const step = 16 << 20;
  while (done < n) {
    const got = readSync(fd, dest, done, Math.min(step, n - done), offset + done);
    if (got === 0) {
      throw modelError(`${path}: unexpected end of file while reading ${what} (${done} of ${n} bytes at offset ${offset})`, {
        code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt', details: { file: path },
      });
    }
    done += got;
  }
}

/** A tensor's 2-D geometry: rows = product of ne[1..], cols = ne[0]. */
export function ggufRowsCols(t: GgufTensorInfo): { rows: number; cols: number } {
  return { rows: t.ne.slice(1).reduce((a, b) => a * b, 1), cols: t.ne[0] };
}

/** Bytes per row of `cols` elements of a supported dtype (re-exported for callers of this module). */
export function dtypeBytes(dtype: DType, elems: number): number {
  const b = BLOCK[dtype];
  return (elems / b.elems) * b.bytes;
}

/** Typed metadata getters that name the file and key on a mismatch. */
export function metaNumber(f: GgufFile, key: string): number | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw badHeader(f.path, `metadata ${key} should be a number, got ${typeof v}`);
  return v;
}
export function metaString(f: GgufFile, key: string): string | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badHeader(f.path, `metadata ${key} should be a string, got ${typeof v}`);
  return v;
}
export function metaBool(f: GgufFile, key: string): boolean | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw badHeader(f.path, `metadata ${key} should be a bool, got ${typeof v}`);
}
