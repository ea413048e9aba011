// The scheduler in process (its engine on a thread of its own): per-caller fairness — one caller's
// backlog does not starve another's request — and a cancelled queued request frees its place.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';
import { ModelServer, parseCompletionRequest } from './index.ts';

let dir = '';
let server: ModelServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sched-'));
  const tiny = buildTinyModel('llama', join(dir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 1024 } });
  const catalog = new ModelCatalog(dir);
  await catalog.add(tiny.ggufPath!, 'tiny-llama');
  server = new ModelServer({ catalog, repo: null, config: { maxRunning: 1, maxQueued: 16 } });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const req = (tokens: number) => parseCompletionRequest({ model: 'tiny-llama', prompt: 'code alpha', max_tokens: tokens, temperature: 0, ignore_eos: true }, 256);

describe('scheduler', () => {
  test('fairness: a caller with four queued requests does not hold back another caller\'s one', async () => {
    const order: string[] = [];
    const run = async (caller: string, tag: string) => {
      const s = await server.start(req(40), { caller, signal: new AbortController().signal });
      await s.stream.result;
      order.push(tag);
    };
    const all: Promise<void>[] = [];
    for (let i = 1; i <= 4; i++) all.push(run('0xaaaa', `A${i}`));
    await new Promise((r) => setTimeout(r, 50)); // A's four are in (one running, three queued)
    all.push(run('0xbbbb', 'B1'));
    await Promise.all(all);
    assert.deepEqual(order, ['A1', 'A2', 'B1', 'A3', 'A4'], 'round robin across callers (FIFO would finish B1 last)');
    const st = server.stats().bases[0];
    assert.equal(st.maxSequencesInStep, 1, 'maxRunning 1 held');
    assert.equal(st.queuedCallers, 0);
  });

  test('a queued request whose caller goes away leaves the queue at once, as aborted', async () => {
    const running = await server.start(req(200), { caller: '0xaaaa', signal: new AbortController().signal });
    const ac = new AbortController();
    const queued = await server.start(req(200), { caller: '0xbbbb', signal: ac.signal });
    assert.equal(server.stats().waiting, 1);
    ac.abort();
    const r = await queued.stream.result;
    assert.equal(r.finishReason, 'abort');
    assert.equal(r.completionTokens, 0);
    assert.equal(server.stats().waiting, 0);
    running.stream.cancel();
    assert.equal((await running.stream.result).finishReason, 'abort');
  });

  test('a caller that leaves before or while its request is being prepared (tokenized on the engine thread) never gets it run', async () => {
    const gone = new AbortController();
    const early = server.start(req(300), { caller: '0xcccc', signal: gone.signal });
    gone.abort();
    await assert.rejects(early, (e: any) => e.code === 'request_cancelled');
    // The scheduler itself: submit runs synchronously up to its wait for the engine thread's
    // prepare reply, so an abort right after the call lands while the request is being prepared.
    const sched = [...(server as unknown as { bases: Map<string, { submit: (r: unknown) => Promise<{ stream: { result: Promise<any> } }> }> }).bases.values()][0];
    const ac = new AbortController();
    const p = req(300);
    const pending = sched.submit({ generate: p.generate, adapterPath: null, modelName: 'tiny-llama', json: null, caller: '0xcccc', signal: ac.signal });
    ac.abort();
    const s = await pending;
    const r = await s.stream.result;
    assert.equal(r.finishReason, 'abort');
    assert.equal(r.completionTokens, 0);
    assert.equal(server.stats().waiting, 0);
  });

  test('an engine thread that dies fails what it held (500 engine_thread_failed); the next request gets a new thread', async () => {
    const s = await server.start(req(400), { caller: '0xaaaa', signal: new AbortController().signal });
    const it = s.stream[Symbol.asyncIterator]();
    await it.next(); // decoding
    const sched = [...(server as unknown as { bases: Map<string, { thread: { worker: { terminate(): Promise<number> } } }> }).bases.values()][0];
    await sched.thread.worker.terminate();
    await assert.rejects(s.stream.result, (e: any) => e.code === 'engine_thread_failed' && e.status === 500);
    const again = await server.start(req(4), { caller: '0xaaaa', signal: new AbortController().signal });
    const r = await again.stream.result;
    assert.equal(r.completionTokens, 4);
    assert.equal(server.stats().running, 0);
  });
});
