/**
 * llama.cpp's tokenizer test vectors, taken from the llama.cpp sources node-llama-cpp ships
 * (`node_modules/node-llama-cpp/llama/gitRelease.bundle`, MIT): models/ggml-vocab-<name>.gguf
 * (vocab-only GGUFs) with .gguf.inp (inputs separated by "\n__ggml_vocab_test__\n") and
 * .gguf.out (one line of token ids per input, tokenized without BOS). Extracted at test time
 * into a cache under the OS temp dir instead of being copied into the repository (they are ~60 MB).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SEP = '\n__ggml_vocab_test__\n';

function bundlePath(): string | null {
  // node-llama-cpp's exports map hides package.json; walk up to its node_modules folder instead.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let repoDir: string | null | undefined;

/** A bare git repo holding the bundle's commit, or null when git or the bundle is missing. */
function repo(): string | null {
  if (repoDir !== undefined) return repoDir;
  const bundle = bundlePath();
  if (!bundle) return (repoDir = null);
  const key = createHash('sha256').update(bundle + statSync(bundle).size).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `openledger-llama-src-${key}`);
  try {
    if (!existsSync(join(dir, 'READY'))) {
      const tmp = `${dir}.${process.pid}`;
      execFileSync('git', ['init', '-q', '--bare', tmp]);
      execFileSync('git', ['-C', tmp, 'fetch', '-q', bundle, 'HEAD:refs/heads/main']);
      writeFileSync(join(tmp, 'READY'), '');
      try {
        renameSync(tmp, dir);
      } catch {
        // Another process won the race; its copy is as good as ours.
      }
    }
    return (repoDir = dir);
  } catch {
    return (repoDir = null);
  }
}

/** Why vocab fixtures are unavailable (for a skip message), or null when they are. */
export function vocabFixturesUnavailable(): string | null {
  if (!bundlePath()) return 'node-llama-cpp/llama/gitRelease.bundle is missing';
  if (!repo()) return 'could not read the llama.cpp bundle with git';
  return null;
}

/** Path of a file from the llama.cpp sources (cached copy), e.g. 'models/ggml-vocab-gpt-2.gguf'. */
export function llamaSourceFile(path: string): string {
  const r = repo();
  if (!r) throw new Error(`llama.cpp sources unavailable: ${vocabFixturesUnavailable()}`);
  const out = join(r, 'files', path);
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    const bytes = execFileSync('git', ['-C', r, 'show', `main:${path}`], { maxBuffer: 64 << 20 });
    writeFileSync(`${out}.${process.pid}`, bytes);
    renameSync(`${out}.${process.pid}`, out);
  }
  return out;
}

export interface VocabCase {
  text: string;
  ids: number[];
}

/** The vocab GGUF path and its test cases. */
export function vocabFixture(name: string): { gguf: string; cases: VocabCase[] } {
  const gguf = llamaSourceFile(`models/ggml-vocab-${name}.gguf`);
  const inp = readFileSync(llamaSourceFile(`models/ggml-vocab-${name}.gguf.inp`), 'utf8');
  const out = readFileSync(llamaSourceFile(`models/ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  const texts: string[] = [];
  let pos = 0;
  while (pos < inp.length) {
    const next = inp.indexOf(SEP, pos);
    if (next < 0) {
      texts.push(inp.slice(pos));
      break;
    }
    texts.push(inp.slice(pos, next));
    pos = next + SEP.length;
  }
  const cases = texts.map((text, i) => ({
    text,
    ids: out[i].trim() === '' ? [] : out[i].trim().split(' ').map(Number),
  }));
  return { gguf, cases };
}
