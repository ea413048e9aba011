#!/usr/bin/env node
// Runs forge (npm @foundry-rs/forge, platform binary) with the given args from the repository root, e.g.
// `node scripts/forge.mjs test` or `node scripts/forge.mjs test --match-contract Staking -vvv`.
// forge calls scripts/solc-shim, which needs `node` on PATH: the node running this script is put first.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function forgeBinary() {
  const pkg = `@foundry-rs/forge-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  try {
    const bin = join(dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'forge');
    if (existsSync(bin)) return bin;
  } catch {}
  const fallback = join(root, 'node_modules', '@foundry-rs', 'forge-linux-amd64', 'bin', 'forge');
  if (existsSync(fallback)) return fallback;
  console.error(`forge: binary not found (looked for ${pkg}); run \`npm ci\` to install @foundry-rs/forge.`);
  process.exit(1);
}

const r = spawnSync(forgeBinary(), process.argv.slice(2), {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`,
    FOUNDRY_DISABLE_NIGHTLY_WARNING: '1',
    ...(process.stdout.isTTY ? {} : { NO_COLOR: '1' }),
  },
});
if (r.error) {
  console.error(`forge: could not start (${r.error.message})`);
  process.exit(1);
}
process.exit(r.status ?? 1);
