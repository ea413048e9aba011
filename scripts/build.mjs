#!/usr/bin/env node
// Build steps that `npm start` and `npm test` need, each skipped when its outputs are newer than
// its inputs: contracts → src/contracts/generated (ABIs + bytecode), engine WASM kernels, the studio
// (web/ → build/studio, cached by a hash of its sources).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const steps = ['scripts/build-contracts.mjs', 'scripts/build-wasm.mjs', 'scripts/build-web.mjs'];
for (const step of steps) {
  if (!existsSync(step)) continue;
  const r = spawnSync(process.execPath, [step, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build step ${step} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}
