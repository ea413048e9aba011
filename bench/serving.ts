/**
 * Serving measurements (not a test; run by hand, ≈1 min on 2 cores):
 *
 *   npm run bench:serving [-- --json] [-- --charging]
 *
 * A random llama-shaped model (d=512, 4 layers, f32; small enough to build in a second, big
 * enough that matmuls dominate) with 8 rank-8 LoRA adapters registered as fine-tuned models in a
 * real store. Through ModelServer (the path HTTP requests take, minus HTTP), greedy, 128 tokens
 * per request: one stream vs 8 concurrent streams on the base vs 8 concurrent streams on 8
 * different adapters — the OpenLoRA case. Reports aggregate decode tokens/s and the steps.
 *
 * --charging (payable inference, src/rewards): the 8-adapter case with and without the charging
 * path a request takes — hold before the engine (one SQLite transaction), charge + split when it
 * ends (one more) — in interleaved rounds, best round of each; aggregate tokens/s and the p99
 * time to first token. The escrow balance read is cached per payer in the node (one RPC call per
 * payer every 2 s, off the per-token path), so here it comes from memory: what is measured is the
 * ledger work. Also the cost of one admit + finish alone.
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
import { Charging, parseRewardsConfig, promptTokenBound, type SplitParties } from '../src/rewards/index.ts';
import type { Chain } from '../src/chain/index.ts';

const json = process.argv.includes('--json');
const dir = mkdtempSync(join(tmpdir(), 'serving-bench-'));
const TOKENS = 128, STREAMS = 8;
/** The caller of every request (and owner of the bench adapters: unregistered models answer only their owner). */
const PAYER = '0x00000000000000000000000000000000000000dd' as const;

async function main() {
  const tiny = buildTinyModel('llama', join(dir, 'm'), { format: 'gguf', seed: 1, dims: { dModel: 512, nLayers: 4, nHeads: 8, nKvHeads: 2, headDim: 64, ffnDim: 1536, contextLength: 1024 } });
  await new ModelCatalog(dir).add(tiny.ggufPath!, 'bench');
  const store = openStore(dir, { lock: false });
  const repo = new FactoryRepo(store.db);
  for (let i = 0; i < STREAMS; i++) {
    const lora = buildTinyLora(tiny, join(dir, `lora-${i}`), { rank: 8, seed: i + 1 });
    repo.insertModel({
      jobId: `bench-${i}`, name: `ft:bench:l${i}:0`, owner: PAYER, baseModel: 'bench', modelId: null, txHash: null,
      baseModelHash: '', adapterHash: '', configHash: '', metadataUri: '', peftDir: lora.peftDir, ggufPath: '', priceInWei: '0', priceOutWei: '0',
    });
  }
  const server = new ModelServer({ catalog: new ModelCatalog(dir), repo, config: { kvTokens: 4096 } });
  const run = async (models: string[]) => {
    const s0 = server.stats();
    const t0 = performance.now();
    const results = await Promise.all(models.map(async (model, i) => {
      const p = parseChatRequest({ model, messages: [{ role: 'user', content: `question ${i}` }], max_tokens: TOKENS, temperature: 0, ignore_eos: true }, server.config);
      const { stream } = await server.start(p, { caller: PAYER, signal: new AbortController().signal });
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
  const charging = process.argv.includes('--charging') ? await chargingOverhead(server, store.db) : null;
  const out = { model: 'llama d=512 L=4 f32 (random), LoRA r=8 all linear', tokensPerRequest: TOKENS, loadAvg1m: +loadavg()[0].toFixed(2), rows, charging };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`${out.model}; ${TOKENS} greedy tokens per request; load average ${out.loadAvg1m}`);
    console.log('| case | streams | steps | aggregate tok/s |');
    console.log('|---|---|---|---|');
    for (const [k, r] of Object.entries(rows)) console.log(`| ${k} | ${r.streams} | ${r.steps} | ${r.tokPerS} |`);
    if (charging) {
      console.log(`\ncharging (payable inference), 8 adapters × 1 stream, best of ${charging.rounds} interleaved rounds:`);
      console.log('| | aggregate tok/s | TTFT p50 ms | TTFT p99 ms |');
      console.log('|---|---|---|---|');
      console.log(`| without charging | ${charging.off.tokPerS} | ${charging.off.ttftP50} | ${charging.off.ttftP99} |`);
      console.log(`| with charging | ${charging.on.tokPerS} | ${charging.on.ttftP50} | ${charging.on.ttftP99} |`);
      console.log(`tokens/s change ${charging.tokPerSChangePct}% (budget −2%), TTFT p99 change ${charging.ttftP99DeltaMs} ms (budget +1 ms); one admit + finish alone: ${charging.admitFinishUs} µs`);
    }
  }
  await server.close();
  store.close();
}

/** The 8-adapter case with and without hold → charge around each request (see the header). */
async function chargingOverhead(server: ModelServer, db: import('../src/store/index.ts').Db) {
  const ZERO = `0x${'00'.repeat(32)}` as const;
  const parties: SplitParties = {
    shares: { protocol: 100_000, owner: 300_000, validators: 100_000, contributors: 500_000 }, protocol: '0x00000000000000000000000000000000000000aa',
    owner: '0x00000000000000000000000000000000000000bb', validators: [{ address: '0x00000000000000000000000000000000000000cc', stake: '1000', datanetId: 1 }],
    hasContributors: true, modelId: '1',
  };
  const charging = new Charging({
    db, chain: {} as Chain, config: parseRewardsConfig({}), currentEpoch: () => 1,
    resolver: { price: () => ({ per1kInput: 1_000_000_000_000n, per1kOutput: 3_000_000_000_000n }), parties: async () => parties },
    readBalance: async () => ({ spendable: 10n ** 30n, authorized: 10n ** 30n, scope: ZERO, block: 1n }),
  });
  const payer = PAYER;
  let seq = 0;
  const round = async (charge: boolean) => {
    const ttft: number[] = [];
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
      const start = performance.now();
      const model = `ft:bench:l${i}:0`;
      const p = parseChatRequest({ model, messages: [{ role: 'user', content: `question ${i}` }], max_tokens: TOKENS, temperature: 0, ignore_eos: true }, server.config);
      const id = `bench-${seq++}`;
      if (charge) {
        await charging.admit({ id, caller: payer, apiKeyId: null, model, base: 'bench', fineTunedName: model, modelId: '1', recordedPrice: null, owner: parties.owner, maxTokens: TOKENS, promptBound: promptTokenBound(p.generate as never) });
      }
      const { stream } = await server.start(p, { caller: payer, signal: new AbortController().signal });
      let first = true;
      for await (const c of stream) if (first && c.tokens.length) (ttft.push(performance.now() - start), (first = false));
      const r = await stream.result;
      if (charge) charging.finish(id, r);
      return r;
    }));
    const s = (performance.now() - t0) / 1000;
    return { tokPerS: results.reduce((n, r) => n + r.completionTokens, 0) / s, ttft };
  };
  const ROUNDS = 3;
  const best = { off: { tokPerS: 0, ttft: [] as number[] }, on: { tokPerS: 0, ttft: [] as number[] } };
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of (i % 2 ? ['on', 'off'] : ['off', 'on']) as Array<'on' | 'off'>) {
      const r = await round(mode === 'on');
      if (r.tokPerS > best[mode].tokPerS) best[mode].tokPerS = r.tokPerS;
      best[mode].ttft.push(...r.ttft);
    }
  }
  const pct = (xs: number[], q: number) => { const a = [...xs].sort((x, y) => x - y); return a[Math.min(a.length - 1, Math.floor(q * a.length))]; };
  const view = (m: { tokPerS: number; ttft: number[] }) => ({ tokPerS: +m.tokPerS.toFixed(1), ttftP50: +pct(m.ttft, 0.5).toFixed(2), ttftP99: +pct(m.ttft, 0.99).toFixed(2) });
  // admit + finish alone, sequential
  const N = 2000, t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const id = `solo-${i}`;
    await charging.admit({ id, caller: payer, apiKeyId: null, model: 'm', base: 'bench', fineTunedName: 'm', modelId: '1', recordedPrice: null, owner: parties.owner, maxTokens: TOKENS, promptBound: 40 });
    charging.finish(id, { promptTokens: 30, completionTokens: TOKENS, finishReason: 'length' });
  }
  const admitFinishUs = +((performance.now() - t0) * 1000 / N).toFixed(1);
  const off = view(best.off), on = view(best.on);
  return { rounds: ROUNDS, off, on, tokPerSChangePct: +((on.tokPerS / off.tokPerS - 1) * 100).toFixed(2), ttftP99DeltaMs: +(on.ttftP99 - off.ttftP99).toFixed(2), admitFinishUs };
}

main().finally(() => rmSync(dir, { recursive: true, force: true })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
