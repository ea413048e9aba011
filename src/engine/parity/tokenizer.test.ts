/**
 * Tokenizer parity with llama.cpp.
 *
 * 1. llama.cpp's own vocab test vectors (models/ggml-vocab-*.gguf + .inp/.out, from the llama.cpp
 *    sources node-llama-cpp ships): our GGUF-vocab tokenizer must reproduce every expected id list,
 *    and llama.cpp itself (through node-llama-cpp, vocab only) must agree on them too.
 * 2. Our tiny models: the HF tokenizer.json path, the GGUF embedded-vocab path and llama.cpp give
 *    the same ids on the same strings, specials included.
 *
 * Skips (with the reason) only when the llama.cpp sources or the node-llama-cpp binary are unavailable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGgufHeader } from '../formats/gguf.ts';
import { createTokenizer, tokenizerJsonFromGguf, type Tokenizer } from '../tokenizer/index.ts';
import { buildTinyModel, type TinyFamily } from '../testing/tiny-models.ts';
import { getLlamaCpp, oracleTokenize } from './llamacpp.ts';
import { vocabFixture, vocabFixturesUnavailable } from './vocab-fixtures.ts';

/** Vocabs whose every test vector we must match (BPE byte-level and SentencePiece models). */
const VOCABS = [
  'gpt-2', 'llama-bpe', 'qwen2', 'llama-spm', 'falcon', 'deepseek-llm', 'deepseek-coder', 'phi-3',
  'starcoder', 'refact', 'mpt', 'command-r',
];

function ggufTokenizer(path: string): Tokenizer {
  const { tokenizerJson, tokenizerConfig } = tokenizerJsonFromGguf(readGgufHeader(path));
  return createTokenizer(tokenizerJson, tokenizerConfig, { source: path });
}

const noSources = vocabFixturesUnavailable();

for (const name of VOCABS) {
  test(`vocab ${name}: our tokenizer matches llama.cpp's test vectors`, { skip: noSources ?? false }, async () => {
    const { gguf, cases } = vocabFixture(name);
    assert.ok(cases.length >= 40, `${name} has its test vectors`);
    const tok = ggufTokenizer(gguf);
    const wrong: string[] = [];
    for (const c of cases) {
      const got = tok.encode(c.text, { addSpecial: false });
      if (JSON.stringify(got) !== JSON.stringify(c.ids)) wrong.push(`${JSON.stringify(c.text)}: got [${got}] want [${c.ids}]`);
    }
    assert.deepEqual(wrong, [], `${wrong.length}/${cases.length} mismatches`);
  });
}

test('llama.cpp (node-llama-cpp) tokenizes the vectors as its .out files say', { skip: noSources ?? false }, async (t) => {
  const llama = await getLlamaCpp();
  if ('error' in llama) return t.skip(`node-llama-cpp cannot load: ${llama.error}`);
  for (const name of ['gpt-2', 'llama-bpe', 'qwen2', 'llama-spm']) {
    const { gguf, cases } = vocabFixture(name);
    const model = await llama.loadModel({ modelPath: gguf, vocabOnly: true });
    try {
      for (const c of cases) {
        assert.deepEqual(oracleTokenize(model, c.text), c.ids, `${name}: ${JSON.stringify(c.text)}`);
      }
    } finally {
      await model.dispose();
    }
  }
});

const TINY_TEXTS = [
  'Hello world', ' Hello World!', 'The quick brown fox jumps over the lazy dog.', "It's what we'll do; they're here",
  '12345 67890 3.14159', '  two  spaces\tand\ttabs\n\nnewlines', 'Ça va? Déjà vu — naïve café.', '中文测试 日本語 🙂🚀',
  'function add(a, b) { return a + b; }', '', ' ', '\n',
];

for (const family of ['llama', 'qwen2', 'gpt2', 'deepseek-r1-qwen'] as TinyFamily[]) {
  test(`tiny ${family}: HF tokenizer.json, GGUF vocab and llama.cpp agree`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `tok-${family}-`));
    try {
      const m = buildTinyModel(family, dir, { format: 'both' });
      const hf = createTokenizer(
        JSON.parse(readFileSync(join(m.hfDir!, 'tokenizer.json'), 'utf8')),
        JSON.parse(readFileSync(join(m.hfDir!, 'tokenizer_config.json'), 'utf8')),
      );
      const gg = ggufTokenizer(m.ggufPath!);
      const chat = hf.applyChatTemplate([{ role: 'user', content: 'Hi there' }], { addGenerationPrompt: true });
      assert.equal(chat, '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
      for (const text of [...TINY_TEXTS, chat]) {
        const a = hf.encode(text, { addSpecial: false });
        assert.deepEqual(gg.encode(text, { addSpecial: false }), a, `GGUF vs HF on ${JSON.stringify(text)}`);
        assert.equal(hf.decode(a), text, `round trip ${JSON.stringify(text)}`);
      }
      // BOS handling follows the family (add_bos_token).
      const withBos = hf.encode('Hello', { addSpecial: true });
      assert.equal(withBos[0] === m.bosTokenId, m.addBos);
      assert.deepEqual(gg.encode('Hello', { addSpecial: true }), withBos);

      const llama = await getLlamaCpp();
      if ('error' in llama) return t.skip(`node-llama-cpp cannot load: ${llama.error}`);
      const model = await llama.loadModel({ modelPath: m.ggufPath!, vocabOnly: true });
      try {
        for (const text of TINY_TEXTS) {
          assert.deepEqual(oracleTokenize(model, text), hf.encode(text, { addSpecial: false }), `llama.cpp on ${JSON.stringify(text)}`);
        }
        assert.deepEqual(oracleTokenize(model, chat, true), hf.encode(chat, { addSpecial: false }), 'specials parsed');
      } finally {
        await model.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
