/**
 * The writers against independent readers: GGUF headers through node-llama-cpp's
 * readGgufFileInfo (llama.cpp's own parser family), safetensors by hand-parsing the header, and
 * every quantizer by its round-trip error bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufFileInfo } from 'node-llama-cpp';
import { dequantize, f16ToF32, f32ToF16, f32ToBf16, bf16ToF32, quantize } from './quantize.ts';
import { gg, writeGguf } from './gguf-write.ts';
import { writeSafetensors } from './safetensors-write.ts';
import type { DType } from '../kernels/types.ts';

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

test('f16 and bf16 conversions round to nearest even', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(1e6), 0x7c00);
  assert.equal(f32ToF16(2 ** -24), 0x0001);
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(f16ToF32(0x3555), 0.333251953125);
  assert.equal(bf16ToF32(f32ToBf16(1.5)), 1.5);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie → even
});

// Max error relative to the block's max |x| that each format must meet on Gaussian data.
const BOUND: Record<DType, number> = {
  f32: 0, f16: 1e-3, bf16: 8e-3, q8_0: 1 / 200, q4_0: 1 / 12, q4_K: 1 / 12, q5_K: 1 / 25, q6_K: 1 / 50,
};

for (const dtype of Object.keys(BOUND) as DType[]) {
  test(`${dtype}: dequantize(quantize(x)) is within its bound`, () => {
    const x = randn(256 * 8, 7);
    x[3] = 0; // a zero and an all-zero block must survive
    const zeros = new Float32Array(256);
    const bytes = quantize(x, dtype);
    const y = dequantize(bytes, dtype, x.length);
    let amax = 0;
    let emax = 0;
    let rms = 0;
    for (let i = 0; i < x.length; i++) {
      amax = Math.max(amax, Math.abs(x[i]));
      emax = Math.max(emax, Math.abs(x[i] - y[i]));
      rms += (x[i] - y[i]) ** 2;
    }
    assert.ok(emax <= BOUND[dtype] * amax, `${dtype} max err ${emax} vs amax ${amax}`);
    if (dtype !== 'f32') assert.ok(emax > 0, 'lossy formats lose something');
    assert.ok(dequantize(quantize(zeros, dtype), dtype, 256).every((z) => z === 0), "zeros stay zero");
    rms = Math.sqrt(rms / x.length);
    assert.ok(Number.isFinite(rms));
  });
}

test('writeGguf produces a file llama.cpp-side parsers read back exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ggufw-'));
  try {
    const path = join(dir, 'x.gguf');
    const w = randn(64 * 3, 1);
    const v = randn(5, 2);
    writeGguf(path, {
      metadata: [
        ['general.architecture', 'llama'],
        ['general.name', 'tést'],
        ['llama.context_length', gg.u32(128)],
        ['llama.rope.freq_base', gg.f32(10000.5)],
        ['x.i64', gg.i64(-5n)],
        ['x.f64', gg.f64(0.1)],
        ['x.bool', true],
        ['x.strs', ['a', 'b', '']],
        ['x.ints', gg.arr('i32', [1, -2, 3])],
        ['x.floats', gg.arr('f32', [0.5, 1.5])],
      ],
      tensors: [
        { name: 'w', shape: [64, 3], dtype: 'q8_0', data: w },
        { name: 'v', shape: [5], dtype: 'f32', data: () => v },
      ],
    });
    const info = await readGgufFileInfo(path, { logWarnings: false });
    assert.equal(info.version, 3);
    const md = info.metadata as any;
    assert.equal(md.general.architecture, 'llama');
    assert.equal(md.general.name, 'tést');
    assert.equal(md.llama.context_length, 128);
    assert.equal(md.llama.rope.freq_base, 10000.5);
    assert.equal(md.x.bool, true);
    assert.deepEqual(md.x.strs, ['a', 'b', '']);
    assert.deepEqual(Array.from(md.x.ints), [1, -2, 3]);
    assert.deepEqual(Array.from(md.x.floats), [0.5, 1.5]);
    const t = info.fullTensorInfo!;
    assert.deepEqual(t.map((x) => x.name), ['w', 'v']);
    assert.deepEqual(t[0].dimensions.map(Number), [64, 3]);
    assert.equal(t[0].ggmlType, 8);
    assert.equal(Number(t[1].offset) % 32, 0);
    // Read the tensors back from the data section ourselves.
    const file = readFileSync(path);
    const dataStart = info.infoEndOffset!;
    assert.equal(dataStart % 32, 0);
    const wBytes = file.subarray(dataStart + Number(t[0].offset), dataStart + Number(t[0].offset) + 3 * 68);
    assert.deepEqual(Array.from(dequantize(new Uint8Array(wBytes), 'q8_0', 192)), Array.from(dequantize(quantize(w, 'q8_0'), 'q8_0', 192)));
    const vBytes = file.subarray(dataStart + Number(t[1].offset), dataStart + Number(t[1].offset) + 20);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(vBytes).buffer)), Array.from(v));
    assert.equal(statSync(path).size % 32, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeSafetensors writes an aligned header and the values in each dtype', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stw-'));
  try {
    const path = join(dir, 'm.safetensors');
    const a = randn(6, 3);
    writeSafetensors(path, {
      a: { dtype: 'F32', shape: [2, 3], data: a },
      b: { dtype: 'F16', shape: [6], data: a },
      c: { dtype: 'BF16', shape: [3, 2], data: a },
    }, { format: 'pt' });
    const file = readFileSync(path);
    const n = Number(file.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(file.subarray(8, 8 + n).toString());
    assert.deepEqual(header.__metadata__, { format: 'pt' });
    assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    assert.deepEqual(header.b.data_offsets, [24, 36]);
    assert.deepEqual(header.c.data_offsets, [36, 48]);
    const data = file.subarray(8 + n);
    assert.equal(data.length, 48);
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(data.subarray(0, 24)).buffer)), Array.from(a));
    for (let i = 0; i < 6; i++) {
      assert.equal(data.readUInt16LE(24 + 2 * i), f32ToF16(a[i]));
      assert.equal(data.readUInt16LE(36 + 2 * i), f32ToBf16(a[i]));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
