/**
 * Crash loop (issue 9 item 1): a real node (`openledger up`, its own process, embedded Anvil) is
 * killed with SIGKILL — node and Anvil both — at random points of every chain-writing flow (create,
 * contribute, publish, purchase, register), restarted on the same data dir, and after every restart
 * the store and the chain must agree:
 *
 *   datanets   store ids == 1..DatanetRegistry.datanetCount(), same owners
 *   versions   per datanet: store latest == chain latestVersion; each version's root == chain root
 *   purchases  per paid datanet and buyer: store purchase ⇔ hasAccess on chain
 *   models     store model ids == 1..ModelRegistry.modelCount()
 *   and the next write works (a create answers 201, never a 500 on a reused id).
 *
 * Half the kills are timed at random (0–1200 ms into the chain-writing request); the other half use the node's crash
 * points (src/util/crash.ts) to die exactly between a durable chain write and its store write — the
 * window a random timer almost never hits.
 *
 *   OPENLEDGER_CRASH_ITERATIONS=N   iterations (default 50; CI runs the default)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createPublicClient, http, type Address, type Hex } from 'viem';
import { mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { artifacts } from '../src/chain/index.ts';
import { prepareFile, signContribution } from '../src/datanets/index.ts';
import { buildTinyLora, buildTinyModel } from '../src/engine/testing/index.ts';
import { ModelCatalog } from '../src/models/index.ts';
import { freePort, tempDir } from './helpers.ts';

const ITERATIONS = Number(process.env.OPENLEDGER_CRASH_ITERATIONS ?? 50);
const ROOT = new URL('..', import.meta.url).pathname;
const FLOWS = ['create', 'contribute', 'publish', 'purchase', 'register'] as const;
type Flow = (typeof FLOWS)[number];

let seed = Number(process.env.OPENLEDGER_CRASH_SEED ?? Date.now() % 100_000);
const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dataDir = tempDir('ol-crash-');
let apiPort = 0, chainPort = 0;
let child: ChildProcess | null = null;
let log = '';
let adapterGguf = '';

async function start(crashAt?: { points: string[]; skip: number }): Promise<string> {
  log = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.OPENLEDGER_TEST_CRASH_AT;
  if (crashAt) Object.assign(env, { OPENLEDGER_TEST_CRASH_AT: crashAt.points.join(','), OPENLEDGER_TEST_CRASH_SKIP: String(crashAt.skip) });
  child = spawn(process.execPath, [join(ROOT, 'bin/openledger.mjs'), 'up', '--data-dir', dataDir, '--port', String(apiPort), '--chain-port', String(chainPort)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b) => (log += b));
  child.stderr!.on('data', (b) => (log += b));
  const url = `http://127.0.0.1:${apiPort}`;
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node exited during start:\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return url;
    } catch {
      /* not up yet */
    }
    if (Date.now() - t0 > 60_000) throw new Error(`node did not start in 60 s:\n${log}`);
    await sleep(50);
  }
}

/** SIGKILL the node and its Anvil (the pid file names it), and wait until both are gone. */
async function killBoth(): Promise<void> {
  const pidFile = join(dataDir, 'chain', 'anvil.pid');
  const anvil = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  const c = child!;
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (anvil > 0) try { process.kill(anvil, 'SIGKILL'); } catch { /* already gone */ }
  if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
  for (let i = 0; anvil > 0 && i < 200; i++) {
    try {
      process.kill(anvil, 0);
      await sleep(10);
    } catch {
      break;
    }
  }
  child = null;
}

async function stopGracefully(): Promise<void> {
  if (!child) return;
  const c = child;
  c.kill('SIGTERM');
  await new Promise((r) => c.once('exit', r));
  child = null;
}

const devs = new Map<number, HDAccount>();
const dev = (i: number): HDAccount => {
  let a = devs.get(i);
  if (!a) devs.set(i, (a = mnemonicToAccount(readFileSync(join(dataDir, 'keyring', 'mnemonic'), 'utf8').trim(), { addressIndex: i })));
  return a;
};

class Api {
  tokens = new Map<Address, string>();
  constructor(readonly url: string) {}
  async call(method: string, path: string, who: HDAccount | null, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(this.url + path, {
      method,
      headers: { ...(body !== undefined && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...(who ? { authorization: `Bearer ${await this.token(who)}` } : {}), ...headers },
      body: body === undefined ? undefined : body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
    });
    const text = await res.text();
    if (process.env.OPENLEDGER_CRASH_DEBUG) console.log(method, path.slice(0, 60), res.status, text.slice(0, 300));
    return { status: res.status, text, json: () => JSON.parse(text) };
  }
  async token(a: HDAccount): Promise<string> {
    let t = this.tokens.get(a.address);
    if (!t) {
      const n = await (await fetch(this.url + '/v1/auth/nonce', { method: 'POST' })).json() as { nonce: string; chainId: number; domain: string };
      const message = createSiweMessage({ domain: n.domain, address: a.address, uri: this.url, version: '1', chainId: n.chainId, nonce: n.nonce });
      const r = await fetch(this.url + '/v1/auth/siwe', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message, signature: await a.signMessage({ message }) }) });
      assert.equal(r.status, 200, await r.clone().text());
      t = ((await r.json()) as { token: string }).token;
      this.tokens.set(a.address, t);
    }
    return t;
  }
}

interface World { status: { chainId: number; contracts: Record<string, Address>; rpcUrl: string } }

async function contributeRows(api: Api, w: World, datanetId: number): Promise<void> {
  const contributor = dev(2);
  const rows = Array.from({ length: 3 }, () => ({ text: `row ${Date.now()} ${rand()}` }));
  const bytes = new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n'));
  const prepared = await prepareFile(bytes, 'rows.jsonl', 'text');
  const nonce = BigInt(Date.now()) * 1000n + BigInt(Math.floor(rand() * 1000)), deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
  const signature = await signContribution(contributor, { chainId: w.status.chainId, registry: w.status.contracts.DatanetRegistry }, {
    contributor: contributor.address, datanetId: BigInt(datanetId), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce, deadline,
  });
  await api.call('POST', `/v1/datanets/${datanetId}/contributions?filename=rows.jsonl&nonce=${nonce}&deadline=${deadline}&signature=${signature}`, contributor, bytes, { 'content-type': 'application/octet-stream' });
}

function storeDatanets(): Array<{ id: number; paid: boolean }> {
  const db = new Database(join(dataDir, 'store.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT id, policies FROM datanets ORDER BY id').all() as Array<{ id: number; policies: string }>).map((d) => ({ id: d.id, paid: JSON.parse(d.policies).access?.kind === 'paid' }));
  } finally {
    db.close();
  }
}

/**
 * One flow, as a user sends it: `setup` writes nothing on chain (so an armed crash point cannot fire
 * in it), then `act` is the chain-writing request the kill is aimed at. Answers are not asserted:
 * the request may be cut off.
 */
async function prepareFlow(api: Api, flow: Flow, w: World): Promise<() => Promise<unknown>> {
  const owner = dev(1), buyer = pick([dev(3), dev(4)]);
  const datanets = storeDatanets();
  const target = pick(datanets);
  switch (flow) {
    case 'create': {
      const paid = rand() < 0.5;
      return () => api.call('POST', '/v1/datanets', owner, { name: `crash ${Date.now()}`, format: 'text', policies: paid ? { access: { kind: 'paid', priceWei: '1000' } } : {} });
    }
    case 'contribute':
      return () => contributeRows(api, w, target.id);
    case 'publish':
      await contributeRows(api, w, target.id); // new accepted rows, so there is a version to publish
      return () => api.call('POST', `/v1/datanets/${target.id}/versions`, owner);
    case 'purchase': {
      const paid = datanets.filter((d) => d.paid);
      return () => api.call('POST', `/v1/datanets/${pick(paid).id}/purchase`, buyer, {});
    }
    case 'register': {
      const u = await api.call('POST', '/v1/files?filename=a.gguf&purpose=adapter', owner, readFileSync(adapterGguf), { 'content-type': 'application/octet-stream' });
      return () => api.call('POST', '/v1/fine_tuning/models/import', owner, { model: 'tiny-llama', file: u.json().id });
    }
  }
}

/** Store (read straight from SQLite) against chain (read through the node's public RPC). */
async function checkAgree(w: World, iteration: string): Promise<{ datanets: number; versions: number; purchases: number; models: number }> {
  const pc = createPublicClient({ transport: http(w.status.rpcUrl) });
  const read = <T>(contract: 'DatanetRegistry' | 'ModelRegistry', functionName: string, args: unknown[] = []) =>
    pc.readContract({ address: w.status.contracts[contract], abi: artifacts[contract].abi, functionName, args } as never) as Promise<T>;
  const db = new Database(join(dataDir, 'store.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const datanets = db.prepare('SELECT id, owner, policies FROM datanets ORDER BY id').all() as Array<{ id: number; owner: string; policies: string }>;
    const count = Number(await read<bigint>('DatanetRegistry', 'datanetCount'));
    assert.deepEqual(datanets.map((d) => d.id), Array.from({ length: count }, (_, i) => i + 1), `${iteration}: datanet ids in store vs chain count ${count}`);
    // Every datanet checked in parallel (reads only): the check is most of an iteration otherwise.
    const per = await Promise.all(datanets.map(async (d) => {
      const [on, latestRaw] = await Promise.all([
        read<{ owner: Address }>('DatanetRegistry', 'getDatanet', [BigInt(d.id)]),
        read<bigint>('DatanetRegistry', 'latestVersion', [BigInt(d.id)]),
      ]);
      assert.equal(on.owner.toLowerCase(), d.owner.toLowerCase(), `${iteration}: owner of datanet ${d.id}`);
      const latest = Number(latestRaw);
      const stored = db.prepare('SELECT version, merkle_root FROM datanet_versions WHERE datanet_id = ? ORDER BY version').all(d.id) as Array<{ version: number; merkle_root: Hex }>;
      assert.deepEqual(stored.map((v) => v.version), Array.from({ length: latest }, (_, i) => i + 1), `${iteration}: versions of datanet ${d.id} (chain latest ${latest})`);
      await Promise.all(stored.map(async (v) => {
        const onv = await read<{ merkleRoot: Hex }>('DatanetRegistry', 'getVersion', [BigInt(d.id), BigInt(v.version)]);
        assert.equal(onv.merkleRoot, v.merkle_root, `${iteration}: root of datanet ${d.id} version ${v.version}`);
      }));
      let bought = 0;
      if (JSON.parse(d.policies).access?.kind === 'paid') {
        for (const b of [dev(3), dev(4)]) {
          const has = await read<boolean>('DatanetRegistry', 'hasAccess', [BigInt(d.id), b.address]);
          const row = db.prepare('SELECT 1 FROM datanet_purchases WHERE datanet_id = ? AND lower(buyer) = lower(?)').get(d.id, b.address);
          assert.equal(Boolean(row), has, `${iteration}: purchase of datanet ${d.id} by ${b.address}: store ${Boolean(row)}, chain ${has}`);
          if (has) bought++;
        }
      }
      return { versions: stored.length, purchases: bought };
    }));
    const versions = per.reduce((a, x) => a + x.versions, 0), purchases = per.reduce((a, x) => a + x.purchases, 0);
    const modelCount = Number(await read<bigint>('ModelRegistry', 'modelCount'));
    const ids = (db.prepare('SELECT model_id FROM factory_models WHERE model_id IS NOT NULL').all() as Array<{ model_id: string }>).map((r) => Number(r.model_id)).sort((a, b) => a - b);
    assert.deepEqual(ids, Array.from({ length: modelCount }, (_, i) => i + 1), `${iteration}: registered models in store vs chain count ${modelCount}`);
    return { datanets: count, versions, purchases, models: modelCount };
  } finally {
    db.close();
  }
}

describe(`crash loop: kill -9 of node and Anvil in every chain-writing flow, ${ITERATIONS} iterations`, { timeout: 30 * 60_000 }, () => {
  before(async () => {
    apiPort = await freePort();
    chainPort = await freePort();
    // A tiny base in the catalog and a GGUF LoRA for it: the register flow imports it.
    const tiny = buildTinyModel('llama', join(dataDir, 'tiny'), { format: 'gguf', seed: 11 });
    await new ModelCatalog(dataDir).add(tiny.ggufPath!, 'tiny-llama');
    adapterGguf = buildTinyLora(tiny, join(dataDir, 'lora'), { rank: 2 }).ggufPath!;
  });
  after(async () => {
    if (child) await killBoth().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('store and chain agree after every restart', async () => {
    const t0 = Date.now();
    // Odd iterations die at a crash point (armed when the node starts, so no extra restart);
    // even ones, and contribute (no chain write), by a random timer.
    const precise = (i: number) => i % 2 === 1 && FLOWS[i % FLOWS.length] !== 'contribute';
    // A purchase by a dev key is two writes (approve, then purchaseAccess): aim at either.
    const armFor = (i: number) => (i < ITERATIONS && precise(i)
      ? { points: [pick(['chain-write-mined', 'chain-write-durable'])], skip: FLOWS[i % FLOWS.length] === 'purchase' ? Math.floor(rand() * 2) : 0 }
      : undefined);
    // Something to crash into: paid and open datanets with rows (written before any crash point is armed).
    let url = await start();
    let w: World = { status: (await (await fetch(`${url}/v1/status`)).json()) as World['status'] };
    const api0 = new Api(url);
    for (const paid of [true, true, false]) {
      const c = await api0.call('POST', '/v1/datanets', dev(1), { name: `seed ${paid}`, format: 'text', policies: paid ? { access: { kind: 'paid', priceWei: '1000' } } : {} });
      assert.equal(c.status, 201, c.text);
      await contributeRows(api0, w, c.json().id);
    }
    await killBoth();
    url = await start(armFor(0));
    const kinds: Record<string, number> = {};
    let last = { datanets: 0, versions: 0, purchases: 0, models: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const flow = FLOWS[i % FLOWS.length];
      const api = new Api(url);
      // Sign in before the flow, so the kill lands in the flow itself.
      for (const a of [dev(1), dev(2), dev(3), dev(4)]) await api.token(a);
      const act = await prepareFlow(api, flow, w);
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      const req = act().catch(() => {});
      if (precise(i)) {
        await Promise.race([req, exited]);
        await Promise.race([exited, sleep(500)]); // a cut-off request can settle before the exit is seen
      } else await sleep(Math.floor(rand() * 1200));
      const kind = `${flow}@${precise(i) ? (child!.signalCode === 'SIGKILL' ? 'point' : 'after') : 'random'}`;
      await killBoth();
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      url = await start(armFor(i + 1));
      w = { status: (await (await fetch(`${url}/v1/status`)).json()) as World['status'] };
      last = await checkAgree(w, `iteration ${i + 1} (${kind})`);
      // The next write works: no 500 on an id the store kept but the chain lost (on an unarmed node).
      if (!armFor(i + 1)) {
        const c = await new Api(url).call('POST', '/v1/datanets', dev(1), { name: `after crash ${i}`, format: 'text', policies: rand() < 0.5 ? { access: { kind: 'paid', priceWei: '1000' } } : {} });
        assert.equal(c.status, 201, c.text);
      }
    }
    await stopGracefully();
    const s = ((Date.now() - t0) / 1000).toFixed(1);
    if (process.env.OPENLEDGER_CRASH_DEBUG) console.log(log);
    console.log(`crash loop: ${ITERATIONS} iterations in ${s} s; kills ${JSON.stringify(kinds)}; final ${JSON.stringify(last)}`);
  });
});
