/**
 * The starter model's recipe: corpus → tokenizer → pre-training from a seeded random init with
 * the engine's own trainer (full fine-tuning path) → models/starter/.
 *
 *   npm run train:starter [-- --steps N] [-- --threads 1] [-- --out models/starter] [-- --probe 5]
 *
 * `--probe N` runs N steps and prints tokens/s only (to size a run). Checkpoints go to
 * cache/starter/ckpt-<run hash> (a killed run resumes). Output: config.json,
 * generation_config.json, model.safetensors (f32), tokenizer.json, tokenizer_config.json,
 * recipe.json and the model card README.md.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadModel, type LoadedModel } from '../../src/engine/model/load.ts';
import { selectKernels } from '../../src/engine/kernels/select.ts';
import { train, evaluate, planGroups, type TrainExample } from '../../src/engine/train/index.ts';
import { writeSafetensors } from '../../src/engine/formats/safetensors-write.ts';
import { createEngine, generate } from '../../src/engine/index.ts';
import { Rng } from '../../src/engine/testing/rng.ts';
import { buildCorpus } from './corpus.ts';
import { trainBpe, tokenizerJson, tokenizerConfig, SPECIALS } from './bpe.ts';
import { STARTER_DIMS, hfConfig, canonicalToHf } from './arch.ts';
import { llamaPermutation, unpermuteRows } from '../../src/engine/model/names.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 && args[i + 1] ? args[i + 1] : def; };

export const RECIPE = {
  seed: 20261205,
  corpusDocs: Number(opt('docs', '40000')),
  pdRepeat: 3,
  heldOutEvery: 50,
  vocabSize: 2048,
  dims: STARTER_DIMS,
  hyperparameters: {
    steps: Number(opt('steps', '1800')),
    maxBatchTokens: 1024, batchSize: 64, lr: 3e-3, schedule: 'cosine' as const, warmupSteps: 60,
    weightDecay: 0.1, beta1: 0.9, beta2: 0.95, maxGradNorm: 1, initStd: 0.02,
  },
  threads: Number(opt('threads', '1')),
};
const OUT = resolve(opt('out', join(ROOT, 'models/starter')));
const PROBE = Number(opt('probe', '0'));
/** `--deadline HH:MM` (UTC): stop after the step that passes it and ship what was trained (the card records the steps). Not part of the run's identity, so a run restarted with it resumes from its checkpoint. */
const DEADLINE = opt('deadline', '');
const WORK = join(ROOT, 'cache/starter');
const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

function sha256(data: string | Uint8Array) { return createHash('sha256').update(data).digest('hex'); }

/** Seeded init (HF names): N(0, std) for matrices, residual-writing projections scaled by 1/√(2L), norms 1. */
function initWeights(seed: number, std: number, V: number): Map<string, { shape: number[]; data: Float32Array }> {
  const { dModel: C, nLayers: L, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F } = RECIPE.dims;
  const rng = new Rng(seed);
  const t = new Map<string, { shape: number[]; data: Float32Array }>();
  const mat = (n: string, r: number, c: number, s = std) => t.set(n, { shape: [r, c], data: rng.normal(r * c, s) });
  const ones = (n: string, k: number) => t.set(n, { shape: [k], data: new Float32Array(k).fill(1) });
  const resid = std / Math.sqrt(2 * L);
  mat('model.embed_tokens.weight', V, C);
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    ones(p + 'input_layernorm.weight', C);
    mat(p + 'self_attn.q_proj.weight', H * D, C);
    mat(p + 'self_attn.k_proj.weight', KV * D, C);
    mat(p + 'self_attn.v_proj.weight', KV * D, C);
    mat(p + 'self_attn.o_proj.weight', C, H * D, resid);
    ones(p + 'post_attention_layernorm.weight', C);
    mat(p + 'mlp.gate_proj.weight', F, C);
    mat(p + 'mlp.up_proj.weight', F, C);
    mat(p + 'mlp.down_proj.weight', C, F, resid);
  }
  ones('model.norm.weight', C);
  return t;
}

function writeFolder(dir: string, V: number, tok: object, tokCfg: object, tensors: Map<string, { shape: number[]; data: Float32Array }>, ids: { eos: number[] }) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(V, ids.eos), null, 2) + '\n');
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: null, eos_token_id: ids.eos, pad_token_id: ids.eos[1] }, null, 2) + '\n');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok) + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokCfg, null, 2) + '\n');
  writeSafetensors(join(dir, 'model.safetensors'), Object.fromEntries([...tensors].map(([n, x]) => [n, { dtype: 'F32' as const, shape: x.shape, data: x.data }])), { format: 'pt' });
}

/** The trained canonical tensors → HF names and layout (q/k rows back to the "rotate halves" order). */
function exportHf(model: LoadedModel): Map<string, { shape: number[]; data: Float32Array }> {
  const { nHeads: H, nKvHeads: KV } = RECIPE.dims;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of model.tensors) {
    const hf = canonicalToHf(name);
    if (!hf) continue; // output.weight is the tied embedding
    if (t instanceof Float32Array) { out.set(hf, { shape: [t.length], data: Float32Array.from(t) }); continue; }
    if (t.dtype !== 'f32') throw new Error(`${name} is ${t.dtype}, expected f32`);
    let data: Float32Array = new Float32Array(t.data.buffer, t.data.byteOffset, t.rows * t.cols).slice();
    if (name.endsWith('attn_q.weight')) data = unpermuteRows(data, t.cols, llamaPermutation(t.rows, H));
    if (name.endsWith('attn_k.weight')) data = unpermuteRows(data, t.cols, llamaPermutation(t.rows, KV));
    out.set(hf, { shape: [t.rows, t.cols], data });
  }
  return out;
}

/** Documents → examples of at most context + 1 tokens (long ones split; every token after the first is a target). */
function toExamples(tok: LoadedModel['tokenizer'], docs: readonly string[], ctx: number): TrainExample[] {
  const out: TrainExample[] = [];
  for (const d of docs) {
    const ids = tok.encode(d, { addSpecial: false });
    for (let i = 0; i + 1 < ids.length; i += ctx) out.push({ tokens: ids.slice(i, i + ctx + 1) });
  }
  return out;
}

async function main() {
  const t0 = Date.now();
  const R = RECIPE;
  const hp = R.hyperparameters;
  log(`corpus: ${R.corpusDocs} procedural documents + The Devil's Dictionary excerpt (seed ${R.seed})`);
  const corpus = buildCorpus(ROOT, { seed: R.seed, docs: R.corpusDocs, pdRepeat: R.pdRepeat, heldOutEvery: R.heldOutEvery });
  const corpusHash = sha256(JSON.stringify(corpus));
  const chars = corpus.train.reduce((s, d) => s + d.length, 0);
  log(`corpus: ${corpus.train.length} train / ${corpus.heldOut.length} held-out documents, ${(chars / 1e6).toFixed(2)} M chars, sha256 ${corpusHash}`);

  const vocab = trainBpe(corpus.train, R.vocabSize);
  const V = vocab.tokens.length;
  const ids = { eos: [vocab.specialStart + 2, vocab.specialStart] }; // <|im_end|>, <|endoftext|>
  const tok = tokenizerJson(vocab), tokCfg = tokenizerConfig(vocab, R.dims.contextLength);
  log(`tokenizer: ${V} tokens (${vocab.merges.length} merges), specials ${SPECIALS.join(' ')}`);

  const initDir = join(WORK, 'init');
  rmSync(initDir, { recursive: true, force: true });
  writeFolder(initDir, V, tok, tokCfg, initWeights(R.seed, hp.initStd, V), ids);
  const model = await loadModel(initDir, { dtype: 'f32' });
  const ctx = R.dims.trainContext;
  const trainEx = toExamples(model.tokenizer, corpus.train, ctx);
  const heldEx = toExamples(model.tokenizer, corpus.heldOut, ctx);
  const trainTokens = trainEx.reduce((s, e) => s + e.tokens.length, 0);
  log(`tokens: ${trainTokens} train (${(chars / trainTokens).toFixed(2)} chars/token), ${heldEx.reduce((s, e) => s + e.tokens.length, 0)} held-out; ${countParams(model)} parameters`);

  const kernels = selectKernels(model.heap, { threads: R.threads });
  const plannedSteps = PROBE || hp.steps;
  const deadline = DEADLINE ? Date.parse(`${new Date().toISOString().slice(0, 10)}T${DEADLINE}:00Z`) : Infinity;
  const ac = new AbortController();
  let steps = 0;
  const runHash = sha256(JSON.stringify({ R, corpusHash })).slice(0, 16);
  const losses: Array<{ step: number; loss: number }> = [], evals: Array<{ step: number; loss: number }> = [];
  const base = await evaluate(model, heldEx, { kernels, maxBatchTokens: hp.maxBatchTokens });
  log(`held-out loss at init: ${base.loss.toFixed(3)}`);
  let r: Awaited<ReturnType<typeof train>> | null = null;
  const trainHp = {
    epochs: 1, maxSteps: plannedSteps, batchSize: hp.batchSize, maxBatchTokens: hp.maxBatchTokens, lr: hp.lr, schedule: hp.schedule,
    warmupSteps: PROBE ? 0 : hp.warmupSteps, weightDecay: hp.weightDecay, beta1: hp.beta1, beta2: hp.beta2, maxGradNorm: hp.maxGradNorm, seed: R.seed,
  };
  try {
    r = await train(model, trainEx, {
      method: 'full', kernels, hyperparameters: trainHp, signal: ac.signal,
      checkpoint: PROBE ? undefined : { dir: join(WORK, `ckpt-${runHash}`), every: 25 },
      evaluation: PROBE ? undefined : { examples: heldEx, every: 200, onEval: (e) => { evals.push({ step: e.step, loss: e.loss }); log(`eval step ${e.step}: held-out loss ${e.loss.toFixed(3)}`); } },
      onStep: (m) => {
        losses.push({ step: m.step, loss: m.loss });
        steps = m.step;
        if (Date.now() >= deadline && m.step < m.totalSteps) { log(`deadline ${DEADLINE} UTC passed: stopping after step ${m.step}`); ac.abort(); }
        if (PROBE || m.step % 10 === 0 || m.step === 1) log(`step ${m.step}/${m.totalSteps} loss ${m.loss.toFixed(3)} lr ${m.lr.toExponential(2)} |g| ${m.gradNorm.toFixed(2)} ${m.tokensPerSecond.toFixed(0)} tok/s eta ${(m.etaMs / 60000).toFixed(1)} min`);
      },
    });
  } catch (e) {
    if (!ac.signal.aborted) throw e; // stopped at the deadline: the model holds the weights of step `steps`
  }
  r?.free();
  if (PROBE && r) {
    const per = r.metrics.slice(1);
    const avg = per.reduce((s, m) => s + m.tokensPerSecond, 0) / per.length;
    log(`probe: ${avg.toFixed(0)} tok/s (${hp.maxBatchTokens} tokens/step) on ${R.threads} thread(s)`);
    kernels.close();
    return;
  }
  // Exact tokens seen: the plan's micro-batches (one per step) up to the last step run.
  const tokensSeen = planGroups(trainEx, { epochs: 1, batchSize: hp.batchSize, maxBatchTokens: hp.maxBatchTokens, seed: R.seed })
    .slice(0, steps).reduce((s, g) => s + g.reduce((t, i) => t + trainEx[i].tokens.length - 1, 0), 0);
  const final = await evaluate(model, heldEx, { kernels, maxBatchTokens: hp.maxBatchTokens });
  log(`held-out loss after ${steps} steps: ${final.loss.toFixed(3)} (perplexity ${final.perplexity.toFixed(2)})`);

  // Write the folder, then reload it and check it is the model we trained (held-out loss equal).
  mkdirSync(OUT, { recursive: true });
  writeFolder(OUT, V, tok, tokCfg, exportHf(model), ids);
  const shipped = await loadModel(OUT);
  const again = await evaluate(shipped, heldEx, { kernels, maxBatchTokens: hp.maxBatchTokens });
  if (Math.abs(again.loss - final.loss) > 1e-3) throw new Error(`reloaded model's held-out loss ${again.loss} differs from the trained one's ${final.loss}`);
  const weightSha = sha256(readFileSync(join(OUT, 'model.safetensors')));

  const engine = await createEngine(shipped, { kvTokens: 512 });
  const samples: Array<{ prompt: string; chat: boolean; text: string }> = [];
  for (const [prompt, chat] of [['Once upon a time, a little girl named', false], ['What sound does a cat make?\n', false], ['What is 3 plus 4?', true], ['Tell me a short story.', true], ['ABSURDITY, n.', false]] as const) {
    const text = chat ? shipped.tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true }) : prompt;
    const s = generate(engine, { prompt: text, addSpecial: false, maxTokens: 60, sampling: { temperature: 0 } });
    let out = '';
    for await (const c of s) out += c.text;
    await s.result;
    samples.push({ prompt, chat, text: out });
  }
  kernels.close();
  const minutes = (Date.now() - t0) / 60000;
  const recipe = {
    command: 'npm run train:starter' + (args.length ? ' -- ' + args.join(' ') : ''), recipe: R, corpus: { sha256: corpusHash, trainDocs: corpus.train.length, heldOutDocs: corpus.heldOut.length, chars, trainTokens },
    steps, plannedSteps, tokensSeen, trainLossLast10: mean(losses.slice(-10).map((l) => l.loss)),
    heldOut: { init: base.loss, final: final.loss, perplexity: final.perplexity, evals },
    weights: { file: 'model.safetensors', sha256: weightSha }, wallMinutes: minutes, node: process.version, samples,
  };
  writeFileSync(join(OUT, 'recipe.json'), JSON.stringify(recipe, null, 2) + '\n');
  writeFileSync(join(OUT, 'README.md'), card(recipe, countParams(model), V));
  log(`wrote ${relative(ROOT, OUT)} in ${minutes.toFixed(1)} min; weights sha256 ${weightSha}`);
  process.exit(0);
}

function mean(xs: number[]) { return xs.reduce((a, b) => a + b, 0) / (xs.length || 1); }
function countParams(m: LoadedModel) {
  const seen = new Set<object>(); let n = 0;
  for (const t of m.tensors.values()) {
    const key = t instanceof Float32Array ? t : t.data;
    if (seen.has(key)) continue;
    seen.add(key); n += t instanceof Float32Array ? t.length : t.rows * t.cols;
  }
  return n;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function card(r: any, params: number, V: number): string {
  const d = RECIPE.dims;
  return `# starter — the base model shipped with openledger

A small LLaMA-family language model (${(params / 1e6).toFixed(2)} M parameters) trained from scratch by
this project's own trainer, so that fine-tuning, serving and attribution work offline on a fresh
checkout. It writes simple English, short stories, Q&A and ChatML chat turns; it knows nothing
useful. Real models are one \`openledger models add <path>\` away.

| | |
|---|---|
| architecture | LlamaForCausalLM: RMSNorm, RoPE (θ ${hfConfig(V, []).rope_theta}), SwiGLU, GQA ${d.nHeads}/${d.nKvHeads} heads, tied embeddings |
| size | d=${d.dModel}, ${d.nLayers} layers, head dim ${d.headDim}, FFN ${d.ffnDim}, vocab ${V}, context ${d.contextLength} (trained on documents ≤ ${d.trainContext + 1} tokens) |
| weights | \`model.safetensors\`, f32, sha256 \`${r.weights.sha256}\` |
| tokenizer | byte-level BPE (GPT-2 pre-tokenizer), ${V} tokens learned on the corpus by \`scripts/starter/bpe.ts\`; specials \`<|endoftext|>\` \`<|im_start|>\` \`<|im_end|>\`; ChatML chat template; no BOS; EOS \`<|im_end|>\` / \`<|endoftext|>\` |
| licence | Apache-2.0 (weights, tokenizer, recipe) |

## Recipe

\`\`\`sh
${r.command}
\`\`\`

Deterministic from the seed (${RECIPE.seed}): \`scripts/starter/corpus.ts\` generates the corpus,
\`scripts/starter/bpe.ts\` learns the tokenizer, \`scripts/starter/train.ts\` pre-trains from a
seeded random init (N(0, ${RECIPE.hyperparameters.initStd}), residual projections ÷√(2L)) with
\`train(model, examples, { method: 'full' })\` on ${RECIPE.threads} thread(s).

| | |
|---|---|
| corpus sha256 | \`${r.corpus.sha256}\` (JSON of the train and held-out document lists) |
| corpus | ${r.corpus.trainDocs} train / ${r.corpus.heldOutDocs} held-out documents, ${(r.corpus.chars / 1e6).toFixed(2)} M characters, ${r.corpus.trainTokens} tokens |
| steps | ${r.steps} optimizer steps${r.steps < r.plannedSteps ? ` (of ${r.plannedSteps} planned; stopped at the recipe's deadline, so the cosine schedule did not reach its end)` : ''} of ≤ ${RECIPE.hyperparameters.maxBatchTokens} packed tokens (${r.tokensSeen} tokens seen) |
| optimizer | AdamW lr ${RECIPE.hyperparameters.lr}, β ${RECIPE.hyperparameters.beta1}/${RECIPE.hyperparameters.beta2}, weight decay ${RECIPE.hyperparameters.weightDecay}, ${RECIPE.hyperparameters.warmupSteps} warmup steps, cosine, clip ${RECIPE.hyperparameters.maxGradNorm} |
| train loss (mean of last 10 steps) | ${r.trainLossLast10.toFixed(3)} |
| held-out loss | ${r.heldOut.init.toFixed(3)} at init → **${r.heldOut.final.toFixed(3)}** (perplexity ${r.heldOut.perplexity.toFixed(2)}) |
| wall time | ${r.wallMinutes.toFixed(1)} min (Node ${r.node}) |

Held-out loss during training: ${r.heldOut.evals.map((e: { step: number; loss: number }) => `${e.step}: ${e.loss.toFixed(3)}`).join(', ')}.

## Data and provenance

- **Procedural English** (the project's own, Apache-2.0): a seeded generator in
  \`scripts/starter/corpus.ts\` writes short stories, dialogues, everyday facts, question/answer
  pairs in the Model Factory's instruction form (\`question\\nanswer<|im_end|>\`) and ChatML
  conversations from word lists and templates in that file.
- **The Devil's Dictionary** (Ambrose Bierce, 1911; public domain), the excerpt shipped in
  \`datasets/demo-datanets/devils-dictionary/entries.txt\` (training split repeated ${RECIPE.pdRepeat}×).
- **Not included**: the Veloria facts and product-sentiment demo datanets (the generator refuses
  to write "Veloria"), so fine-tuning on them shows a real gain on their held-out split.

## Samples (greedy, 60 tokens)

${r.samples.map((s: { prompt: string; chat: boolean; text: string }) => `- ${s.chat ? 'chat' : 'text'} \`${JSON.stringify(s.prompt)}\` → \`${JSON.stringify(s.text)}\``).join('\n')}

## Limits

A few million parameters and ${(r.tokensSeen / 1e6).toFixed(1)} M training tokens: fluent only within its templates,
wrong about most things, and not a chat assistant. It exists so that the node works offline
end to end; use a real base model for anything else.
`;
}

if (existsSync(ROOT) && process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
