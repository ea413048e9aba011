/**
 * `openledger chat` end to end: the real CLI binary against a node listening on a port. The
 * streamed answer equals the API's own (greedy), from an argument or stdin, chat or --text;
 * --json prints the completion object; an unknown model is a clear error with the list.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startTestNode } from '../../../test/helpers.ts';
import type { RunningNode } from '../../node.ts';
import { ModelCatalog } from '../../models/index.ts';
import { buildTinyModel } from '../../engine/testing/index.ts';
import { NodeClient, devAccount } from '../client.ts';

const BIN = join(process.cwd(), 'bin', 'openledger.mjs');
let node: RunningNode & { dataDir: string };
let api: NodeClient;

before(async () => {
  node = await startTestNode({ listen: true });
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
  api = new NodeClient(node.url!);
  await api.signIn(devAccount(node.dataDir, '1'));
});
after(async () => {
  await node?.stop();
});

function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--api', node.url!, '--data-dir', node.dataDir], { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

test('chat CLI: streams the same answer the API gives, from an argument or stdin; --text; --json', async () => {
  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'code alpha' }];
  const want = (await api.request('POST', '/v1/chat/completions', { model: 'tiny-llama', messages, max_tokens: 12, temperature: 0 })).choices[0].message.content;
  const c = await cli(['chat', 'tiny-llama', 'code alpha', '--system', 'Be brief.', '--max-tokens', '12', '--temperature', '0', '--as', '1']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout, `${want}\n`);
  assert.match(c.stderr, /\[\d+ prompt \+ \d+ generated tokens in \d+\.\d\d s.*tok\/s, (stop|length)\]/);

  const s = await cli(['chat', 'tiny-llama', '--system', 'Be brief.', '--max-tokens', '12', '--temperature', '0'], 'code alpha');
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, `${want}\n`);

  const wantText = (await api.request('POST', '/v1/completions', { model: 'tiny-llama', prompt: 'once upon', max_tokens: 10, temperature: 0 })).choices[0].text;
  const t = await cli(['chat', 'tiny-llama', 'once upon', '--text', '--max-tokens', '10', '--temperature', '0']);
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout, `${wantText}\n`);

  const j = await cli(['chat', 'tiny-llama', 'code alpha', '--system', 'Be brief.', '--max-tokens', '12', '--temperature', '0', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const obj = JSON.parse(j.stdout);
  assert.equal(obj.object, 'chat.completion');
  assert.equal(obj.choices[0].message.content, want);
});

test('chat CLI: an unknown model or a bad option is a clear error', async () => {
  const u = await cli(['chat', 'no-such-model', 'hi']);
  assert.equal(u.code, 1);
  assert.match(u.stderr, /error: no model "no-such-model" on this node/);
  assert.match(u.stderr, /hint: GET \/v1\/models lists them: starter, tiny-llama\n/, "the shipped starter and the test's model");
  const b = await cli(['chat', 'tiny-llama', 'hi', '--temperature', 'warm']);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /--temperature must be a number, got "warm"/);
  const r = await cli(['chat', 'tiny-llama', 'hi', '--temperature', '5']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /temperature must be a number in \[0, 2\]/);
});
