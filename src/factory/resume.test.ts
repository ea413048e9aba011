// A node killed mid-job resumes the job on restart: the real binary (`openledger up`) in a child
// process, a job created over HTTP, SIGKILL once a few checkpoints exist, the same data dir
// started again — the job goes back to the queue, train() resumes from the last checkpoint, the
// steps after it repeat bit for bit, and the job finishes with one continuous loss curve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from '../../test/helpers.ts';
import { NodeClient, devAccount } from '../cli/client.ts';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'openledger.mjs');

async function up(dataDir: string, port: number, chainPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'up', '--data-dir', dataDir, '--port', String(port), '--chain-port', String(chainPort), '--log-level', 'silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (/openledger node up/.test(out)) { clearTimeout(t); resolve(); }
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (c) => { clearTimeout(t); reject(new Error(`node exited (${c}): ${out}`)); });
  });
  child.removeAllListeners('exit');
  return child;
}

test('SIGKILL mid-training, restart: the job resumes from its last checkpoint and finishes', async () => {
  const dataDir = tempDir('ol-resume-');
  const tiny = buildTinyModel('llama', join(dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const port = await freePort(), chainPort = await freePort();
  let child: ChildProcess | null = await up(dataDir, port, chainPort);
  try {
    const api = new NodeClient(`http://127.0.0.1:${port}`);
    await api.signIn(devAccount(dataDir, '1'));
    const rows = Array.from({ length: 16 }, (_, i) => JSON.stringify({ instruction: `code ${i}`, output: `value ${(i * 7) % 16}` })).join('\n');
    const file = await api.request('POST', '/v1/files?filename=t.jsonl', rows, { 'content-type': 'application/jsonl' });
    const TOTAL = 300, EVERY = 5;
    const job = await api.request('POST', '/v1/fine_tuning/jobs', { model: 'tiny-llama', training_file: file.id, register: false, validation_split: 0, hyperparameters: { n_epochs: 1000, max_steps: TOTAL, batch_size: 2, learning_rate: 5e-3, checkpoint_every: EVERY } });
    // Kill once at least two checkpoints are on disk.
    for (;;) {
      const j = await api.request('GET', `/v1/fine_tuning/jobs/${job.id}`);
      assert.equal(j.status === 'succeeded', false, 'the job finished before the kill; make it longer');
      if (j.trained_steps >= 2 * EVERY + 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = await up(dataDir, port, chainPort);
    await api.signIn(devAccount(dataDir, '1'));
    let j: any;
    for (;;) {
      j = await api.request('GET', `/v1/fine_tuning/jobs/${job.id}`);
      if (['succeeded', 'failed', 'cancelled'].includes(j.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
    const events = ((await api.request('GET', `/v1/fine_tuning/jobs/${job.id}/events`)).data as any[]).reverse(); // newest first → in order
    const resumed = events.find((e) => /^Resuming from the checkpoint at step/.test(e.message));
    assert.ok(resumed, 'a resume event');
    assert.ok(events.some((e) => /node restarted/.test(e.message)));
    const from = resumed.data.step as number;
    assert.ok(from >= EVERY && from % EVERY === 0, `resumed from ${from}`);
    const iResume = events.indexOf(resumed);
    const before = events.slice(0, iResume).filter((e) => e.type === 'metrics').map((e) => e.data);
    const afterKill = events.slice(iResume).filter((e) => e.type === 'metrics').map((e) => e.data);
    // the curve continues: after the restart, steps run from the checkpoint to the end, once each
    assert.deepEqual(afterKill.map((m) => m.step), Array.from({ length: TOTAL - from }, (_, i) => from + 1 + i));
    assert.ok(before.length >= from, 'every step up to the kill was reported');
    // ... and the redone steps are the same steps (exact resume: same batches, same state)
    for (const m of before.filter((x) => x.step > from)) {
      const again = afterKill.find((x) => x.step === m.step);
      assert.equal(again.train_loss, m.train_loss, `step ${m.step} loss after resume`);
    }
    assert.ok(afterKill[afterKill.length - 1].train_loss < before[0].train_loss);
  } finally {
    if (child) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a graceful stop (SIGTERM) with a live SSE client: the stream ends, the node exits, the job is paused at its checkpoint', async () => {
  const dataDir = tempDir('ol-stop-');
  const tiny = buildTinyModel('llama', join(dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const port = await freePort(), chainPort = await freePort();
  const child = await up(dataDir, port, chainPort);
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    const api = new NodeClient(`http://127.0.0.1:${port}`);
    await api.signIn(devAccount(dataDir, '1'));
    const rows = Array.from({ length: 8 }, (_, i) => JSON.stringify({ text: `line ${i}` })).join('\n');
    const file = await api.request('POST', '/v1/files?filename=t.jsonl', rows, { 'content-type': 'application/jsonl' });
    const job = await api.request('POST', '/v1/fine_tuning/jobs', { model: 'tiny-llama', training_file: file.id, register: false, hyperparameters: { n_epochs: 1000, checkpoint_every: 2 } });
    const res = await fetch(`http://127.0.0.1:${port}/v1/fine_tuning/jobs/${job.id}/events?stream=true`, { headers: { authorization: `Bearer ${api.token}` } });
    const reader = res.body!.getReader();
    let seen = '';
    while (!/event: metrics/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
    const t0 = Date.now();
    child.kill('SIGTERM');
    // the stream ends (the server closes it) and the node exits promptly
    for (;;) if ((await reader.read()).done) break;
    while (!exited) await new Promise((r) => setTimeout(r, 50));
    assert.ok(Date.now() - t0 < 20_000, `stopped in ${Date.now() - t0} ms`);
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dataDir, 'store.sqlite'), { readonly: true });
    const row = db.prepare('SELECT status FROM factory_jobs WHERE id = ?').get(job.id) as { status: string };
    const paused = db.prepare("SELECT COUNT(*) AS n FROM factory_events WHERE job_id = ? AND message LIKE 'Node stopping%'").get(job.id) as { n: number };
    db.close();
    assert.equal(row.status, 'queued');
    assert.equal(paused.n, 1);
  } finally {
    if (!exited) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
