/**
 * Write a `.safetensors` file: an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { str: str } }` padded with
 * spaces so the data starts 8-byte aligned, then each tensor's bytes (row-major, little-endian),
 * in header order. The inverse of formats/safetensors.ts.
 *
 * Used by tests (tiny HF models, PEFT adapters) and by the factory when it exports adapters.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { OpenLedgerError } from '../../util/errors.ts';
import { f32ToBf16, f32ToF16 } from './quantize.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

export interface SafetensorsInput {
  dtype: SafetensorsDType;
  shape: number[];
  /** Values in row-major order; converted to `dtype` on write. */
  data: Float32Array;
}

const ELEM: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

function encode(t: SafetensorsInput): Uint8Array {
  const n = t.data.length;
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4);
  const out = new Uint8Array(n * 2);
  const dv = new DataView(out.buffer);
  const conv = t.dtype === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < n; i++) dv.setUint16(2 * i, conv(t.data[i]), true);
  return out;
}

/** Write `tensors` (in insertion order) and optional string metadata to `path`. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length || !ELEM[t.dtype]) {
      throw new OpenLedgerError(`safetensors tensor ${name}: shape [${t.shape}] holds ${n} values but data has ${t.data.length}`, {
        type: 'internal_error', code: 'safetensors_bad_tensor', param: name,
        hint: 'pass data whose length is the product of the shape, with dtype F32, F16 or BF16',
      });
    }
    const bytes = n * ELEM[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    for (const t of Object.values(tensors)) writeSync(fd, encode(t));
  } finally {
    closeSync(fd);
  }
}
