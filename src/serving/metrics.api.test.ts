// GET /metrics against a real node: completions for the base and two adapters over HTTP, then
// the scrape parsed as Prometheus text (every sample declared by # TYPE, histograms cumulative
// and ending in +Inf = _count) with values that match what the requests did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { LocalAccount } from 'viem/accounts';
import { importAdapterFile, siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { ModelCatalog } from '../models/index.ts';
import { FactoryRepo } from '../factory/index.ts';
import { buildTinyLora, buildTinyModel } from '../engine/testing/index.ts';
import { ModelServer } from './index.ts';
import { Exposition, histogram, observe } from './metrics.ts';

let node: RunningNode & { dataDir: string };
let owner: LocalAccount;
let token = '';
let nameA = '', nameB = '';

const post = (url: string, payload: unknown) => node.app.inject({ method: 'POST', url, payload: payload as never, headers: { authorization: `Bearer ${token}` } });

interface Sample { name: string; labels: Record<string, string>; value: number }
/** A strict reader of the text exposition format 0.0.4 (what Prometheus' scraper accepts). */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      assert.ok(!types.has(t[1]), `${t[1]} declared once`);
      types.set(t[1], t[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let l: RegExpExecArray | null, end = 0;
      while ((l = re.exec(m[2]))) { labels[l[1]] = l[2]; end = re.lastIndex; }
      assert.equal(end, m[2].length, `labels parse: ${m[2]}`);
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `a number: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]) || (types.get(family) === 'histogram'), `${m[1]} follows its # TYPE`);
    samples.push({ name: m[1], labels, value });
  }
  return { types, samples };
}

const scrape = async () => {
  const r = await node.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(r.statusCode, 200, r.body);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
};
const value = (s: Sample[], name: string, labels: Record<string, string> = {}) => {
  const hit = s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.equal(hit.length, 1, `one sample ${name} ${JSON.stringify(labels)} (got ${hit.length})`);
  return hit[0].value;
};

before(async () => {
  node = await startTestNode({
    extend: (s) => {
      s.modules.serving = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo: new FactoryRepo(s.store.db), config: { maxRunning: 8, maxQueued: 8, kvTokens: 8192, maxAdapters: 1, adapterMemoryMb: 64 } });
    },
  });
  owner = node.services.keyring!.accounts[1];
  token = await siweToken(node, owner);
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 2048 } });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const a = buildTinyLora(tiny, join(node.dataDir, 'lora-a'), { rank: 2, seed: 1 });
  const b = buildTinyLora(tiny, join(node.dataDir, 'lora-b'), { rank: 4, seed: 2 });
  const ia = await importAdapterFile(node, token, a.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:a:0001', register: false });
  const ib = await importAdapterFile(node, token, b.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:b:0002', register: false });
  assert.equal(ia.statusCode, 201, ia.body);
  assert.equal(ib.statusCode, 201, ib.body);
  nameA = ia.json().name; nameB = ib.json().name;
});
after(async () => { await node?.stop(); });

describe('GET /metrics', () => {
  test('before any request: valid exposition with the process gauges and no per-base samples', async () => {
    const { types, samples } = await scrape();
    assert.equal(types.get('openledger_serving_time_to_first_token_seconds'), 'histogram');
    assert.ok(value(samples, 'openledger_process_resident_memory_bytes') > 1e6);
    assert.equal(samples.filter((s) => s.labels.base).length, 0);
  });

  test('after real completions: requests, tokens, steps, TTFT/TPOT, batch and adapter histograms, cache hits/misses/evictions, memory per tier', async () => {
    const ask = (model: string, max: number) => post('/v1/completions', { model, prompt: 'hello there', max_tokens: max, temperature: 0, ignore_eos: true });
    // base + A + B at once (adapters in one step), then A again (cache of 1: B was loaded last, so A reloads)
    const first = await Promise.all([ask('tiny-llama', 6), ask(nameA, 6), ask(nameA, 6)]);
    for (const r of first) assert.equal(r.statusCode, 200, r.body);
    const b = await ask(nameB, 5);
    assert.equal(b.statusCode, 200, b.body);
    const a = await ask(nameA, 4);
    assert.equal(a.statusCode, 200, a.body);
    const bad = await post('/v1/completions', { model: 'tiny-llama', prompt: 'x', max_tokens: 999999 });
    assert.equal(bad.statusCode, 400);

    const { samples } = await scrape();
    const base = { base: 'tiny-llama' };
    const generated = 6 * 3 + 5 + 4;
    assert.equal(value(samples, 'openledger_serving_generated_tokens_total', base), generated);
    assert.equal(value(samples, 'openledger_serving_requests_total', { ...base, outcome: 'length' }), 5);
    assert.equal(value(samples, 'openledger_serving_requests_total', { ...base, outcome: 'failed' }), 0);
    assert.equal(value(samples, 'openledger_serving_queue_depth', base), 0);
    assert.equal(value(samples, 'openledger_serving_running_sequences', base), 0);
    const steps = value(samples, 'openledger_serving_steps_total', base);
    assert.ok(steps >= 6 && steps < generated + 10, `steps ${steps}`);
    assert.ok(value(samples, 'openledger_serving_tokens_total', base) >= generated);
    // histograms: one observation per step / per request
    assert.equal(value(samples, 'openledger_serving_batch_size_count', base), steps);
    assert.equal(value(samples, 'openledger_serving_batch_size_bucket', { ...base, le: '+Inf' }), steps);
    assert.equal(value(samples, 'openledger_serving_adapters_per_step_count', base), steps);
    assert.ok(value(samples, 'openledger_serving_batch_size_sum', base) >= generated, 'every generated token was a row of some step');
    assert.equal(value(samples, 'openledger_serving_time_to_first_token_seconds_count', base), 5);
    assert.equal(value(samples, 'openledger_serving_time_per_output_token_seconds_count', base), 5);
    const ttftSum = value(samples, 'openledger_serving_time_to_first_token_seconds_sum', base);
    assert.ok(ttftSum > 0 && ttftSum < 60, `ttft sum ${ttftSum}`);
    for (const fam of ['batch_size', 'adapters_per_step', 'time_to_first_token_seconds', 'time_per_output_token_seconds', 'adapter_load_seconds']) {
      const buckets = samples.filter((s) => s.name === `openledger_serving_${fam}_bucket` && s.labels.base === 'tiny-llama');
      assert.ok(buckets.length > 2, fam);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${fam} cumulative`);
      assert.equal(buckets.at(-1)!.labels.le, '+Inf');
    }
    // adapter cache of 1: A (miss), A (hit), B (miss, evicts A), A (miss, evicts B)
    assert.equal(value(samples, 'openledger_serving_adapter_cache_misses_total', base), 3);
    assert.equal(value(samples, 'openledger_serving_adapter_cache_hits_total', base), 1);
    assert.equal(value(samples, 'openledger_serving_adapter_cache_evictions_total', base), 2);
    assert.equal(value(samples, 'openledger_serving_adapter_load_seconds_count', base), 3);
    assert.equal(value(samples, 'openledger_serving_adapters_loaded', base), 1);
    assert.equal(value(samples, 'openledger_serving_adapters', { ...base, state: 'ready' }), 1);
    assert.equal(value(samples, 'openledger_serving_adapters', { ...base, state: 'evicted' }), 1);
    assert.equal(value(samples, 'openledger_serving_adapter_memory_budget_bytes', base), 64 * 1048576);
    // the lifecycle in /v1/serving/stats: unregistered models by a private label, never a path or their name
    const st = (await node.app.inject({ method: 'GET', url: '/v1/serving/stats' })).json();
    const cache = st.bases.find((x: { base: string }) => x.base === 'tiny-llama').adapters;
    assert.deepEqual(cache.adapters.map((x: { state: string }) => x.state), ['ready', 'evicted']);
    assert.ok(cache.adapters.every((x: { model: string }) => /^private:[0-9a-f]{12}$/.test(x.model)), JSON.stringify(cache.adapters));
    const raw = JSON.stringify(st);
    assert.ok(!raw.includes(node.dataDir) && !raw.includes(nameA) && !raw.includes(nameB), 'no paths or private names in public stats');
    const adapterBytes = value(samples, 'openledger_serving_memory_bytes', { ...base, tier: 'adapters' });
    const kvBytes = value(samples, 'openledger_serving_memory_bytes', { ...base, tier: 'kv' });
    const heap = value(samples, 'openledger_serving_memory_bytes', { ...base, tier: 'engine_heap' });
    assert.ok(adapterBytes > 0 && kvBytes > 0 && heap >= kvBytes + adapterBytes, `adapters ${adapterBytes}, kv ${kvBytes}, heap ${heap}`);
    // the first three ran together: some step carried 2 rows at least
    const max1 = samples.find((s) => s.name === 'openledger_serving_batch_size_bucket' && s.labels.base === 'tiny-llama' && s.labels.le === '1')!.value;
    assert.ok(max1 < steps, 'some step batched more than one sequence');
  });
});

describe('exposition writer', () => {
  test('escapes label values and help, cumulates buckets, renders +Inf', () => {
    const h = histogram([1, 2]);
    for (const v of [0.5, 1, 1.5, 3, NaN]) observe(h, v);
    const text = new Exposition()
      .counter('c_total', 'help with \\ and\nnewline', [[{ m: 'a"b\\c\nd' }, 2]])
      .histogram('h', 'a histogram', [[{}, h]])
      .gauge('g', 'inf', [[{}, Infinity]]).text();
    assert.equal(text, [
      '# HELP c_total help with \\\\ and\\nnewline', '# TYPE c_total counter', 'c_total{m="a\\"b\\\\c\\nd"} 2',
      '# HELP h a histogram', '# TYPE h histogram', 'h_bucket{le="1"} 2', 'h_bucket{le="2"} 3', 'h_bucket{le="+Inf"} 4', 'h_sum 6', 'h_count 4',
      '# HELP g inf', '# TYPE g gauge', 'g +Inf', '',
    ].join('\n'));
    parseExposition(text);
  });
});
