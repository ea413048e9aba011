/**
 * safetensors reader: one file, or a sharded set named by `model.safetensors.index.json`.
 *
 * Layout: u64 LE header length N | N bytes of JSON | data. The JSON maps each tensor name to
 * { dtype, shape, data_offsets: [begin, end] } (offsets relative to the data section), plus an
 * optional "__metadata__" string map.
 *
 * The header is validated in full before any tensor is trusted: known dtype, integer shape,
 * begin ≤ end ≤ data size, end - begin = prod(shape) · sizeof(dtype), no two tensors overlapping.
 * Each failure names the file and the tensor. Tensor bytes are read with fs.readSync straight into
 * the caller's buffer (a heap view), so the model is never buffered twice.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { modelError } from '../../util/errors.ts';

export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64'
  | 'F8_E4M3' | 'F8_E5M2';

export const SAFETENSORS_DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  /** PyTorch order: shape[0] is the slowest dimension (rows of a Linear weight). */
  shape: number[];
  /** File that holds it. */
  file: string;
  /** Absolute byte offset in `file`. */
  offset: number;
  nbytes: number;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string> | null;
  tensors: Map<string, SafetensorsTensorInfo>;
  dataOffset: number;
  fileSize: number;
}

/** A whole (possibly sharded) checkpoint. */
export interface SafetensorsModel {
  /** The shard files, in index order (sorted by name). */
  files: SafetensorsFile[];
  tensors: Map<string, SafetensorsTensorInfo>;
}

const MAX_HEADER = 100 << 20; // the reference implementation's limit

function corrupt(path: string, what: string, tensor?: string) {
  return modelError(`${path}: invalid safetensors header: ${what}`, {
    code: 'corrupt_header', param: 'file', hint: 'the file is corrupt or not a safetensors file; download or export it again',
    details: { file: path, ...(tensor ? { tensor } : {}) },
  });
}

/** Parse and validate the header of one .safetensors file. */
export function readSafetensorsHeader(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw modelError(`cannot open safetensors file ${path}: ${(e as Error).message}`, { code: 'file_not_found', param: 'file', cause: e });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw corrupt(path, `file is only ${size} bytes (no 8-byte header length)`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const n = lenBuf.readBigUInt64LE(0);
    if (n > BigInt(size - 8)) {
      throw modelError(`${path}: header length ${n} exceeds the file size ${size} (truncated file, or not safetensors)`, {
        code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt; download or export it again', details: { file: path },
      });
    }
    const hlen = Number(n);
    if (hlen > MAX_HEADER) throw corrupt(path, `header of ${hlen} bytes is larger than the ${MAX_HEADER}-byte limit`);
    const hbuf = Buffer.alloc(hlen);
    let got = 0;
    while (got < hlen) {
      const k = readSync(fd, hbuf, got, hlen - got, 8 + got);
      if (k === 0) break;
      got += k;
    }
    if (got < hlen) throw corrupt(path, `could only read ${got} of ${hlen} header bytes`);
    let json: unknown;
    try {
      json = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      throw corrupt(path, `header is not JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw corrupt(path, 'header is not a JSON object');
    const dataOffset = 8 + hlen;
    const dataSize = size - dataOffset;
    const tensors = new Map<string, SafetensorsTensorInfo>();
    let metadata: Record<string, string> | null = null;
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof raw !== 'object' || raw === null) throw corrupt(path, '__metadata__ is not an object');
        metadata = {};
        for (const [k, v] of Object.entries(raw)) metadata[k] = String(v);
        continue;
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== 'object' || e === null) throw corrupt(path, `entry for tensor ${name} is not an object`, name);
      const dtype = e.dtype as SafetensorsDtype;
      if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_SIZE)) {
        throw corrupt(path, `tensor ${name} has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(SAFETENSORS_DTYPE_SIZE).join(', ')})`, name);
      }
      const shape = e.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw corrupt(path, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`, name);
      }
      const offs = e.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1]) {
        throw corrupt(path, `tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`, name);
      }
      const [begin, end] = offs as [number, number];
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZE[dtype];
      if (end - begin !== expected) {
        throw corrupt(path, `tensor ${name} (${dtype} [${shape.join(', ')}]) should span ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`, name);
      }
      if (end > dataSize) {
        throw modelError(`${path}: tensor ${name} ends at data byte ${end} but the file holds only ${dataSize} bytes of data (truncated file or a header that lies about offsets)`, {
          code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt; download or export it again',
          details: { file: path, tensor: name, end, dataSize },
        });
      }
      tensors.set(name, { name, dtype, shape: shape as number[], file: path, offset: dataOffset + begin, nbytes: expected });
    }
    const sorted = [...tensors.values()].filter((t) => t.nbytes > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1];
      if (p.offset + p.nbytes > sorted[i].offset) throw corrupt(path, `tensors ${p.name} and ${sorted[i].name} overlap`, sorted[i].name);
    }
    return { path, metadata, tensors, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Open a checkpoint: a .safetensors file, a `*.safetensors.index.json`, or a folder holding
 * either `model.safetensors.index.json` or `*.safetensors` files.
 */
export function openSafetensors(path: string): SafetensorsModel {
  let indexPath: string | null = null;
  let files: string[];
  if (existsSync(path) && statSync(path).isDirectory()) {
    const idx = ['model.safetensors.index.json'].map((n) => join(path, n)).find((p) => existsSync(p));
    if (idx) indexPath = idx;
    else {
      const single = join(path, 'model.safetensors');
      if (!existsSync(single)) {
        throw modelError(`${path}: no model.safetensors or model.safetensors.index.json in the folder`, {
          code: 'missing_weights', param: 'model', hint: 'a Hugging Face model folder needs its *.safetensors weights (PyTorch .bin files are not supported)',
        });
      }
      files = [single];
    }
  } else if (path.endsWith('.json')) indexPath = path;
  else files = [path];
  const tensors = new Map<string, SafetensorsTensorInfo>();
  if (indexPath) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw modelError(`${indexPath}: not a valid JSON index (${(e as Error).message})`, { code: 'corrupt_header', param: 'file' });
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') {
      throw modelError(`${indexPath}: no weight_map`, { code: 'corrupt_header', param: 'file', hint: 'the index must map tensor names to shard files' });
    }
    const dir = dirname(indexPath);
    files = [...new Set(Object.values(index.weight_map))].sort().map((f) => join(dir, f));
    for (const f of files) {
      if (!existsSync(f)) {
        throw modelError(`${indexPath} names shard ${f}, which does not exist`, { code: 'missing_weights', param: 'file', hint: 'download every shard listed in the index' });
      }
    }
    const shards = files.map(readSafetensorsHeader);
    const byFile = new Map(shards.map((s) => [s.path, s]));
    for (const [name, rel] of Object.entries(index.weight_map)) {
      const shard = byFile.get(join(dir, rel))!;
      const t = shard.tensors.get(name);
      if (!t) {
        throw modelError(`${indexPath} says tensor ${name} is in ${rel}, but that shard does not contain it`, {
          code: 'missing_tensor', param: 'file', hint: 'the index and shards do not match; download the model again', details: { tensor: name },
        });
      }
      tensors.set(name, t);
    }
    // Tensors present in shards but absent from the index are still usable.
    for (const s of shards) for (const [n, t] of s.tensors) if (!tensors.has(n)) tensors.set(n, t);
    return { files: shards, tensors };
  }
  const shards = files!.map(readSafetensorsHeader);
  for (const s of shards) for (const [n, t] of s.tensors) tensors.set(n, t);
  return { files: shards, tensors };
}

/** Read one tensor's raw bytes into `dest` (length must equal t.nbytes). */
export function readSafetensorsTensor(t: SafetensorsTensorInfo, dest: Uint8Array, fd?: number): void {
  if (dest.byteLength !== t.nbytes) throw new RangeError(`readSafetensorsTensor ${t.name}: dest has ${dest.byteLength} bytes, tensor has ${t.nbytes}`);
  const own = fd === undefined;
  const f = own ? openSync(t.file, 'r') : fd!;
  try {
    let done = 0;
    const step = 16 << 20;
    while (done < t.nbytes) {
      const got = readSync(f, dest, done, Math.min(step, t.nbytes - done), t.offset + done);
      if (got === 0) {
        throw modelError(`${t.file}: unexpected end of file while reading tensor ${t.name}`, {
          code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt', details: { file: t.file, tensor: t.name },
        });
      }
      done += got;
    }
  } finally {
    if (own) closeSync(f);
  }
}
