// Shared solc settings for the two ways contracts are compiled (scripts/build-contracts.mjs through solc-js
// directly, and forge through scripts/solc-shim), so both produce the same bytecode rules.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const EVM_VERSION = 'cancun';
export const OPTIMIZER = { enabled: true, runs: 200 };
/** Import prefix → folder, relative to the repository root (also in foundry.toml `remappings`). */
export const REMAPPINGS = [['@openzeppelin/contracts/', 'node_modules/@openzeppelin/contracts/']];

/**
 * solc-js import callback: resolves an import path against the working directory (after remappings), then
 * node_modules. Returns `{contents}` or `{error}` as solc-js expects.
 */
export function makeImportCallback(root = process.cwd()) {
  return (path) => {
    const candidates = [];
    for (const [prefix, target] of REMAPPINGS) if (path.startsWith(prefix)) candidates.push(target + path.slice(prefix.length));
    candidates.push(path, `node_modules/${path}`);
    for (const c of candidates) {
      const full = resolve(root, c);
      if (existsSync(full)) return { contents: readFileSync(full, 'utf8') };
    }
    return { error: `import not found: ${path} (looked in ${candidates.join(', ')})` };
  };
}
