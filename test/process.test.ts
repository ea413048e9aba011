/**
 * Issue 9 item 9: the process around the node.
 *  - SIGTERM to `npm start` stops the node and its Anvil (npm's SIGTERM reaches only the `sh -c`
 *    it runs the script in; the node watches npm and its shell).
 *  - `openledger` in a checkout where nothing is installed or built says what to do, without a
 *    module-not-found stack.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, tempDir } from './helpers.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGTERM to `npm start` stops the node and Anvil', { timeout: 240_000 }, async () => {
  const dataDir = tempDir('ol-npmstart-');
  dirs.push(dataDir);
  const port = await freePort(), chainPort = await freePort();
  const npm = spawn('npm', ['start', '--', '--data-dir', dataDir, '--port', String(port), '--chain-port', String(chainPort)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout!.on('data', (b) => (out += b));
  npm.stderr!.on('data', (b) => (out += b));
  const t0 = Date.now();
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break;
    } catch {
      /* starting */
    }
    assert.ok(Date.now() - t0 < 180_000, `node did not start:\n${out}`);
    assert.equal(npm.exitCode, null, `npm exited:\n${out}`);
    await sleep(200);
  }
  const anvil = Number(readFileSync(join(dataDir, 'chain', 'anvil.pid'), 'utf8'));
  const nodePid = Number(readFileSync(join(dataDir, 'node.lock'), 'utf8').trim());
  assert.ok(alive(anvil) && alive(nodePid), 'node and Anvil run');
  npm.kill('SIGTERM');
  const deadline = Date.now() + 20_000;
  while ((alive(nodePid) || alive(anvil)) && Date.now() < deadline) await sleep(100);
  assert.equal(alive(nodePid), false, `the node stopped (pid ${nodePid})\n${out}`);
  assert.equal(alive(anvil), false, `Anvil stopped (pid ${anvil})`);
});

test('`openledger` before `npm ci` / before a build says what to do, not a stack', () => {
  const bare = tempDir('ol-bare-');
  dirs.push(bare);
  mkdirSync(join(bare, 'bin'));
  copyFileSync(join(ROOT, 'bin/openledger.mjs'), join(bare, 'bin/openledger.mjs'));
  const r = spawnSync(process.execPath, [join(bare, 'bin/openledger.mjs'), 'status'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /dependencies are not installed\. Run `npm ci`/);
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|at .*\(node:internal/);
  assert.ok(existsSync(join(ROOT, 'bin/openledger.mjs')));
});
