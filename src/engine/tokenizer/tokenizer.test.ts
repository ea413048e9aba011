// Tokenizer: HF tokenizer.json and GGUF embedded vocabs through one implementation.
// - llama.cpp's own vocab files and test vectors (models/ggml-vocab-*.gguf{,.inp,.out}), taken
//   from the llama.cpp sources node-llama-cpp ships (llama/gitRelease.bundle);
// - the tiny vocab of testing/tiny-vocab.ts as a tokenizer.json;
// - streaming decode, special tokens, chat templates, and tokenizer.json files that are not one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { OpenLedgerError } from '../../util/errors.ts';
import { readGgufHeader } from '../formats/gguf.ts';
import { buildTinyVocab, CHATML_TEMPLATE, tokenizerJson } from '../testing/tiny-vocab.ts';
import { createTokenizer, tokenizerJsonFromGguf } from './index.ts';
import { llamaCppFiles } from './llamacpp-sources.ts';
import { tokenizerJsonFromSentencePiece } from './sentencepiece.ts';
import { writeSentencePieceModel } from './spm-proto.test-helper.ts';

// SentencePiece (Llama 2/Mistral, Phi-3) and byte-level BPE (GPT-2, Qwen2) vocabs: both
// conversion paths of gguf-vocab.ts, exact ids plus streaming decode. parity/tokenizer.test.ts runs
// the ids check over every vocab llama.cpp ships vectors for, and against node-llama-cpp itself.
const VOCABS = ['llama-spm', 'phi-3', 'gpt-2', 'qwen2'];

describe("tokenizer vs llama.cpp's vocab test vectors", () => {
  let repo: string | null = null;
  before(() => {
    const root = llamaCppFiles(VOCABS.flatMap((n) => [`models/ggml-vocab-${n}.gguf`, `models/ggml-vocab-${n}.gguf.inp`, `models/ggml-vocab-${n}.gguf.out`]));
    repo = root && join(root, 'models');
  });
  for (const name of VOCABS) {
    it(name, (t) => {
      if (!repo) return t.skip('llama.cpp sources (node-llama-cpp gitRelease.bundle) or git not available');
      const show = (p: string) => readFileSync(join(repo!, p));
      const gguf = join(repo!, `ggml-vocab-${name}.gguf`);
      const f = readGgufHeader(gguf);
      const { tokenizerJson: json, tokenizerConfig } = tokenizerJsonFromGguf(f);
      const tok = createTokenizer(json, tokenizerConfig, { source: gguf });
      const inputs = show(`ggml-vocab-${name}.gguf.inp`).toString('utf8').split('\n__ggml_vocab_test__\n');
      if (inputs.at(-1) === '') inputs.pop();
      const outputs = show(`ggml-vocab-${name}.gguf.out`).toString('utf8').split('\n');
      assert.ok(inputs.length >= 40, `${inputs.length} test strings`);
      let ok = 0;
      const bad: string[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const want = outputs[i].trim() === '' ? [] : outputs[i].trim().split(/\s+/).map(Number);
        const got = tok.encode(inputs[i], { addSpecial: false });
        if (JSON.stringify(got) === JSON.stringify(want)) ok++;
        else bad.push(`${JSON.stringify(inputs[i]).slice(0, 40)}: want ${want.slice(0, 8)} got ${got.slice(0, 8)}`);
        // Streaming decode gives the same text as decoding at once.
        const step = tok.decodeIncremental();
        assert.equal(got.map((id) => step(id)).join(''), tok.decode(got), `stream ${JSON.stringify(inputs[i]).slice(0, 40)}`);
      }
      assert.equal(ok, inputs.length, `${name}: ${ok}/${inputs.length}\n${bad.join('\n')}`);
    });
  }
});

describe('tokenizer.json (HF) path', () => {
  const vocab = buildTinyVocab({ pre: 'qwen2' });
  const json = tokenizerJson(vocab, null);
  const config = { eos_token: '<|im_end|>', chat_template: CHATML_TEMPLATE, clean_up_tokenization_spaces: false };

  it('round-trips text, keeps special tokens whole, and skips them on request', () => {
    const tok = createTokenizer(json, config);
    for (const text of ['function add(a, b) { return a + b; }', 'héllo wörld 🦙 ½', '  two  spaces\n\nand newlines\t']) {
      const ids = tok.encode(text);
      assert.ok(ids.length > 0);
      assert.equal(tok.decode(ids), text);
    }
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    const start = tok.tokenToId('<|im_start|>')!;
    const end = tok.tokenToId('<|im_end|>')!;
    assert.equal(ids[0], start);
    assert.equal(ids.at(-1), end);
    assert.ok(tok.isSpecial(start) && tok.isSpecial(end) && !tok.isSpecial(ids[1]));
    assert.equal(tok.decode(ids, { skipSpecial: true }), 'user\nhi');
    assert.deepEqual(tok.eosTokenIds, [end]);
    assert.equal(tok.tokenToString(start), '<|im_start|>');
    assert.ok(tok.vocabSize >= vocab.tokens.length);
  });

  it('streams without splitting a UTF-8 character', () => {
    const tok = createTokenizer(json, config);
    const text = 'a🦙b — ½ ünïcödé 日本語 done';
    const ids = tok.encode(text, { addSpecial: false });
    assert.ok(ids.length > Array.from(text).length / 2, 'multi-byte characters span several byte tokens');
    const step = tok.decodeIncremental();
    const pieces = ids.map((id) => step(id));
    assert.equal(pieces.join(''), text);
    for (const p of pieces) assert.ok(!p.includes('\uFFFD'), `piece ${JSON.stringify(p)} holds a broken character`);
    assert.ok(pieces.some((p) => p === ''), 'some steps wait for the rest of a character');
  });

  it('renders the chat template and encodes it without adding specials again', () => {
    const tok = createTokenizer(json, config);
    const text = tok.applyChatTemplate([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]);
    assert.equal(text, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    const noGen = tok.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: false });
    assert.ok(!noGen.endsWith('assistant\n'));
    const ids = tok.encode(text, { addSpecial: false });
    assert.equal(tok.decode(ids), text);
  });

  it('a template that raises, or no template, is a request error', () => {
    const raising = createTokenizer(json, { ...config, chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok" });
    assert.throws(() => raising.applyChatTemplate([{ role: 'assistant', content: 'x' }]),
      (e: OpenLedgerError) => e.code === 'chat_template_error' && e.status === 400 && /first message must be from the user/.test(e.message));
    const none = createTokenizer(json, { eos_token: '<|im_end|>' });
    assert.equal(none.chatTemplate, null);
    assert.throws(() => none.applyChatTemplate([{ role: 'user', content: 'x' }]), (e: OpenLedgerError) => e.code === 'no_chat_template');
  });

  it('a tokenizer.json that is not one is named', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[1, 2, 3], /not a JSON object/],
      [{ version: '1.0' }, /no "model" section/],
      [{ model: { type: 'Transformer', vocab: {} } }, /unknown model type "Transformer"/],
      [{ model: { type: 'BPE' } }, /has no vocab/],
      [{ model: { type: 'BPE', vocab: {}, merges: [] }, added_tokens: 'x' }, /"added_tokens" is not a list/],
    ];
    for (const [bad, msg] of cases) {
      assert.throws(() => createTokenizer(bad, {}, { source: '/m/tokenizer.json' }), (e: OpenLedgerError) => {
        assert.equal(e.code, 'invalid_tokenizer');
        assert.match(e.message, /\/m\/tokenizer\.json is not a tokenizer\.json/);
        assert.match(e.message, msg);
        return true;
      });
    }
  });

  it('rejects ids outside the vocabulary', () => {
    const tok = createTokenizer(json, config);
    assert.throws(() => tok.decode([0, 1e9]), (e: OpenLedgerError) => e.code === 'invalid_token_id' && e.status === 400);
    assert.equal(tok.decode([]), '');
  });
});

describe('SentencePiece tokenizer.model', () => {
  it("a .model with Llama 2's vocab tokenizes llama.cpp's test vectors exactly", (t) => {
    const root = llamaCppFiles(['models/ggml-vocab-llama-spm.gguf', 'models/ggml-vocab-llama-spm.gguf.inp', 'models/ggml-vocab-llama-spm.gguf.out']);
    if (!root) return t.skip('llama.cpp sources not available');
    const f = readGgufHeader(join(root, 'models/ggml-vocab-llama-spm.gguf'));
    const pieces = f.metadata.get('tokenizer.ggml.tokens') as string[];
    const scores = f.metadata.get('tokenizer.ggml.scores') as number[];
    const types = f.metadata.get('tokenizer.ggml.token_type') as number[];
    const model = writeSentencePieceModel({ pieces, scores, types });
    const { tokenizerJson: json, tokenizerConfig } = tokenizerJsonFromSentencePiece(model, { bos_token: '<s>', eos_token: '</s>' });
    const tok = createTokenizer(json, tokenizerConfig);
    assert.equal(tok.bosTokenId, 1);
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    const inputs = readFileSync(join(root, 'models/ggml-vocab-llama-spm.gguf.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
    if (inputs.at(-1) === '') inputs.pop();
    const outputs = readFileSync(join(root, 'models/ggml-vocab-llama-spm.gguf.out'), 'utf8').split('\n');
    for (let i = 0; i < inputs.length; i++) {
      const want = outputs[i].trim() === '' ? [] : outputs[i].trim().split(/\s+/).map(Number);
      assert.deepEqual(tok.encode(inputs[i], { addSpecial: false }), want, JSON.stringify(inputs[i]));
    }
  });

  it('refuses Unigram models and corrupt files by name', () => {
    const spec = { pieces: ['<unk>', '<s>', '</s>', '▁a'], scores: [0, 0, 0, -1], types: [2, 3, 3, 1] };
    assert.throws(() => tokenizerJsonFromSentencePiece(writeSentencePieceModel({ ...spec, modelType: 1 }), {}, '/m/tokenizer.model'),
      (e: OpenLedgerError) => e.code === 'invalid_tokenizer' && /Unigram model; only BPE/.test(e.message) && /\/m\/tokenizer\.model/.test(e.message));
    const good = writeSentencePieceModel(spec);
    assert.throws(() => tokenizerJsonFromSentencePiece(good.subarray(0, good.length - 7), {}, '/m/tokenizer.model'),
      (e: OpenLedgerError) => e.code === 'invalid_tokenizer' && /not a valid SentencePiece model/.test(e.message));
    assert.throws(() => tokenizerJsonFromSentencePiece(new TextEncoder().encode('{"not": "protobuf"}'), {}, '/m/tokenizer.model'),
      (e: OpenLedgerError) => e.code === 'invalid_tokenizer');
  });
});
