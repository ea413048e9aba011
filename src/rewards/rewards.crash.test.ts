// Crash safety of an epoch close (the crash test): a node SIGKILLs itself between settle
// and submitRoot (right after the settle transaction, and right after recording it) and between
// submitRoot and the store update; a restart finishes the epoch. Each time: exactly one
// settlement and one root for the epoch on chain, payers debited exactly their fees once, the
// distributor holds exactly the fees, the ledger balances, and the claims pay out all of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir } from '../../test/helpers.ts';

const RUNNER = fileURLToPath(new URL('./testing/crash-node.ts', import.meta.url));

function run(args: string[]): { status: number | null; signal: string | null; lines: any[]; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUNNER, ...args], { encoding: 'utf8', timeout: 240_000 });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  return { status: r.status, signal: r.signal, lines, stderr: r.stderr };
}

for (const point of ['after-settle-tx', 'after-settle-store', 'after-root-tx'] as const) {
  test(`kill -9 ${point.replace(/-/g, ' ')}: a restart finishes the epoch exactly once`, async () => {
    const dir = tempDir('ol-crash-');
    const port = String(await freePort());
    try {
      const setup = run(['setup', dir, port, point]);
      assert.equal(setup.signal, 'SIGKILL', `the node should have died at ${point}: ${setup.stderr.slice(-2000)}`);
      assert.equal(setup.lines.length, 1, 'it died inside the epoch close');
      const { epoch, fees } = setup.lines[0];
      const total = Object.values(fees as Record<string, string>).reduce((s, x) => s + BigInt(x), 0n);
      assert.ok(total > 0n);

      const resume = run(['resume', dir, port]);
      assert.equal(resume.status, 0, resume.stderr.slice(-2000));
      const f = resume.lines[0];
      assert.equal(f.epoch, epoch);
      assert.equal(f.status, 'done', f.error);
      assert.equal(f.settledEvents, 1, 'one settlement on chain');
      assert.equal(f.rootEvents, 1, 'one root on chain');
      assert.equal(f.epochCount, '1');
      assert.equal(f.lastSubmittedEpoch, String(epoch));
      assert.equal(f.settledTotal, total.toString());
      assert.equal(f.totalCumulative, total.toString());
      assert.equal(f.distributorBalance, total.toString(), 'the distributor holds exactly the fees');
      for (const [payer, paid] of Object.entries(fees as Record<string, string>)) assert.equal(BigInt(f.escrow[payer]), 10n ** 16n - BigInt(paid), `${payer} debited once`);
      assert.equal(f.ledgerTotal, '0');
      assert.equal(f.unbalanced, 0);
      const claimed = Object.values(f.claims as Record<string, string>).reduce((s, x) => s + BigInt(x), 0n);
      assert.equal(claimed, total, 'claims pay out every fee, to the wei');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
