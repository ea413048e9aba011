/**
 * Serving throughput with attribution on vs off, on a real node (embedded chain, real store): a
 * tiny model fine-tuned by the factory on a published datanet (gradient features written), then
 * rounds of concurrent completions through the API. "On": every completion is queued by the hook
 * and attributed by the worker thread while the next ones are served; "off": the hook has no queue.
 */
import { join } from 'node:path';
import { privateKeyToAccount, generatePrivateKey, type LocalAccount } from 'viem/accounts';
import { siweToken, startTestNode } from '../test/helpers.ts';
import { prepareFile, signContribution } from '../src/datanets/index.ts';
import { ModelCatalog } from '../src/models/index.ts';
import { buildTinyModel } from '../src/engine/testing/index.ts';
import { setAttributionQueue, type AttributionQueue } from '../src/attribution/index.ts';

export async function servingRatio(log: (...a: unknown[]) => void): Promise<Record<string, unknown>> {
  const node = await startTestNode();
  try {
    const [owner, alice] = node.services.keyring!.accounts as unknown as LocalAccount[];
    void privateKeyToAccount(generatePrivateKey());
    const token = await siweToken(node, owner), tokenA = await siweToken(node, alice);
    const call = (method: 'GET' | 'POST', url: string, tk: string, payload?: unknown, headers: Record<string, string> = {}) =>
      node.app.inject({ method, url, payload: payload as never, headers: { authorization: `Bearer ${tk}`, ...headers } });
    const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { dModel: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, headDim: 32, ffnDim: 768, contextLength: 512 } });
    await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'bench-llama');
    const c = await call('POST', '/v1/datanets', token, { name: 'bench', format: 'alpaca', policies: {} });
    const id = c.json().id as number;
    const rows = Array.from({ length: 200 }, (_, i) => ({ instruction: `item ${i} code`, output: `the item ${i} has code ${(i * 37) % 101}` }));
    const bytes = new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n'));
    const prepared = await prepareFile(bytes, 'rows.jsonl', 'alpaca');
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
    const chain = node.services.chain;
    const signature = await signContribution(alice, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
      contributor: alice.address, datanetId: BigInt(id), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce: 1n, deadline,
    });
    await call('POST', `/v1/datanets/${id}/contributions?filename=rows.jsonl&nonce=1&deadline=${deadline}&signature=${signature}`, tokenA, Buffer.from(bytes), { 'content-type': 'application/octet-stream' });
    await call('POST', `/v1/datanets/${id}/versions`, token);
    const job = (await call('POST', '/v1/fine_tuning/jobs', token, { model: 'bench-llama', datanets: [{ id, version: 1 }], hyperparameters: { n_epochs: 2, batch_size: 16, lora_rank: 8, checkpoint_every: 5 }, validation_split: 0 })).json();
    let ft = '';
    for (;;) {
      const j = (await call('GET', `/v1/fine_tuning/jobs/${job.id}`, token)).json();
      if (j.status === 'succeeded') { ft = j.fine_tuned_model; break; }
      if (['failed', 'cancelled'].includes(j.status)) throw new Error(JSON.stringify(j.error));
      await new Promise((r) => setTimeout(r, 200));
    }
    const queue = node.services.modules.attribution as AttributionQueue;
    const ROUND = 24, CONC = 4;
    const round = async () => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CONC }, async () => {
        while (next < ROUND) {
          const i = next++;
          const r = await call('POST', '/v1/completions', token, { model: ft, prompt: `item ${i} code\n`, max_tokens: 24, temperature: 0, ignore_eos: true });
          if (r.statusCode !== 200) throw new Error(r.body);
        }
      }));
      return ROUND / ((performance.now() - t0) / 1000);
    };
    await round(); // warm: engine, adapter, worker thread
    await queue.idle(600_000);
    const off: number[] = [], on: number[] = [];
    for (let k = 0; k < 2; k++) {
      setAttributionQueue(null);
      off.push(await round());
      setAttributionQueue(queue);
      on.push(await round());
      await queue.idle(600_000);
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const st = queue.stats();
    const res = {
      serving_completions_per_s_attr_off: +mean(off).toFixed(2), serving_completions_per_s_attr_on: +mean(on).toFixed(2),
      serving_throughput_ratio_attr_on: +(mean(on) / mean(off)).toFixed(3), serving_attributed: st.done, serving_setup: `tiny llama d=256 L=4, LoRA r=8 all-linear on 200 rows; ${ROUND} completions × 24 tokens, ${CONC} concurrent, 2 rounds each`,
    };
    log(`serving: ${res.serving_completions_per_s_attr_off} completions/s off, ${res.serving_completions_per_s_attr_on} on → ratio ${res.serving_throughput_ratio_attr_on} (${st.done} attributed)`);
    return res;
  } finally {
    await node.stop();
  }
}
