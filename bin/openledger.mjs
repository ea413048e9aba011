#!/usr/bin/env node
// The `openledger` command. Node 20 cannot run TypeScript, so register tsx's loader in-process
// (no child process: SIGTERM reaches the node itself) and hand over to the CLI.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Right after `npm ci` nothing is built yet (contract ABIs, WASM kernels): build once, saying so,
// instead of dying with a module-not-found stack.
const root = fileURLToPath(new URL('..', import.meta.url));
const built = ['src/contracts/generated/index.ts', 'src/engine/kernels/wasm/build/kernels.wasm'].every((f) => existsSync(root + f));
if (!built) {
  if (!existsSync(root + 'node_modules/tsx')) {
    console.error('openledger: dependencies are not installed. Run `npm ci` in ' + root + ' first.');
    process.exit(1);
  }
  console.error('openledger: first run in this checkout — building the contracts and WASM kernels (npm run build, about a minute)…');
  const r = spawnSync(process.execPath, [root + 'scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error('openledger: the build failed (output above). Fix it, or run `npm run build` to see it again.');
    process.exit(1);
  }
}

const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
