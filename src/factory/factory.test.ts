// The factory's pieces on tiny models, no node: dataset rendering and masks per format, the
// deterministic split, long / empty data; hyperparameter errors naming the parameter; export of a
// trained adapter as PEFT and GGUF LoRA that load back through the engine's loaders with the same
// logits as the in-memory adapter, and that change llama.cpp's output the way they change ours;
// import of an adapter made for another base refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, loadModel, referenceKernels, type LoadedModel, type LoraAdapter } from '../engine/index.ts';
import { buildTinyModel, buildTinyLora } from '../engine/testing/index.ts';
import { openSafetensors } from '../engine/formats/safetensors.ts';
import { train } from '../engine/train/index.ts';
import { getLlamaCpp, loadOracleModel, oracleGreedy } from '../engine/parity/llamacpp.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { buildDataset, parseJsonlFile, splitScore, type SourceRow } from './dataset.ts';
import { parseHyperparameters } from './hyperparameters.ts';
import { exportAdapter } from './export.ts';
import { greedyIds, rougeL } from './evaluate.ts';
import { canonicalJson, configHash } from './register.ts';

let dir: string;
let model: LoadedModel;
let ggufPath: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ol-factory-'));
  const tiny = buildTinyModel('llama', join(dir, 'base'), { format: 'gguf', seed: 11 });
  ggufPath = tiny.ggufPath!;
  model = await loadModel(ggufPath);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const row = (i: number, data: Record<string, unknown>): SourceRow => ({ datanetId: 1, version: 1, fileId: null, rowId: i, hash: `0x${i.toString(16).padStart(64, '0')}`, contributor: null, data });

describe('dataset', () => {
  test('alpaca: loss on the response (and EOS) only; the prompt is BOS + instruction + input', () => {
    const ds = buildDataset('alpaca', [row(1, { instruction: 'name the colour', input: 'of the sky', output: 'blue' })], { tokenizer: model.tokenizer, contextLength: 128 });
    const r = ds.rows[0], tok = model.tokenizer;
    const { tokens, lossMask } = r.example;
    assert.equal(tokens.length, lossMask.length);
    assert.equal(tok.decode(tokens.slice(0, r.promptTokens), { skipSpecial: true }), 'name the colour\nof the sky\n');
    assert.equal(tok.decode(tokens.slice(r.promptTokens), { skipSpecial: true }), 'blue');
    assert.equal(tokens[tokens.length - 1], tok.eosTokenIds[0]);
    assert.deepEqual(lossMask, tokens.map((_, i) => (i < r.promptTokens ? 0 : 1)));
    assert.equal(r.reference, 'blue');
  });

  test('sharegpt: the chat template is applied; only assistant turns are learned', () => {
    const ds = buildDataset('sharegpt', [row(1, { system: 'be brief', conversations: [{ from: 'human', value: 'hi' }, { from: 'gpt', value: 'hello there' }, { from: 'human', value: 'bye' }, { from: 'gpt', value: 'see you' }] })], { tokenizer: model.tokenizer, contextLength: 128 });
    const { tokens, lossMask } = ds.rows[0].example;
    const tok = model.tokenizer;
    const learned = tok.decode(tokens.filter((_, i) => lossMask[i]));
    assert.match(learned, /hello there/);
    assert.match(learned, /see you/);
    assert.doesNotMatch(learned, /hi|bye|be brief|user/);
    const all = tok.decode(tokens);
    assert.equal(all, tok.applyChatTemplate([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }, { role: 'user', content: 'bye' }, { role: 'assistant', content: 'see you' }], { addGenerationPrompt: false }).replace(/^/, tokens[0] === tok.bosTokenId ? tok.decode([tokens[0]]) : ''));
  });

  test('labelled is prompt + label; text is learned whole', () => {
    const l = buildDataset('labelled', [row(1, { text: 'great film', label: 'positive' })], { tokenizer: model.tokenizer, contextLength: 128 }).rows[0];
    assert.equal(model.tokenizer.decode(l.example.tokens.slice(l.promptTokens), { skipSpecial: true }), ' positive');
    const t = buildDataset('text', [row(1, { text: 'the quick brown fox' })], { tokenizer: model.tokenizer, contextLength: 128 }).rows[0];
    assert.equal(t.example.lossMask.slice(1).every((m) => m === 1), true);
  });

  test('split: by row hash, deterministic, ~10%, at least one row each side', () => {
    const rows = Array.from({ length: 200 }, (_, i) => row(i + 1, { text: `row ${i}` }));
    const a = buildDataset('text', rows, { tokenizer: model.tokenizer, contextLength: 128 });
    const b = buildDataset('text', [...rows].reverse(), { tokenizer: model.tokenizer, contextLength: 128 });
    assert.deepEqual(a.eval.map((r) => r.rowId).sort(), b.eval.map((r) => r.rowId).sort());
    assert.ok(a.eval.length > 8 && a.eval.length < 35, `${a.eval.length} held out`);
    for (const r of a.eval) assert.ok(splitScore(r.hash) < 1000);
    const two = buildDataset('text', rows.slice(0, 2), { tokenizer: model.tokenizer, contextLength: 128 });
    assert.equal(two.eval.length, 1);
    assert.equal(two.train.length, 1);
    assert.equal(buildDataset('text', rows.slice(0, 5), { tokenizer: model.tokenizer, contextLength: 128, evalFraction: 0 }).eval.length, 0);
  });

  test('bad data: empty, rows longer than the context, unknown file shapes — each a clear error', () => {
    const code = (f: () => unknown, c: string, param?: string) => assert.throws(f, (e: unknown) => e instanceof OpenLedgerError && e.code === c && (!param || e.param === param) && !!e.hint);
    code(() => buildDataset('text', [], { tokenizer: model.tokenizer, contextLength: 128 }), 'empty_dataset');
    code(() => buildDataset('text', [row(7, { text: 'word '.repeat(400) })], { tokenizer: model.tokenizer, contextLength: 128 }), 'context_length_exceeded', 'training_file');
    assert.throws(() => buildDataset('text', [row(7, { text: 'word '.repeat(400) })], { tokenizer: model.tokenizer, contextLength: 128 }), /row 7/);
    code(() => parseJsonlFile('{"foo": 1}\n', 'file-x'), 'invalid_file');
    code(() => parseJsonlFile('not json\n', 'file-x'), 'invalid_file');
    code(() => parseJsonlFile('\n\n', 'file-x'), 'empty_dataset');
    const p = parseJsonlFile('{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n', 'file-x');
    assert.equal(p.format, 'sharegpt');
    assert.deepEqual(p.rows[0].data, { conversations: [{ from: 'human', value: 'a' }, { from: 'gpt', value: 'b' }] });
  });
});

describe('hyperparameters', () => {
  test('defaults, "auto", and OpenAI names', () => {
    const h = parseHyperparameters({ n_epochs: 'auto', learning_rate_multiplier: 2, lora_target_modules: ['q', 'v'] });
    assert.equal(h.n_epochs, 3);
    assert.equal(h.learning_rate, 4e-4);
    assert.deepEqual(h.lora_target_modules, ['q', 'v']);
    assert.equal(h.lora_alpha, 16);
  });
  test('out of range values name the parameter', () => {
    const bad = (hp: Record<string, unknown>, param: string) =>
      assert.throws(() => parseHyperparameters(hp), (e: unknown) => e instanceof OpenLedgerError && e.param === param && e.code === 'invalid_hyperparameter' && e.status === 400);
    bad({ lora_rank: 0 }, 'hyperparameters.lora_rank');
    bad({ learning_rate: -1e-4 }, 'hyperparameters.learning_rate');
    bad({ learning_rate_multiplier: 0 }, 'hyperparameters.learning_rate_multiplier');
    bad({ n_epochs: 0 }, 'hyperparameters.n_epochs');
    bad({ batch_size: 1.5 }, 'hyperparameters.batch_size');
    bad({ lora_dropout: 1 }, 'hyperparameters.lora_dropout');
    bad({ lora_target_modules: ['qq'] }, 'hyperparameters.lora_target_modules');
    bad({ lr_scheduler: 'step' }, 'hyperparameters.lr_scheduler');
    bad({ warmup_ratio: 2 }, 'hyperparameters.warmup_ratio');
    bad({ bogus: 1 }, 'hyperparameters.bogus');
  });
});

describe('metrics and hashes', () => {
  test('ROUGE-L and canonical config hashing', () => {
    assert.equal(rougeL('the cat sat', 'the cat sat'), 1);
    assert.equal(rougeL('dog', 'the cat sat'), 0);
    assert.ok(Math.abs(rougeL('the cat', 'the cat sat') - 0.8) < 1e-9);
    assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] }), '{"a":[1,{"c":3,"d":2}],"b":1}');
    assert.equal(configHash({ a: 1, b: 2 }), configHash({ b: 2, a: 1 }));
  });
});

describe('export', () => {
  test('PEFT export of families with fused HF modules (GPT-2 c_attn, BLOOM/Falcon/ChatGLM query_key_value, ChatGLM gate+up) loads back with the in-memory logits', async () => {
    for (const [family, rsLora] of [['gpt2', false], ['bloom', false], ['falcon', true], ['chatglm', false]] as const) {
      const tiny = buildTinyModel(family, join(dir, `fused-${family}`), { format: 'hf', seed: 5 });
      const m = await loadModel(tiny.hfDir!);
      const rank = 2;
      const factors: Record<string, { a: Float32Array; b: Float32Array; rank: number; alpha: number; rsLora: boolean }> = {};
      let k = 1;
      for (const [name, t] of m.tensors) {
        if (!/^blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(name) || t instanceof Float32Array) continue;
        if (name.includes('attn_k') && family === 'bloom') continue; // a fused module with one part untrained
        const seed = k++;
        factors[name] = {
          a: Float32Array.from({ length: rank * t.cols }, (_, i) => 0.3 * Math.sin(seed * 7.1 + i * 0.37)),
          b: Float32Array.from({ length: t.rows * rank }, (_, i) => 0.3 * Math.cos(seed * 3.3 + i * 0.91)),
          rank, alpha: 4, rsLora,
        };
      }
      const peftDir = exportAdapter(join(dir, `fused-${family}-out`), m, factors, { baseModel: family, name: family }).peftDir;
      const cfg = JSON.parse(readFileSync(join(peftDir, 'adapter_config.json'), 'utf8'));
      assert.ok(Object.values(cfg.rank_pattern).includes(family === 'bloom' ? 2 * rank : 3 * rank), `${family}: the fused qkv module gets rank parts × r (${JSON.stringify(cfg.rank_pattern)})`);
      const eng = new Engine(m, referenceKernels, { kvTokens: 128 });
      const mem = eng.createAdapter(factors);
      const peft = await eng.loadAdapter(peftDir);
      const prompt = m.tokenizer.encode('alpha beta gamma', { addSpecial: true });
      const logits = (a: LoraAdapter | null) => {
        const s = eng.createSequence();
        const l = eng.step([{ seq: s, tokens: prompt, adapter: a, logits: 'all' }])[0].logits!.slice();
        eng.freeSequence(s);
        return l;
      };
      const lm = logits(mem), lp = logits(peft), lb = logits(null);
      const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((mx, v, i) => Math.max(mx, Math.abs(v - y[i])), 0);
      assert.ok(maxDiff(lm, lp) < 1e-4, `${family}: PEFT vs in-memory ${maxDiff(lm, lp)}`);
      assert.ok(maxDiff(lm, lb) > 1e-2, `${family}: the adapter changes the logits`);
      eng.close?.();
    }
  });

  test('PEFT and GGUF exports load back through the engine with the logits of the trained adapter; llama.cpp agrees', async () => {
    // A short real training run so B ≠ 0 on every module (q and k carry LLaMA's rope row permutation).
    const tok = model.tokenizer;
    const examples = ['alpha beta', 'gamma delta', 'epsilon zeta'].map((t) => ({ tokens: [...(tok.bosTokenId !== null ? [tok.bosTokenId] : []), ...tok.encode(t, { addSpecial: false }), tok.eosTokenIds[0]] }));
    const r = await train(model, examples, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 4, alpha: 8 }, hyperparameters: { epochs: 8, batchSize: 3, lr: 3e-2, seed: 1 } });
    const out = join(dir, 'export');
    const exp = exportAdapter(out, model, r.factors, { baseModel: 'tiny-llama', name: 'tiny-llama-test' });
    assert.ok(existsSync(join(exp.peftDir, 'adapter_config.json')));
    const cfg = JSON.parse(readFileSync(join(exp.peftDir, 'adapter_config.json'), 'utf8'));
    assert.equal(cfg.r, 4);
    assert.equal(cfg.lora_alpha, 8);
    assert.deepEqual(cfg.target_modules, ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']);
    const st = openSafetensors(join(exp.peftDir, 'adapter_model.safetensors'));
    assert.ok(st.tensors.has('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'));
    assert.deepEqual(st.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight')!.shape, [model.config.dModel, 4]);

    const eng = new Engine(model, referenceKernels, { kvTokens: 256 });
    const mem = eng.createAdapter(r.factors);
    const peft = await eng.loadAdapter(exp.peftDir);
    const gguf = await eng.loadAdapter(exp.ggufPath);
    const prompt = [...(tok.bosTokenId !== null ? [tok.bosTokenId] : []), ...tok.encode('alpha', { addSpecial: false })];
    const logits = (a: LoraAdapter | null) => {
      const s = eng.createSequence();
      const l = eng.step([{ seq: s, tokens: prompt, adapter: a, logits: 'all' }])[0].logits!.slice();
      eng.freeSequence(s);
      return l;
    };
    const lm = logits(mem), lp = logits(peft), lg = logits(gguf), lb = logits(null);
    const maxDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
    assert.ok(maxDiff(lm, lp) < 1e-5, `PEFT vs in-memory: ${maxDiff(lm, lp)}`);
    assert.ok(maxDiff(lm, lg) < 1e-5, `GGUF vs in-memory: ${maxDiff(lm, lg)}`);
    assert.ok(maxDiff(lm, lb) > 1e-2, 'the adapter changes the logits');

    // llama.cpp: base and base + GGUF LoRA, greedy tokens and log-probs against ours.
    const llama = await getLlamaCpp();
    if ('error' in llama) {
      console.log(`# llama.cpp part skipped: node-llama-cpp cannot load here: ${llama.error}`);
    } else {
      const om = await loadOracleModel(ggufPath);
      try {
        const ours = (a: LoraAdapter | null) => greedyIds(eng, prompt, 6, a, []);
        const theirsBase = await oracleGreedy(om, prompt, 6);
        const theirsTuned = await oracleGreedy(om, prompt, 6, { lora: [{ filePath: exp.ggufPath, scale: 1 }] });
        assert.deepEqual(theirsBase.tokens, ours(null), 'base greedy tokens agree');
        assert.deepEqual(theirsTuned.tokens, ours(gguf), 'base + adapter greedy tokens agree');
        assert.notDeepEqual(theirsBase.logprobs[0], theirsTuned.logprobs[0], 'the adapter changes llama.cpp\'s output');
        // log-softmax at the last prompt position, ours vs llama.cpp, with the adapter
        const V = model.config.vocabSize;
        const last = lg.subarray((prompt.length - 1) * V, prompt.length * V);
        let mx = -Infinity;
        for (const v of last) mx = Math.max(mx, v);
        let z = 0;
        for (const v of last) z += Math.exp(v - mx);
        const lse = mx + Math.log(z);
        let diff = 0;
        for (let v = 0; v < V; v++) if (theirsTuned.logprobs[0][v] > -20) diff = Math.max(diff, Math.abs(last[v] - lse - theirsTuned.logprobs[0][v]));
        assert.ok(diff < 1e-3, `log-prob difference with the adapter, ours vs llama.cpp: ${diff}`);
      } finally {
        await om.dispose();
      }
    }
    eng.close?.();
    r.free();
  });

  test('an adapter made for another base model is refused on load (import path)', async () => {
    const other = buildTinyModel('qwen2', join(dir, 'other'), { format: 'gguf', seed: 3, dims: { dModel: 32, headDim: 8 } });
    const lora = buildTinyLora(other, join(dir, 'other-lora'), { rank: 2 });
    const eng = new Engine(model, referenceKernels, { kvTokens: 64 });
    await assert.rejects(eng.loadAdapter(lora.peftDir), (e: unknown) => e instanceof OpenLedgerError && e.code === 'adapter_mismatch' && /wrong base model/.test(e.hint ?? ''));
    await assert.rejects(eng.loadAdapter(lora.ggufPath), (e: unknown) => e instanceof OpenLedgerError && (e.code === 'adapter_mismatch' || e.code === 'unsupported_adapter'));
  });
});

describe('evaluate', () => {
  test('labelled rows are scored by accuracy, text rows by loss only; base and tuned side by side', async () => {
    const { evaluate } = await import('./evaluate.ts');
    const labelled = buildDataset('labelled', Array.from({ length: 10 }, (_, i) => row(i + 1, { text: `item ${i}`, label: i % 2 ? 'odd' : 'even' })), { tokenizer: model.tokenizer, contextLength: 128, evalFraction: 0.3 });
    const r = await train(model, labelled.train.map((x) => x.example), { kernels: referenceKernels, lora: { targets: ['q', 'v'], rank: 2 }, hyperparameters: { epochs: 2, batchSize: 4, lr: 1e-2 } });
    const eng = new Engine(model, referenceKernels, { kvTokens: 256 });
    const adapter = eng.createAdapter(r.factors);
    const e = await evaluate(eng, labelled, adapter);
    assert.equal(e.rows, labelled.eval.length);
    for (const s of [e.base, e.tuned]) {
      assert.ok(s.accuracy! >= 0 && s.accuracy! <= 1);
      assert.equal(s.exact_match, undefined);
      assert.ok(Number.isFinite(s.loss) && Math.abs(s.perplexity - Math.exp(s.loss)) < 1e-6 * s.perplexity);
    }
    assert.notEqual(e.base.loss, e.tuned.loss);
    const text = buildDataset('text', Array.from({ length: 10 }, (_, i) => row(i + 1, { text: `some text ${i}` })), { tokenizer: model.tokenizer, contextLength: 128, evalFraction: 0.3 });
    const t = await evaluate(eng, text, adapter);
    assert.equal(t.base.accuracy, undefined);
    assert.equal(t.base.rouge_l, undefined);
    // cancellation stops it
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(evaluate(eng, text, adapter, { signal: ac.signal }), (err: unknown) => err instanceof OpenLedgerError && err.code === 'cancelled');
    r.free();
  });
});
