#!/usr/bin/env node
// Builds the studio (web/, React + Vite) into build/studio/ (gitignored), served by the node at /.
// Skipped when nothing that goes into the bundle changed: a sha256 over web/'s files, the files
// outside web/ that the last bundle imported (e.g. src/datanets/signature.ts, recorded in
// build/studio/.source-files.json), this script and package-lock.json is kept in build/studio/.source-hash.
// Prints the bundle size (raw and gzip) after each build. --force rebuilds.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');
const outDir = join(root, 'build/studio');
const stamp = join(outDir, '.source-hash');
const sharedList = join(outDir, '.source-files.json');
const force = process.argv.includes('--force');
if (!existsSync(webDir)) process.exit(0);

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Repository files outside web/ that the last bundle imported. */
function sharedFiles() {
  try {
    return JSON.parse(readFileSync(sharedList, 'utf8')).map((f) => join(root, f));
  } catch {
    return [];
  }
}

function sourceHash() {
  const h = createHash('sha256');
  for (const f of [...walk(webDir), ...sharedFiles(), fileURLToPath(import.meta.url), join(root, 'package-lock.json')]) {
    if (!existsSync(f)) continue;
    h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}
const hash = sourceHash();

/** Sizes of the files index.html loads (JS + CSS), raw and gzip. */
function bundleSize() {
  const dir = join(outDir, 'assets');
  let raw = 0, gz = 0;
  for (const f of readdirSync(dir).filter((n) => /\.(js|css)$/.test(n))) {
    const b = readFileSync(join(dir, f));
    raw += b.byteLength;
    gz += gzipSync(b).byteLength;
  }
  return `${(raw / 1024).toFixed(1)} kB, ${(gz / 1024).toFixed(1)} kB gzip`;
}

if (!force && existsSync(stamp) && existsSync(join(outDir, 'index.html')) && readFileSync(stamp, 'utf8').trim() === hash) {
  console.log(`build-web: up to date (bundle ${bundleSize()})`);
  process.exit(0);
}

let vite;
try {
  vite = await import('vite');
} catch {
  console.warn('build-web: vite is not installed (npm ci --omit=dev?): the studio is not built; the node serves a notice at / instead');
  process.exit(0);
}
const t0 = performance.now();
// every module of the graph (tree-shaken ones too), to know which files outside web/ to watch
let graph = [];
const record = { name: 'openledger-record-graph', buildEnd() { graph = [...this.getModuleIds()]; } };
try {
  await vite.build({ configFile: join(webDir, 'vite.config.ts'), logLevel: 'warn', plugins: [record] });
} catch (e) {
  console.error(`build-web: the studio build failed: ${e?.message ?? e}`);
  process.exit(1);
}
const shared = new Set();
for (const id of graph) {
  const rel = relative(root, id.split('?')[0]);
  if (!rel.startsWith('..') && !rel.startsWith('web/') && !rel.includes('node_modules') && existsSync(join(root, rel))) shared.add(rel);
}
writeFileSync(sharedList, JSON.stringify([...shared].sort(), null, 1) + '\n');
writeFileSync(stamp, sourceHash() + '\n');
console.log(`build-web: web/ → build/studio in ${(performance.now() - t0).toFixed(0)} ms (bundle ${bundleSize()})`);
