// The node keeps answering while it decodes: 32 SSE streams on a model big enough that one
// batched step takes tens of milliseconds (d=512, 4 layers, f32), while /health and a datanet read
// are probed every 10 ms. With the engine on the main thread every probe waited behind a step
// (median 40–100 ms, p99 ≈ 300–750 ms on the shared, loaded 2-core machine); on the engine thread
// the median stays at its idle level (≈ 1.5 ms). Bounds are loose for a loaded machine; `npm run bench:serving-latency`
// prints the full numbers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';

let node: RunningNode & { dataDir: string };
let token = '';

before(async () => {
  node = await startTestNode({ listen: true });
  const tiny = buildTinyModel('llama', join(node.dataDir, 'm'), { format: 'gguf', seed: 1, dims: { dModel: 512, nLayers: 4, nHeads: 8, nKvHeads: 2, headDim: 64, ffnDim: 1536, contextLength: 1024 } });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'bench');
  token = await siweToken(node, node.services.keyring!.accounts[0]);
});
after(async () => {
  await node?.stop();
});

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

test('/health and datanet reads answer in milliseconds while 32 streams decode', async (t) => {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const dn = await fetch(`${node.url}/v1/datanets`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Probe', format: 'alpaca' }) });
  assert.equal(dn.status, 201, await dn.clone().text());
  const id = (await dn.json()).id;
  await (await fetch(`${node.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'bench', prompt: 'hi', max_tokens: 2 }) })).text();
  let done = false;
  const streams = Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const r = await fetch(`${node.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: 'bench', prompt: `question ${i}`, max_tokens: 64, temperature: 0, ignore_eos: true, stream: true }) });
    const body = await r.text();
    assert.ok(body.endsWith('data: [DONE]\n\n') && !body.includes('"error"'), body.slice(-200));
  })).finally(() => { done = true; });
  const lat: number[] = [];
  await new Promise((r) => setTimeout(r, 200)); // the streams are decoding
  while (!done) {
    for (const url of [`${node.url}/health`, `${node.url}/v1/datanets/${id}`]) {
      const t0 = performance.now();
      const r = await fetch(url);
      await r.arrayBuffer();
      assert.equal(r.status, 200);
      lat.push(performance.now() - t0);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await streams;
  const steps = (await (await fetch(`${node.url}/v1/serving/stats`)).json()).steps;
  t.diagnostic(`${lat.length} probes during ${steps} steps: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms`);
  assert.ok(lat.length >= 20, `only ${lat.length} probes`);
  assert.ok(pct(lat, 50) < 20, `median ${pct(lat, 50).toFixed(1)} ms`);
  assert.ok(pct(lat, 99) < 250, `p99 ${pct(lat, 99).toFixed(1)} ms`);
});
