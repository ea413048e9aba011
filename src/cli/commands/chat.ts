/**
 * `openledger chat <model> [prompt]`: talk to a model served by a running node, through its
 * OpenAI-compatible API (POST /v1/chat/completions, streamed), as a dev-keyring account or with
 * an API key:
 *
 *   openledger chat starter "What is the national dish of Veloria?"
 *   openledger chat ft:starter:veloria:ab12cd34 "What is the national dish of Veloria?"
 *   openledger chat model:3 --system "Answer in one line"      # interactive: one turn per line
 *   openledger chat tiny --text "Once upon a time"             # raw completion (POST /v1/completions)
 *
 * `openledger run` runs a model in this process; `chat` asks the node, where the model is loaded
 * once and shares batches with everyone else's requests.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { OpenLedgerError, invalid } from '../../util/errors.ts';
import { apiError, NodeClient, signedIn, sseFrames, userOptions, type UserOptions } from '../client.ts';
import { printJson } from '../output.ts';

interface ChatOptions extends UserOptions {
  apiKey?: string;
  system?: string;
  text: boolean;
  maxTokens: string;
  temperature?: string;
  topP?: string;
  topK?: string;
  seed?: string;
  stop?: string[];
}

interface Message { role: string; content: string }

const num = (v: string | undefined, name: string, int = false): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n))) throw invalid(`--${name} must be ${int ? 'an integer' : 'a number'}, got "${v}"`, { param: name, code: 'invalid_option' });
  return n;
};

export function chatCommands(program: Command) {
  userOptions(
    program
      .command('chat <model> [prompt]')
      .description('chat with a model served by the running node (base name, ft:… or model:<on-chain id>); without a prompt: one turn per line, or the prompt from stdin')
      .option('--api-key <key>', 'use an API key (POST /v1/api-keys) instead of signing in with the dev keyring', process.env.OPENLEDGER_API_KEY)
      .option('--system <text>', 'system message')
      .option('--text', 'raw text completion (POST /v1/completions), no chat template', false)
      .option('--max-tokens <n>', 'most tokens to generate', '256')
      .option('--temperature <t>', '0 = greedy (node default 1)')
      .option('--top-p <p>', 'nucleus sampling')
      .option('--top-k <k>', 'top-k sampling')
      .option('--seed <n>', 'seed for reproducible sampling')
      .option('--stop <text...>', 'stop sequences'),
  ).action(async (model: string, prompt: string | undefined, o: ChatOptions) => {
    const client = o.apiKey ? Object.assign(new NodeClient(o.api), { token: o.apiKey }) : (await signedIn(o)).client;
    const params = {
      max_tokens: num(o.maxTokens, 'max-tokens', true), temperature: num(o.temperature, 'temperature'), top_p: num(o.topP, 'top-p'),
      top_k: num(o.topK, 'top-k', true), seed: num(o.seed, 'seed', true), ...(o.stop ? { stop: o.stop } : {}),
    };
    const history: Message[] = o.system ? [{ role: 'system', content: o.system }] : [];
    const body = (text: string) => o.text
      ? { model, prompt: text, ...params }
      : { model, messages: [...history, { role: 'user', content: text }], ...params };

    if (o.json) {
      if (prompt === undefined) throw invalid('--json needs a prompt', { param: 'prompt', code: 'prompt_required' });
      printJson(await client.request('POST', o.text ? '/v1/completions' : '/v1/chat/completions', body(prompt)));
      return;
    }
    if (prompt !== undefined || !process.stdin.isTTY) {
      const text = prompt ?? (await readStdin());
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort()); // stop the answer (the node cancels the sequence)
      await turn(client, o.text, body(text), ac);
      return;
    }
    // Interactive: a line is a turn; Ctrl-C stops the answer being written (or ends when idle), Ctrl-D ends.
    const rl = createInterface({ input: process.stdin, output: process.stderr, prompt: '> ' });
    let current: AbortController | null = null;
    rl.on('SIGINT', () => (current ? current.abort() : rl.close()));
    process.stderr.write(`chatting with ${model} at ${o.api} (Ctrl-D to end)\n`);
    rl.prompt();
    for await (const line of rl) {
      if (line.trim()) {
        current = new AbortController();
        try {
          const reply = await turn(client, o.text, body(line), current);
          if (!o.text) history.push({ role: 'user', content: line }, { role: 'assistant', content: reply });
        } finally {
          current = null;
        }
      }
      rl.prompt();
    }
  });
}

async function readStdin(): Promise<string> {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  if (!s.trim()) throw invalid('no prompt: pass one as an argument or on stdin', { param: 'prompt', code: 'prompt_required' });
  return s;
}

/** One streamed request: text to stdout as it comes, a summary line to stderr; returns the text. */
async function turn(client: NodeClient, text: boolean, body: Record<string, unknown>, ac: AbortController): Promise<string> {
  const t0 = performance.now();
  let out = '', usage: { prompt_tokens: number; completion_tokens: number } | null = null, finish: string | null = null, first: number | null = null;
  try {
    for await (const chunk of streamCompletion(client, text ? '/v1/completions' : '/v1/chat/completions', { ...body, stream: true, stream_options: { include_usage: true } }, ac.signal)) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const piece: string = (text ? choice.text : choice.delta?.content) ?? '';
      if (piece) {
        first ??= performance.now();
        process.stdout.write(piece);
        out += piece;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  } catch (e) {
    if (!ac.signal.aborted) throw e;
    finish = 'interrupted';
  }
  process.stdout.write('\n');
  const s = (performance.now() - t0) / 1000;
  const ttft = first === null ? '' : `, first token ${((first - t0) / 1000).toFixed(2)} s`;
  if (usage) console.error(`[${usage.prompt_tokens} prompt + ${usage.completion_tokens} generated tokens in ${s.toFixed(2)} s${ttft}, ${(usage.completion_tokens / s).toFixed(1)} tok/s, ${finish}]`);
  else console.error(`[${finish ?? 'ended'} after ${s.toFixed(2)} s]`);
  return out;
}

/** POST with stream: true and yield the parsed `data:` chunks until [DONE]; an error event throws. */
async function* streamCompletion(client: NodeClient, path: string, body: unknown, signal: AbortSignal): AsyncGenerator<any> {
  let res: Response;
  try {
    res = await fetch(client.baseUrl + path, {
      method: 'POST', signal, body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(client.token ? { authorization: `Bearer ${client.token}` } : {}) },
    });
  } catch (e) {
    if (signal.aborted) throw e;
    throw new OpenLedgerError(`no openledger node answers at ${client.baseUrl} (${(e as Error).message})`, { type: 'config_error', code: 'node_unreachable', hint: 'start one with `openledger up` (or `npm start`), or pass --api <url>' });
  }
  if (!res.ok || !res.body) throw apiError(await res.json().catch(() => null), `HTTP ${res.status}`);
  for await (const { data } of sseFrames(res.body as unknown as AsyncIterable<Uint8Array>)) {
    if (data === '[DONE]') return;
    const chunk = JSON.parse(data);
    if (chunk.error) throw apiError(chunk, 'HTTP 200');
    yield chunk;
  }
  throw new OpenLedgerError('the node ended the stream early', { type: 'internal_error', code: 'stream_ended', hint: 'check the node\'s log; `openledger status` shows whether it is up' });
}

