// Relaxed-SIMD probe: does this Node/V8 run the 8-bit relaxed dot products, and with which
// semantics? (README "Relaxed SIMD on Node 20"). Plain JS so it runs as a child process under V8
// tier flags:  node --experimental-wasm-relaxed-simd [--liftoff-only | --no-liftoff] relaxed-probe.js
// prints one JSON line. `npm run bench:kernels -- --relaxed-probe` runs it under all three.
//
// The module is assembled here byte by byte (no compiler needed) and exports
//   dotAdd(a, b, out): out = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128 a, v128 b, 0)
//   dot16(a, b, out):  out = i16x8.relaxed_dot_i8x16_i7x16_s(v128 a, v128 b)
// on an imported memory.

const v128load = [0xfd, 0x00, 0x04, 0x00]; // v128.load align=16 offset=0
const v128store = [0xfd, 0x0b, 0x04, 0x00];
const get = (i) => [0x20, i];
const section = (id, bytes) => [id, bytes.length, ...bytes];
const str = (s) => [s.length, ...Buffer.from(s)];
const body = (ops) => [ops.length + 2, 0x00, ...ops, 0x0b]; // size, no locals, ops, end

const dotAdd = body([...get(2), ...get(0), ...v128load, ...get(1), ...v128load, 0xfd, 0x0c, ...new Array(16).fill(0), 0xfd, 0x93, 0x02, ...v128store]);
const dot16 = body([...get(2), ...get(0), ...v128load, ...get(1), ...v128load, 0xfd, 0x92, 0x02, ...v128store]);
export const PROBE_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]), // type 0: (i32, i32, i32) → ()
  ...section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x00, 0x01]), // memory import, min 1 page
  ...section(3, [2, 0, 0]),
  ...section(7, [2, ...str('dotAdd'), 0x00, 0, ...str('dot16'), 0x00, 1]),
  ...section(10, [2, ...dotAdd, ...dot16]),
]);

/**
 * Runs the probes: semantics of each op on extreme values, and the number of wrong lanes on random
 * in-contract inputs (a: int8, b: 0..127) against exact integer math, over many calls (so that
 * V8's tier-up happens in the middle). Needs --experimental-wasm-relaxed-simd.
 */
export function probeRelaxedSimd(calls = 20000) {
  if (!WebAssembly.validate(PROBE_WASM)) return { supported: false };
  const memory = new WebAssembly.Memory({ initial: 1 });
  const k = new WebAssembly.Instance(new WebAssembly.Module(PROBE_WASM), { env: { memory } }).exports;
  const i8 = new Int8Array(memory.buffer), u8 = new Uint8Array(memory.buffer);
  const i16 = new Int16Array(memory.buffer), i32 = new Int32Array(memory.buffer);
  const fill = (a, b) => { i8.fill(a, 0, 16); u8.fill(b, 16, 32); };
  // a = 127, b = 255: exact 4·127·255 = 129540 per i32 lane; pmaddubsw saturates each pair to 32767.
  fill(127, 255); k.dotAdd(0, 16, 64);
  const dotAddB255 = i32[16];
  k.dot16(0, 16, 64);
  const dot16B255 = i16[32];
  let dotAddWrong = 0, dot16Wrong = 0, dotAddRatio = null;
  let s = 0x12345678;
  for (let c = 0; c < calls; c++) {
    for (let i = 0; i < 32; i++) {
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      if (i < 16) i8[i] = (s & 255) - 128; else u8[i] = s & 127;
    }
    k.dotAdd(0, 16, 64);
    for (let l = 0; l < 4; l++) {
      let e = 0;
      for (let j = 0; j < 4; j++) e += i8[4 * l + j] * u8[16 + 4 * l + j];
      if (i32[16 + l] !== e) { dotAddWrong++; if (e !== 0) dotAddRatio = i32[16 + l] / e; }
    }
    k.dot16(0, 16, 64);
    for (let l = 0; l < 8; l++) {
      const e = i8[2 * l] * u8[16 + 2 * l] + i8[2 * l + 1] * u8[17 + 2 * l];
      if (i16[32 + l] !== e) dot16Wrong++;
    }
  }
  return {
    supported: true,
    // 129540: b read as u8 without saturation (vpdpbusd); 65534: pmaddubsw + pmaddwd; other: wrong
    dotAddB255, dot16B255, dotAddWrongLanes: dotAddWrong, dotAddLanes: 4 * calls, dotAddRatio,
    dot16WrongLanes: dot16Wrong, dot16Lanes: 8 * calls,
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  console.log(JSON.stringify({ node: process.version, v8: process.versions.v8, ...probeRelaxedSimd() }));
}
