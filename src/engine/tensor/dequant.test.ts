// Dequantization against blocks encoded here from the ggml struct descriptions (an independent
// encoder, written from the layout, not from the decoder), plus hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantizeRow, dequantize } from './dequant.ts';
import { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, roundF16 } from './half.ts';

const put16 = (b: Uint8Array, o: number, v: number) => { b[o] = v & 0xff; b[o + 1] = v >> 8; };

test('f16 conversion: exact values, rounding, subnormals, specials', () => {
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65520), 0x7c00); // rounds up to Inf
  assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16(2 ** -25), 0x0000); // ties to even → 0
  assert.equal(f32ToF16(3 * 2 ** -25), 0x0002); // 1.5 ulp → ties to even = 2
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  assert.equal(f16ToF32(0x3555), 0.333251953125);
  for (let h = 0; h < 0x7c00; h += 7) assert.equal(f32ToF16(f16ToF32(h)), h); // round trip
  assert.equal(roundF16(0.1), 0.0999755859375);
});

test('bf16 conversion rounds to nearest even', () => {
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(bf16ToF32(f32ToBf16(1 + 2 ** -8)), 1); // tie → even
  assert.equal(bf16ToF32(f32ToBf16(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
});

test('q8_0 and q4_0 known blocks', () => {
  const b8 = new Uint8Array(34);
  put16(b8, 0, 0x3800); // d = 0.5
  for (let j = 0; j < 32; j++) b8[2 + j] = (j * 8 - 128) & 0xff;
  const y8 = new Float32Array(32);
  dequantizeRow('q8_0', b8, 0, y8, 0, 32);
  for (let j = 0; j < 32; j++) assert.equal(y8[j], 0.5 * (j * 8 - 128));

  const b4 = new Uint8Array(18);
  put16(b4, 0, 0x4000); // d = 2
  for (let j = 0; j < 16; j++) b4[2 + j] = j | ((15 - j) << 4);
  const y4 = new Float32Array(32);
  dequantizeRow('q4_0', b4, 0, y4, 0, 32);
  for (let j = 0; j < 16; j++) {
    assert.equal(y4[j], 2 * (j - 8));
    assert.equal(y4[j + 16], 2 * (15 - j - 8));
  }
});

// --- K-quants: encode logical (scale, min, q) values into bytes following ggml's struct comments.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function packScales6(sc: number[], mn: number[]): Uint8Array {
  const s = new Uint8Array(12);
  for (let j = 0; j < 4; j++) {
    s[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
    s[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
    s[j + 8] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
  }
  return s;
}

test('q4_K block: 6-bit scales/mins and nibble order', () => {
  const r = rng(1);
  const sc = Array.from({ length: 8 }, () => Math.floor(r() * 64));
  const mn = Array.from({ length: 8 }, () => Math.floor(r() * 64));
  const q = Array.from({ length: 256 }, () => Math.floor(r() * 16));
  const b = new Uint8Array(144);
  put16(b, 0, f32ToF16(0.0625)); put16(b, 2, f32ToF16(0.125));
  b.set(packScales6(sc, mn), 4);
  for (let i = 0; i < 256; i++) {
    const c = Math.floor(i / 64), l = i % 32, hi = i % 64 >= 32;
    b[16 + 32 * c + l] |= hi ? q[i] << 4 : q[i];
  }
  const y = new Float32Array(256);
  dequantizeRow('q4_K', b, 0, y, 0, 256);
  for (let i = 0; i < 256; i++) {
    const sub = Math.floor(i / 32);
    assert.ok(Math.abs(y[i] - (0.0625 * sc[sub] * q[i] - 0.125 * mn[sub])) < 1e-6, `elem ${i}`);
  }
});

test('q5_K block: fifth bit from qh', () => {
  const r = rng(2);
  const sc = Array.from({ length: 8 }, () => Math.floor(r() * 64));
  const mn = Array.from({ length: 8 }, () => Math.floor(r() * 64));
  const q = Array.from({ length: 256 }, () => Math.floor(r() * 32));
  const b = new Uint8Array(176);
  put16(b, 0, f32ToF16(0.03125)); put16(b, 2, f32ToF16(0.25));
  b.set(packScales6(sc, mn), 4);
  for (let i = 0; i < 256; i++) {
    const c = Math.floor(i / 64), l = i % 32, hi = i % 64 >= 32;
    b[48 + 32 * c + l] |= hi ? (q[i] & 15) << 4 : q[i] & 15;
    if (q[i] & 16) b[16 + l] |= 1 << (2 * c + (hi ? 1 : 0));
  }
  const y = new Float32Array(256);
  dequantizeRow('q5_K', b, 0, y, 0, 256);
  for (let i = 0; i < 256; i++) {
    const sub = Math.floor(i / 32);
    assert.ok(Math.abs(y[i] - (0.03125 * sc[sub] * q[i] - 0.25 * mn[sub])) < 1e-6, `elem ${i}`);
  }
});

test('q6_K block: 4+2 bit quants, signed 8-bit scales per 16', () => {
  const r = rng(3);
  const sc = Array.from({ length: 16 }, () => Math.floor(r() * 256) - 128);
  const q = Array.from({ length: 256 }, () => Math.floor(r() * 64));
  const b = new Uint8Array(210);
  for (let i = 0; i < 256; i++) {
    const n = Math.floor(i / 128), rr = i % 128, quarter = Math.floor(rr / 32), l = rr % 32;
    const qlIdx = 64 * n + l + (quarter & 1 ? 32 : 0);
    b[qlIdx] |= quarter >= 2 ? (q[i] & 15) << 4 : q[i] & 15;
    b[128 + 32 * n + l] |= (q[i] >> 4) << (2 * quarter);
  }
  for (let j = 0; j < 16; j++) b[192 + j] = sc[j] & 0xff;
  put16(b, 208, f32ToF16(0.5));
  const y = new Float32Array(256);
  dequantizeRow('q6_K', b, 0, y, 0, 256);
  for (let i = 0; i < 256; i++) {
    // Scale of element i: sub-block of 16 elements in logical order.
    const s = sc[Math.floor(i / 16)];
    assert.equal(y[i], 0.5 * s * (q[i] - 32), `elem ${i}`);
  }
});

test('f32/f16/bf16 rows and whole-matrix dequantize', () => {
  const v = new Float32Array([1.5, -2, 0.25, 3]);
  const w = { dtype: 'f32' as const, rows: 2, cols: 2, data: new Uint8Array(v.buffer) };
  assert.deepEqual(Array.from(dequantize(w)), [1.5, -2, 0.25, 3]);
  const h = new Uint8Array(8);
  [1.5, -2, 0.25, 3].forEach((x, i) => put16(h, 2 * i, f32ToF16(x)));
  assert.deepEqual(Array.from(dequantize({ dtype: 'f16', rows: 2, cols: 2, data: h })), [1.5, -2, 0.25, 3]);
  const bb = new Uint8Array(8);
  [1.5, -2, 0.25, 3].forEach((x, i) => put16(bb, 2 * i, f32ToBf16(x)));
  assert.deepEqual(Array.from(dequantize({ dtype: 'bf16', rows: 2, cols: 2, data: bb })), [1.5, -2, 0.25, 3]);
  // unaligned f32 source
  const un = new Uint8Array(17);
  un.set(new Uint8Array(v.buffer), 1);
  const y = new Float32Array(4);
  dequantizeRow('f32', un, 1, y, 0, 4);
  assert.deepEqual(Array.from(y), [1.5, -2, 0.25, 3]);
});
