/**
 * Serving measurements (not a test; run by hand, ≈1 min on 2 cores):
 *
 *   npm run bench:serving [-- --json]
 *
 * A random llama-shaped model (d=512, 4 layers, f32; small enough to build in a second, big
 * enough that matmuls dominate) with 8 rank-8 LoRA adapters registered as fine-tuned models in a
 * real store. Through ModelServer (the path HTTP requests take, minus HTTP), greedy, 128 tokens
 * per request: one stream vs 8 concurrent streams on the base vs 8 concurrent streams on 8
 * different adapters — the OpenLoRA case. Reports aggregate decode tokens/s and the steps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildTinyLora, buildTinyModel } from '../src/engine/testing/index.ts';
import { ModelCatalog } from '../src/models/index.ts';
import { FactoryRepo } from '../src/factory/index.ts';
import { openStore } from '../src/store/index.ts';
import { ModelServer } from '../src/serving/server.ts';
import { parseChatRequest } from '../src/serving/openai.ts';

const json = process.argv.includes('--json');
const dir = mkdtempSync(join(tmpdir(), 'serving-bench-'));
const TOKENS = 128, STREAMS = 8;

async function main() {
  const tiny = buildTinyModel('llama', join(dir, 'm'), { format: 'gguf', seed: 1, dims: { dModel: 512, nLayers: 4, nHeads: 8, nKvHeads: 2, headDim: 64, ffnDim: 1536, contextLength: 1024 } });
  await new ModelCatalog(dir).add(tiny.ggufPath!, 'bench');
  const store = openStore(dir, { lock: false });
  const repo = new FactoryRepo(store.db);
  for (let i = 0; i < STREAMS; i++) {
    const lora = buildTinyLora(tiny, join(dir, `lora-${i}`), { rank: 8, seed: i + 1 });
    repo.insertModel({
      jobId: `bench-${i}`, name: `ft:bench:l${i}:0`, owner: '0x0000000000000000000000000000000000000000', baseModel: 'bench', modelId: null, txHash: null,
      baseModelHash: '', adapterHash: '', configHash: '', metadataUri: '', peftDir: lora.peftDir, ggufPath: '', priceInWei: '0', priceOutWei: '0',
    });
  }
  const server = new ModelServer({ catalog: new ModelCatalog(dir), repo, config: { kvTokens: 4096 } });
  const run = async (models: string[]) => {
    const s0 = server.stats();
    const t0 = performance.now();
    const results = await Promise.all(models.map(async (model, i) => {
      const p = parseChatRequest({ model, messages: [{ role: 'user', content: `question ${i}` }], max_tokens: TOKENS, temperature: 0, ignore_eos: true }, TOKENS);
      const { stream } = await server.start(p, { caller: null, signal: new AbortController().signal });
      return stream.result;
    }));
    const s = (performance.now() - t0) / 1000;
    const s1 = server.stats();
    const gen = results.reduce((n, r) => n + r.completionTokens, 0);
    const b = s1.bases[0];
    return { streams: models.length, seconds: +s.toFixed(3), generated: gen, tokPerS: +(gen / s).toFixed(1), steps: s1.steps - s0.steps, maxAdaptersInStep: b.maxAdaptersInStep };
  };
  await run(['bench', 'ft:bench:l0:0']); // load the engine and one adapter
  const rows = {
    'base ×1': await run(['bench']),
    'adapter ×1': await run(['ft:bench:l0:0']),
    'base ×8': await run(Array(STREAMS).fill('bench')),
    '8 adapters ×1 each': await run(Array.from({ length: STREAMS }, (_, i) => `ft:bench:l${i}:0`)),
  };
  const out = { model: 'llama d=512 L=4 f32 (random), LoRA r=8 all linear', tokensPerRequest: TOKENS, loadAvg1m: +loadavg()[0].toFixed(2), rows };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`${out.model}; ${TOKENS} greedy tokens per request; load average ${out.loadAvg1m}`);
    console.log('| case | streams | steps | aggregate tok/s |');
    console.log('|---|---|---|---|');
    for (const [k, r] of Object.entries(rows)) console.log(`| ${k} | ${r.streams} | ${r.steps} | ${r.tokPerS} |`);
  }
  await server.close();
  store.close();
}

main().finally(() => rmSync(dir, { recursive: true, force: true })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
