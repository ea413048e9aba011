// The solc command-line interface, as much of it as forge uses, on top of the pinned solc-js (npm `solc`):
//   solc --version                         → "solc, the solidity compiler commandline interface\nVersion: 0.8.37+commit.<hash>.Linux.g++"
//   solc --standard-json [--base-path P] [--include-path P]... [--allow-paths ...] < input.json > output.json
// Imports that forge did not inline are read relative to the base path (default: working directory), through
// the remappings in solc-shim-config.mjs, then node_modules.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { makeImportCallback } from './solc-shim-config.mjs';

const require = createRequire(import.meta.url);
const solc = require('solc');
const args = process.argv.slice(2);

// solc-js reports "0.8.37+commit.f401782d.Emscripten.clang"; forge parses the native CLI's "Version:" line, so
// speak the native platform suffix.
function nativeVersion() {
  return solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
}

function valueOf(flag) {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${nativeVersion()}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write(
    `solc-shim: only --version and --standard-json are supported (got: ${args.join(' ')}); ` +
      `use node scripts/build-contracts.mjs or forge.\n`,
  );
  process.exit(1);
}

const input = readFileSync(0, 'utf8');
const basePath = resolve(valueOf('--base-path') ?? process.cwd());
const callback = makeImportCallback(basePath);
const includePaths = args.flatMap((a, i) => (a === '--include-path' && args[i + 1] ? [resolve(args[i + 1])] : []));
const imports = (path) => {
  const r = callback(path);
  if (!r.error) return r;
  for (const p of includePaths) {
    const alt = makeImportCallback(p)(path);
    if (!alt.error) return alt;
  }
  return r;
};
process.stdout.write(solc.compile(input, { import: imports }));
