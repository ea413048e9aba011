// GGUF reader: real files written by formats/gguf-write.ts, then corrupted byte by byte.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OpenLedgerError } from '../../util/errors.ts';
import { gg, writeGguf } from './gguf-write.ts';
import { readBytesInto, readGgufHeader, unsupportedTypeError } from './gguf.ts';
import { dequantize, quantize } from './quantize.ts';

const dir = mkdtempSync(join(tmpdir(), 'gguf-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function values(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = (s / 2 ** 31 - 0.5) * 2;
  }
  return out;
}

/** A small file: every metadata type, 1-D f32, 2-D f16/q8_0/q4_K tensors, custom alignment. */
function sample(path: string, alignment = 64) {
  const w = values(8 * 32, 2);
  const k = values(2 * 256, 3);
  writeGguf(path, {
    metadata: [
      ['general.architecture', 'llama'],
      ['general.alignment', gg.u32(alignment)],
      ['t.u8', gg.u8(200)], ['t.i8', gg.i8(-5)], ['t.u16', gg.u16(60000)], ['t.i16', gg.i16(-300)],
      ['t.u32', gg.u32(4_000_000_000)], ['t.i32', gg.i32(-7)], ['t.f32', gg.f32(0.5)], ['t.bool', gg.bool(true)],
      ['t.str', 'héllo ✓'], ['t.u64', gg.u64(2n ** 60n)], ['t.i64', gg.i64(-42)], ['t.f64', gg.f64(Math.PI)],
      ['t.arr_str', gg.arr('string', ['a', '', 'ccc'])], ['t.arr_i32', gg.arr('i32', [1, -2, 3])], ['t.arr_f32', gg.arr('f32', [0.25, -1])],
    ],
    tensors: [
      { name: 'norm.weight', shape: [32], dtype: 'f32', data: values(32, 1) },
      { name: 'w.f16', shape: [32, 8], dtype: 'f16', data: w },
      { name: 'w.q8', shape: [32, 8], dtype: 'q8_0', data: w },
      { name: 'w.q4k', shape: [256, 2], dtype: 'q4_K', data: k },
    ],
  });
  return { w, k };
}

function expectModelError(fn: () => unknown, code: string | string[], ...fragments: Array<string | RegExp>) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OpenLedgerError, `expected OpenLedgerError, got ${String(e)}`);
    assert.ok((Array.isArray(code) ? code : [code]).includes(e.code!), `code ${e.code}: ${e.message}`);
    assert.equal(e.type, 'model_error');
    for (const f of fragments) assert.match(e.message, typeof f === 'string' ? new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : f);
    return true;
  });
}

describe('GGUF reader', () => {
  it('reads every metadata type, tensor infos, and alignment', () => {
    const p = join(dir, 'ok.gguf');
    sample(p);
    const f = readGgufHeader(p);
    assert.equal(f.version, 3);
    assert.equal(f.alignment, 64);
    const m = f.metadata;
    assert.equal(m.get('general.architecture'), 'llama');
    assert.equal(m.get('t.u8'), 200);
    assert.equal(m.get('t.i8'), -5);
    assert.equal(m.get('t.u16'), 60000);
    assert.equal(m.get('t.i16'), -300);
    assert.equal(m.get('t.u32'), 4_000_000_000);
    assert.equal(m.get('t.i32'), -7);
    assert.equal(m.get('t.f32'), 0.5);
    assert.equal(m.get('t.bool'), true);
    assert.equal(m.get('t.str'), 'héllo ✓');
    assert.equal(m.get('t.u64'), 2n ** 60n); // beyond 2^53 stays a bigint
    assert.equal(m.get('t.i64'), -42);
    assert.equal(m.get('t.f64'), Math.PI);
    assert.deepEqual(m.get('t.arr_str'), ['a', '', 'ccc']);
    assert.deepEqual(m.get('t.arr_i32'), [1, -2, 3]);
    assert.deepEqual(m.get('t.arr_f32'), [0.25, -1]);
    assert.deepEqual(f.tensors.map((t) => [t.name, t.ne, t.dtype]), [
      ['norm.weight', [32], 'f32'], ['w.f16', [32, 8], 'f16'], ['w.q8', [32, 8], 'q8_0'], ['w.q4k', [256, 2], 'q4_K'],
    ]);
    for (const t of f.tensors) assert.equal(t.offset % 64, 0, `${t.name} aligned`);
    assert.equal(f.dataOffset % 64, 0);
  });

  it('reads GGUF v2 (same layout as v3)', () => {
    const p = join(dir, 'v2.gguf');
    sample(p);
    const buf = readFileSync(p);
    buf.writeUInt32LE(2, 4);
    writeFileSync(p, buf);
    const f = readGgufHeader(p);
    assert.equal(f.version, 2);
    assert.equal(f.tensors.length, 4);
    assert.equal(f.metadata.get('t.str'), 'héllo ✓');
  });

  it('reads tensor bytes that dequantize to what was written', () => {
    const p = join(dir, 'data.gguf');
    const { w, k } = sample(p, 32);
    const f = readGgufHeader(p);
    const fd = openSync(p, 'r');
    try {
      const get = (name: string) => {
        const t = f.tensors.find((x) => x.name === name)!;
        const dest = new Uint8Array(t.nbytes);
        readBytesInto(p, fd, t.offset, dest, name);
        return dequantize(dest, t.dtype!, t.ne[0] * (t.ne[1] ?? 1));
      };
      assert.deepEqual(get('norm.weight'), values(32, 1));
      const q8 = get('w.q8');
      assert.deepEqual(q8, dequantize(quantize(w, 'q8_0'), 'q8_0', w.length));
      assert.deepEqual(get('w.q4k'), dequantize(quantize(k, 'q4_K'), 'q4_K', k.length));
      const f16 = get('w.f16');
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(f16[i] - w[i]) < 1e-3);
    } finally {
      closeSync(fd);
    }
  });

  it('a truncated file names the tensor that runs past the end', () => {
    const p = join(dir, 'trunc.gguf');
    sample(p);
    const size = readFileSync(p).length;
    truncateSync(p, size - 100);
    expectModelError(() => readGgufHeader(p), 'truncated_file', p, 'w.q4k', 'truncated');
  });

  it('a file cut inside the header fails cleanly', () => {
    const p = join(dir, 'trunc-head.gguf');
    sample(p);
    for (const cut of [30, 100, 300]) {
      truncateSync(p, cut);
      expectModelError(() => readGgufHeader(p), ['truncated_file', 'corrupt_header'], p);
    }
  });

  it('a header that lies about an offset is rejected', () => {
    const p = join(dir, 'lie.gguf');
    sample(p);
    const buf = readFileSync(p);
    // The last tensor info ends with its u64 offset, right before the padding to the data section.
    const name = Buffer.from('w.q4k');
    const at = buf.indexOf(name) + name.length + 4 + 16 + 4; // n_dims u32, ne[2] u64, type u32
    buf.writeBigUInt64LE(BigInt(1 << 20), at); // beyond the file
    writeFileSync(p, buf);
    expectModelError(() => readGgufHeader(p), 'corrupt_header', 'offset of w.q4k');
    buf.writeBigUInt64LE(BigInt(Math.floor((buf.length - 300) / 64) * 64), at); // inside the file, but the data runs past its end
    writeFileSync(p, buf);
    expectModelError(() => readGgufHeader(p), 'truncated_file', 'w.q4k', 'lying offset');
    // An offset that aliases another tensor.
    buf.writeBigUInt64LE(0n, at);
    writeFileSync(p, buf);
    expectModelError(() => readGgufHeader(p), 'corrupt_header', 'overlap');
  });

  it('an unsupported quant type is named with the supported list', () => {
    const p = join(dir, 'q5_1.gguf');
    sample(p);
    const buf = readFileSync(p);
    const name = Buffer.from('w.q8');
    const at = buf.indexOf(name) + name.length + 4 + 16; // the u32 ggml type
    assert.equal(buf.readUInt32LE(at), 8);
    buf.writeUInt32LE(7, at); // Q5_1: same 32-wide blocks, 24 bytes (fits in the file)
    writeFileSync(p, buf);
    const f = readGgufHeader(p); // the header itself is fine…
    const t = f.tensors.find((x) => x.name === 'w.q8')!;
    assert.equal(t.dtype, null);
    const e = unsupportedTypeError(p, t); // …loading it is not (load.ts throws this)
    assert.match(e.message, /tensor w\.q8 uses ggml type 7 \(Q5_1\) which this engine does not support; supported: F32, F16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, BF16/);
    buf.writeUInt32LE(77, at); // not a ggml type at all
    writeFileSync(p, buf);
    expectModelError(() => readGgufHeader(p), 'unsupported_quant_type', 'unknown ggml type id 77');
  });

  it('rejects bad magic, old versions and absurd lengths without allocating', () => {
    const p = join(dir, 'bad.gguf');
    writeFileSync(p, Buffer.from('GGML this is not a gguf file at all....'));
    expectModelError(() => readGgufHeader(p), 'not_gguf', 'is not a GGUF file');
    const v1 = Buffer.alloc(64);
    v1.write('GGUF', 0);
    v1.writeUInt32LE(1, 4);
    writeFileSync(p, v1);
    expectModelError(() => readGgufHeader(p), 'unsupported_gguf_version', 'version 1');
    // A tensor count of 2^40 in a 64-byte file.
    const huge = Buffer.alloc(64);
    huge.write('GGUF', 0);
    huge.writeUInt32LE(3, 4);
    huge.writeBigUInt64LE(2n ** 40n, 8);
    writeFileSync(p, huge);
    expectModelError(() => readGgufHeader(p), 'corrupt_header', 'tensor count');
    // A key whose string length is 2^62.
    const key = Buffer.alloc(64);
    key.write('GGUF', 0);
    key.writeUInt32LE(3, 4);
    key.writeBigUInt64LE(0n, 8);
    key.writeBigUInt64LE(1n, 16);
    key.writeBigUInt64LE(2n ** 62n, 24);
    writeFileSync(p, key);
    expectModelError(() => readGgufHeader(p), 'corrupt_header', 'length of metadata key');
  });
});
