#!/usr/bin/env node
// Compiles the engine's AssemblyScript kernels (src/engine/kernels/wasm/assembly/*.ts) into
// src/engine/kernels/wasm/build/kernels.wasm (gitignored). Skipped when the .wasm is newer than
// every source. Flags: the module imports the engine heap's shared memory, keeps no static data
// and no runtime (stub, no abort import), so every worker can instantiate it on the same memory.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/engine/kernels/wasm/assembly');
const outDir = join(root, 'src/engine/kernels/wasm/build');
const out = join(outDir, 'kernels.wasm');
const force = process.argv.includes('--force');

const sources = readdirSync(srcDir).filter((f) => f.endsWith('.ts')).map((f) => join(srcDir, f));
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (!force && existsSync(out) && statSync(out).mtimeMs >= newest) process.exit(0);

mkdirSync(outDir, { recursive: true });
const asc = await import('assemblyscript/asc');
const t0 = performance.now();
const { error, stderr } = await asc.main([
  join(srcDir, 'index.ts'),
  '--outFile', out,
  '--textFile', join(outDir, 'kernels.wat'),
  '--importMemory', '--sharedMemory', '--noExportMemory',
  '--initialMemory', '17', // = heap.ts RESERVED (1 MiB) / 64 KiB + 1: the heap never starts smaller
  '--maximumMemory', '65536',
  '--runtime', 'stub', '--use', 'abort=',
  '--enable', 'simd,threads',
  '-O3', '--noAssert',
]);
if (error) {
  console.error(`build-wasm: ${error.message}\n${stderr.toString()}`);
  process.exit(1);
}
console.log(`build-wasm: ${out.slice(root.length + 1)} (${statSync(out).size} bytes, ${(performance.now() - t0).toFixed(0)} ms)`);
