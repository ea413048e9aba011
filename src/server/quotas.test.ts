// Quotas with a fake clock: sliding one-minute windows per caller, Retry-After from the oldest
// entry that has to age out, file and job quotas, 0 = off.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Quotas } from './quotas.ts';

const err = (f: () => void) => {
  try { f(); } catch (e) { return e as { status: number; code: string; details?: { retryAfterSeconds?: number }; hint?: string }; }
  assert.fail('expected a 429');
};

describe('quotas', () => {
  test('requests per minute: a sliding window per caller, Retry-After until the oldest request ages out', () => {
    let now = 1_000_000;
    const q = new Quotas({ requestsPerMinute: 3 }, () => now);
    q.request('0xA'); now += 10_000; q.request('0xa'); now += 10_000; q.request('0xA'); // one caller, any case
    const e = err(() => q.request('0xA'));
    assert.equal(e.status, 429);
    assert.equal(e.code, 'requests_per_minute');
    assert.equal(e.details?.retryAfterSeconds, 40);
    q.request('0xB'); // others are not affected
    now += 40_000;
    q.request('0xA'); // the first one aged out
    assert.equal(err(() => q.request('0xA')).details?.retryAfterSeconds, 10);
  });

  test('tokens per minute: admitted while under the limit; what a request used counts when it ends', () => {
    let now = 0;
    const q = new Quotas({ tokensPerMinute: 100 }, () => now);
    q.checkTokens('0xA');
    q.addTokens('0xA', 60);
    q.checkTokens('0xA');
    q.addTokens('0xA', 60);
    const e = err(() => q.checkTokens('0xA'));
    assert.equal(e.code, 'tokens_per_minute');
    assert.equal(e.details?.retryAfterSeconds, 60);
    now += 60_001;
    q.checkTokens('0xA');
  });

  test('files and jobs: count and bytes per caller; 0 turns a limit off', () => {
    const q = new Quotas({ maxFiles: 2, maxFileBytes: 1000, maxQueuedJobs: 1 });
    q.checkFile({ count: 1, bytes: 500 }, 500);
    assert.equal(err(() => q.checkFile({ count: 2, bytes: 10 }, 1)).code, 'file_quota_exceeded');
    assert.match(err(() => q.checkFile({ count: 1, bytes: 600 }, 500)).hint!, /600 bytes/);
    q.checkJobs(0);
    assert.equal(err(() => q.checkJobs(1)).code, 'job_quota_exceeded');
    const off = new Quotas({ requestsPerMinute: 0, tokensPerMinute: 0, maxFiles: 0, maxFileBytes: 0, maxQueuedJobs: 0 });
    for (let i = 0; i < 10_000; i++) off.request('0xA');
    off.addTokens('0xA', 1e12);
    off.checkTokens('0xA');
    off.checkFile({ count: 1e6, bytes: 1e15 }, 1e9);
    off.checkJobs(1e6);
  });
});
