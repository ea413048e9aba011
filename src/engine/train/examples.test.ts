// Chat and instruction examples on a real tokenizer with a ChatML template (a tiny Qwen2 HF
// folder): the tokens are the rendered conversation, the loss covers exactly the assistant turns;
// and a model fine-tuned on chat rows answers through the same template at inference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyModel } from '../testing/tiny-models.ts';
import { loadModel } from '../model/load.ts';
import { Engine } from '../engine.ts';
import { referenceKernels } from '../kernels/reference.ts';
import { OpenLedgerError } from '../../util/errors.ts';
import { chatExample, instructionExample } from './examples.ts';
import { train } from './train.ts';

const dir = mkdtempSync(join(tmpdir(), 'ol-train-ex-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const tiny = buildTinyModel('qwen2', join(dir, 'qwen2'), { format: 'hf', seed: 4 });
const load = () => loadModel(tiny.hfDir!);

test('chatExample: tokens are the rendered conversation; the loss covers the assistant turns only', async () => {
  const m = await load();
  const tok = m.tokenizer;
  const msgs = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hello there' },
    { role: 'assistant', content: 'hi' },
    { role: 'user', content: 'and again' },
    { role: 'assistant', content: 'hi again' },
  ];
  const ex = chatExample(tok, msgs);
  assert.equal(tok.decode(ex.tokens as number[]), tok.applyChatTemplate(msgs, { addGenerationPrompt: false }));
  const learned = (ex.tokens as number[]).filter((_, i) => ex.lossMask![i]);
  assert.equal(tok.decode(learned), 'hi<|im_end|>\nhi again<|im_end|>\n');
  assert.throws(() => chatExample(tok, msgs.slice(0, 2)), (e: unknown) => e instanceof OpenLedgerError && e.code === 'empty_loss_mask');
  const ins = instructionExample(tok, 'Q: 2+2?', ' 4');
  const resp = (ins.tokens as number[]).filter((_, i) => ins.lossMask![i]);
  assert.equal(tok.decode(resp), ' 4' + tok.decode([tok.eosTokenIds[0]]));
});

test('fine-tuned on chat rows, the model answers through the chat template (the base does not)', async () => {
  const m = await load();
  const tok = m.tokenizer;
  const facts = [['red', 'apple'], ['blue', 'sky'], ['green', 'leaf'], ['black', 'night'], ['white', 'snow'], ['gold', 'sun']];
  const rows = facts.map(([q, a]) => chatExample(tok, [{ role: 'user', content: q }, { role: 'assistant', content: a }]));
  const r = await train(m, rows, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 8 }, hyperparameters: { epochs: 60, batchSize: 6, lr: 1e-2, warmupSteps: 3, seed: 1 } });
  const eng = new Engine(m, referenceKernels, { kvTokens: 512 });
  const ad = eng.createAdapter(r.factors);
  const end = tok.tokenToId('<|im_end|>')!;
  const answer = (q: string, adapter: typeof ad | null) => {
    const prompt = tok.encode(tok.applyChatTemplate([{ role: 'user', content: q }], { addGenerationPrompt: true }), { addSpecial: false });
    const s = eng.createSequence();
    const out: number[] = [];
    let toks = prompt;
    for (let i = 0; i < 8; i++) {
      const l = eng.step([{ seq: s, tokens: toks, adapter, logits: 'last' }])[0].logits!;
      let b = 0;
      for (let v = 1; v < l.length; v++) if (l[v] > l[b]) b = v;
      if (b === end) break;
      out.push(b);
      toks = [b];
    }
    eng.freeSequence(s);
    return tok.decode(out);
  };
  for (const [q, a] of facts) assert.equal(answer(q, ad), a, `tuned answer to ${q}`);
  assert.ok(facts.filter(([q, a]) => answer(q, null) === a).length === 0, 'the base does not know them');
  r.free();
});
