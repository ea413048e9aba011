// The attribution queue: persisted, resumed after a crash (running → queued), back-pressure past
// maxQueue (the text is kept for on-demand attribution), the worker thread, on-demand requests,
// and the WeightSource contract (null until attributed; ppm that add up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../store/index.ts';
import { STARTER_DIR } from '../models/starter.ts';
import { AttributionQueue, Attributor, createWeightSource, enqueueAttribution, parseAttributionConfig, setAttributionQueue } from './index.ts';
import { OpenLedgerError } from '../util/errors.ts';

const input = (id: string) => ({ inferenceId: id, model: STARTER_DIR, base: STARTER_DIR, caller: '0x00000000000000000000000000000000000000aa', prompt: 'What sound does a cat make?\n', completion: 'A cat says meow.' });

test('queue: processed in order, resumed after a crash, bounded, on demand; records say why nothing was attributable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-q-'));
  const store = openStore(dir, { lock: false });
  try {
    const config = parseAttributionConfig({ maxQueue: 3 });
    const attributor = new Attributor({ db: store.db, dataDir: dir, config });
    const logs: string[] = [];
    // A crash left one entry running and one queued.
    const q0 = new AttributionQueue({ db: store.db, dataDir: dir, config, inline: attributor, log: (m) => logs.push(m) });
    q0.repo.insertInference({ ...input('cmpl-a'), id: 'cmpl-a', fineTunedModel: null, adapters: [], caller: null });
    q0.repo.enqueue('cmpl-a');
    assert.equal(q0.repo.claimNext()!.inferenceId, 'cmpl-a'); // running when the node died
    q0.repo.enqueue('cmpl-a', true);
    assert.equal(q0.repo.entry('cmpl-a')!.status, 'running'); // an on-demand request never starts a running one twice
    await q0.close(); // a stopped queue still stores and queues (the hook never loses an answer), it just does not work them off
    assert.deepEqual(q0.enqueue(input('cmpl-b')), { queued: true });
    // Back-pressure: with 2 in flight and maxQueue 3, one more fits, the next is kept but not queued.
    assert.deepEqual(q0.enqueue(input('cmpl-c')), { queued: true });
    const over = q0.enqueue(input('cmpl-d'));
    assert.equal(over.queued, false);
    assert.match(over.reason!, /backlog full/);
    assert.ok(q0.repo.inference('cmpl-d'));
    assert.deepEqual(q0.enqueue(input('cmpl-b')), { queued: false, reason: 'duplicate inference id' });
    // Restart: a new queue resumes the interrupted one first, then the rest.
    const q1 = new AttributionQueue({ db: store.db, dataDir: dir, config, inline: attributor, log: (m) => logs.push(m) });
    q1.start();
    await q1.idle();
    assert.ok(logs.some((l) => /resuming 1 interrupted/.test(l)), logs.join('\n'));
    for (const id of ['cmpl-a', 'cmpl-b', 'cmpl-c']) assert.equal(q1.repo.entry(id)!.status, 'done', id);
    assert.equal(q1.repo.entry('cmpl-d'), null);
    // On demand: the dropped one.
    assert.equal(await q1.attributeNow('cmpl-d', 30_000), 'done');
    const rec = q1.repo.record('cmpl-d')!.record as any;
    assert.equal(rec.method.gradient.available, false);
    assert.match(rec.method.gradient.reason, /base model/);
    assert.equal(rec.method.span.available, false);
    assert.deepEqual(rec.contributorWeights, []);
    assert.ok(rec.warnings.some((w: string) => /pro rata/.test(w)));
    // Nothing attributable → the WeightSource says null (the fee split falls back to pro rata).
    assert.equal(await createWeightSource(store.db).contributorWeights('cmpl-d'), null);
    await assert.rejects(q1.attributeNow('cmpl-nope', 10), (e: unknown) => e instanceof OpenLedgerError && e.code === 'inference_not_found');
    // The hook without a running queue never throws.
    setAttributionQueue(null);
    assert.equal(enqueueAttribution(input('cmpl-e')).queued, false);
    await q1.close();
    attributor.close();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('queue: the worker thread attributes with its own read-only connection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-q-'));
  const store = openStore(dir, { lock: false });
  try {
    const q = new AttributionQueue({ db: store.db, dataDir: dir, config: parseAttributionConfig({}) });
    q.start();
    setAttributionQueue(q);
    assert.deepEqual(enqueueAttribution(input('cmpl-w')), { queued: true });
    await q.idle(120_000);
    assert.equal(q.repo.entry('cmpl-w')!.status, 'done', JSON.stringify(q.repo.entry('cmpl-w')));
    assert.equal((q.repo.record('cmpl-w')!.record as any).inferenceId, 'cmpl-w');
    setAttributionQueue(null);
    await q.close();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('governance: a row consistently among the most negative is flagged once, stops earning, and shows in reputation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'attr-q-'));
  const store = openStore(dir, { lock: false });
  try {
    const config = parseAttributionConfig({ flagMinEvidence: 3, flagShare: 0.75 });
    const q = new AttributionQueue({ db: store.db, dataDir: dir, config });
    const bad = '0x00000000000000000000000000000000000000bb', good = '0x00000000000000000000000000000000000000cc';
    const flaggedAll: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `cmpl-g${i}`;
      q.repo.insertInference({ ...input(id), id, fineTunedModel: null, adapters: [], caller: null });
      q.repo.enqueue(id);
      flaggedAll.push(...q.repo.complete(id, {
        method: 'trak', methodVersion: '1.0.0', record: { i }, weights: [{ address: good, weightPpm: 1_000_000 }],
        rowStats: [{ datanetId: 1, rowId: 7, contributor: bad, sign: -1, mass: 0.5 }, { datanetId: 1, rowId: 8, contributor: good, sign: 1, mass: 1 }],
      }, { minEvidence: config.flagMinEvidence, share: config.flagShare }));
    }
    assert.deepEqual(flaggedAll, ['1:7']); // flagged once, at the third negative appearance
    assert.ok(q.repo.isFlagged(1, 7));
    assert.ok(!q.repo.isFlagged(1, 8));
    assert.deepEqual(q.repo.flaggedRows({ datanetId: 1 }, 10).map((r) => [r.rowId, r.negative]), [[7, 5]]);
    const { reputation } = await import('./reputation.ts');
    const rb = reputation(store.db, bad), rg = reputation(store.db, good);
    assert.equal(rb.rows.flagged, 1);
    assert.ok(rb.score < 0.5 && rg.score > 0.5, `${rb.score} vs ${rg.score}`);
    // A flagged row earns nothing (contributorWeights excludes it).
    const { contributorWeights } = await import('./weights.ts');
    const w = contributorWeights([{ rowId: 7, contributor: bad, score: 5, flagged: q.repo.isFlagged(1, 7) }, { rowId: 8, contributor: good, score: 1 }]);
    assert.deepEqual(w.weights, [{ address: good, weightPpm: 1_000_000 }]);
    await q.close();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
