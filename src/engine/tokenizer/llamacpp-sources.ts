/**
 * Test support: files from the llama.cpp sources that node-llama-cpp ships as a git bundle
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle) — vocab GGUFs with their test vectors,
 * and the chat templates of released models (models/templates/*.jinja). Extracted once per
 * process into a temporary folder; null when the bundle or git is unavailable (tests then skip).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

let repo: string | null | undefined;

function bundlePath(): string | null {
  try {
    // The package exports no package.json; walk up from its entry point to its root.
    let d = dirname(createRequire(import.meta.url).resolve('node-llama-cpp'));
    while (!existsSync(join(d, 'llama', 'gitRelease.bundle')) && dirname(d) !== d) d = dirname(d);
    const p = join(d, 'llama', 'gitRelease.bundle');
    return existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

/**
 * Extract `paths` (relative to the llama.cpp root) and return the root folder holding them, or
 * null when the sources are unavailable.
 */
export function llamaCppFiles(paths: string[]): string | null {
  if (repo === undefined) {
    const bundle = bundlePath();
    repo = null;
    if (bundle) {
      const d = mkdtempSync(join(tmpdir(), 'llamacpp-src-'));
      process.once('exit', () => rmSync(d, { recursive: true, force: true }));
      try {
        execFileSync('git', ['init', '-q', d]);
        execFileSync('git', ['-C', d, 'fetch', '-q', bundle], { stdio: 'ignore' });
        repo = d;
      } catch {
        repo = null;
      }
    }
  }
  if (!repo) return null;
  const missing = paths.filter((p) => !existsSync(join(repo!, p)));
  if (missing.length) {
    const tar = execFileSync('git', ['-C', repo, 'archive', 'FETCH_HEAD', ...missing], { maxBuffer: 512 << 20 });
    execFileSync('tar', ['-x', '-C', repo], { input: tar });
  }
  return repo;
}
