/**
 * Does the node keep answering while it serves? (issue 9: `/health` and datanet reads < 50 ms
 * p99 while 32 streams decode). Not a test; run by hand, ≈1 min on 2 cores:
 *
 *   npm run bench:serving-latency [-- --json] [-- --streams 32] [-- --tokens 128] [-- --nice 10]
 *
 * A real node (embedded Anvil, store, HTTP on a free port) with a random llama-shaped model
 * (d=512, 4 layers, f32) in its catalog and one open datanet. Probes GET /health and
 * GET /v1/datanets/1 every 10 ms over HTTP: first idle, then while N SSE streams decode
 * (greedy, `tokens` each). Then, for comparison, the same engine driven on the main thread
 * (BatchGenerator in this process, as serving ran before its engine thread) while the probes run.
 * Reports p50 / p99 / max latency per phase and the decode throughput.
 */
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { siweToken, startTestNode } from '../test/helpers.ts';
import { buildTinyModel } from '../src/engine/testing/index.ts';
import { ModelCatalog } from '../src/models/index.ts';
import { BatchGenerator, createEngine, loadModel } from '../src/engine/index.ts';
import { FactoryRepo } from '../src/factory/index.ts';
import { ModelServer } from '../src/serving/index.ts';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const json = process.argv.includes('--json');
const STREAMS = arg('streams', 32), TOKENS = arg('tokens', 128), NICE = arg('nice', 0);

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN; };
const summary = (xs: number[]) => ({ n: xs.length, p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1), max: +Math.max(...xs).toFixed(1) });

async function main() {
  const node = await startTestNode({
    listen: true,
    // the node's own model server, with the engine threads' niceness under test
    extend: (s) => { s.modules.serving = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo: new FactoryRepo(s.store.db), config: { engineNice: NICE } }); },
  });
  try {
    const tiny = buildTinyModel('llama', join(node.dataDir, 'm'), { format: 'gguf', seed: 1, dims: { dModel: 512, nLayers: 4, nHeads: 8, nKvHeads: 2, headDim: 64, ffnDim: 1536, contextLength: 1024 } });
    await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'bench');
    const owner = node.services.keyring!.accounts[0];
    const token = await siweToken(node, owner);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const dn = await fetch(`${node.url}/v1/datanets`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Bench', format: 'alpaca' }) });
    if (dn.status !== 201) throw new Error(`datanet: ${dn.status} ${await dn.text()}`);
    const datanet = (await dn.json()).id;

    /** Probe both routes every 10 ms until `until` resolves; latencies in ms. */
    const probe = async (until: Promise<unknown>) => {
      const health: number[] = [], reads: number[] = [];
      let done = false;
      void until.finally(() => { done = true; });
      while (!done) {
        for (const [url, out] of [[`${node.url}/health`, health], [`${node.url}/v1/datanets/${datanet}`, reads]] as const) {
          const t0 = performance.now();
          const r = await fetch(url);
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
          out.push(performance.now() - t0);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return { health: summary(health), datanetRead: summary(reads) };
    };
    const idle = await probe(new Promise((r) => setTimeout(r, 2000)));

    // warm: load the engine on its thread
    await fetch(`${node.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'bench', prompt: 'hi', max_tokens: 2 }) }).then((r) => r.text());
    const t0 = performance.now();
    const streams = Promise.all(Array.from({ length: STREAMS }, async (_, i) => {
      const r = await fetch(`${node.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'bench', prompt: `question ${i}`, max_tokens: TOKENS, temperature: 0, ignore_eos: true, stream: true }) });
      const body = await r.text();
      if (!body.endsWith('data: [DONE]\n\n') || body.includes('"error"')) throw new Error(`stream ${i}: ${body.slice(-300)}`);
    }));
    const serving = await probe(streams);
    const threadSeconds = (performance.now() - t0) / 1000;

    // the same decode on the main thread (how serving ran before): BatchGenerator in this process
    const engine = await createEngine(await loadModel(tiny.ggufPath!));
    const gen = new BatchGenerator(engine, { maxRunning: 64 });
    const t1 = performance.now();
    const local = Promise.all(Array.from({ length: STREAMS }, (_, i) => gen.submit({ prompt: `question ${i}`, maxTokens: TOKENS, ignoreEos: true, sampling: { temperature: 0 } }).result));
    const mainThread = await probe(local);
    const mainSeconds = (performance.now() - t1) / 1000;
    engine.close();

    const out = {
      model: 'llama d=512 L=4 f32 (random)', engineNice: NICE, streams: STREAMS, tokensPerStream: TOKENS, loadAvg1m: +loadavg()[0].toFixed(2),
      idle,
      engineThread: { ...serving, decodeSeconds: +threadSeconds.toFixed(2), tokPerS: +((STREAMS * TOKENS) / threadSeconds).toFixed(1) },
      mainThread: { ...mainThread, decodeSeconds: +mainSeconds.toFixed(2), tokPerS: +((STREAMS * TOKENS) / mainSeconds).toFixed(1) },
    };
    if (json) console.log(JSON.stringify(out, null, 2));
    else {
      console.log(`${out.model}: ${STREAMS} streams × ${TOKENS} tokens, engine nice ${NICE}, load ${out.loadAvg1m}`);
      console.log('phase                      | /health p50 / p99 / max ms | GET /v1/datanets/:id p50 / p99 / max ms | decode');
      const row = (name: string, r: typeof idle & { tokPerS?: number }) =>
        console.log(`${name.padEnd(26)} | ${[r.health.p50, r.health.p99, r.health.max].join(' / ').padEnd(26)} | ${[r.datanetRead.p50, r.datanetRead.p99, r.datanetRead.max].join(' / ').padEnd(39)} | ${r.tokPerS ? `${r.tokPerS} tok/s` : ''}`);
      row('idle', idle);
      row('32 streams, engine thread', out.engineThread);
      row('32 streams, main thread', out.mainThread);
    }
  } finally {
    await node.stop();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
