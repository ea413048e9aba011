#!/usr/bin/env node
// One test command: Solidity tests with forge, then every *.test.ts under src/ and test/ with
// node's test runner (TypeScript through tsx). Extra args filter test files by substring.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = ['src', 'test'].flatMap((d) => { try { return walk(d); } catch { return []; } })
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();

let failed = false;
if (filters.length === 0 || filters.includes('contracts')) {
  const forge = spawnSync(process.execPath, ['scripts/forge.mjs', 'test'], { stdio: 'inherit' });
  if (forge.status !== 0) { console.error('forge tests failed'); failed = true; }
}
if (files.length) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
