#!/usr/bin/env node
// Compiles the engine's AssemblyScript kernels (src/engine/kernels/wasm/assembly/**/*.ts) twice into
// src/engine/kernels/wasm/build/ (gitignored): kernels.wasm (SIMD128, every runtime) and
// kernels-relaxed.wasm (the same sources with relaxed SIMD, whose ASC_FEATURE_RELAXED_SIMD branches
// pick the relaxed kernel variants; loaded only where the start-up probe passes). Skipped when both
// are newer than every source. Flags: the module imports the engine heap's shared memory, keeps no
// static data and no runtime (stub, no abort import), so every worker can instantiate it on the same memory.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/engine/kernels/wasm/assembly');
const outDir = join(root, 'src/engine/kernels/wasm/build');
const force = process.argv.includes('--force');
const builds = [
  { out: join(outDir, 'kernels.wasm'), features: 'simd,threads' },
  { out: join(outDir, 'kernels-relaxed.wasm'), features: 'simd,threads,relaxed-simd' },
];

const sources = readdirSync(srcDir, { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => join(srcDir, f));
const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (!force && builds.every((b) => existsSync(b.out) && statSync(b.out).mtimeMs >= newest)) process.exit(0);

mkdirSync(outDir, { recursive: true });
const asc = await import('assemblyscript/asc');
for (const { out, features } of builds) {
  const t0 = performance.now();
  const { error, stderr } = await asc.main([
    join(srcDir, 'index.ts'),
    '--outFile', out,
    '--textFile', out.replace(/\.wasm$/, '.wat'),
    '--importMemory', '--sharedMemory', '--noExportMemory',
    '--initialMemory', '17', // = heap.ts RESERVED (1 MiB) / 64 KiB + 1: the heap never starts smaller
    '--maximumMemory', '65536',
    '--runtime', 'stub', '--use', 'abort=',
    '--enable', features,
    '-O3', '--noAssert',
  ]);
  if (error) {
    console.error(`build-wasm: ${error.message}\n${stderr.toString()}`);
    process.exit(1);
  }
  console.log(`build-wasm: ${out.slice(root.length + 1)} (${statSync(out).size} bytes, ${(performance.now() - t0).toFixed(0)} ms)`);
}
