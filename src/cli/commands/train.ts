/**
 * `openledger train`: fine-tune a base model on datanet versions (or a JSONL file) through the
 * node's fine-tuning API, as a dev-keyring account (`--as`), and watch it learn:
 *
 *   openledger train --model tiny --datanet 1@2 --epochs 3 --rank 8 --watch
 *   openledger train list | status <job> | events <job> [--follow] | cancel <job>
 *
 * --watch follows the job's SSE stream with a progress bar and the loss on one line (a TTY), or a
 * line every few steps (a pipe), then prints the evaluation and the registered model.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { OpenLedgerError, invalid } from '../../util/errors.ts';
import { apiError, NodeClient, signedIn, sseFrames, userOptions as common, type UserOptions as Common } from '../client.ts';
import { printJson, printTable } from '../output.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `<id>@<version>` → { id, version }. */
export function parseDatanetRef(v: string): { id: number; version: number } {
  const m = /^(\d+)@(\d+)$/.exec(v.trim());
  if (!m) throw invalid(`"${v}" is not a datanet version`, { param: 'datanet', code: 'invalid_datanet_ref', hint: 'write <id>@<version>, e.g. --datanet 1@2 (versions: `openledger datanet show <id>`)' });
  return { id: Number(m[1]), version: Number(m[2]) };
}

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalid(`--${name} must be a number, got "${v}"`, { param: name, code: 'invalid_option' });
  return n;
};

/** A one-line progress bar: [#####-----] 45/100 loss 1.2345 lr 2.0e-4 123 tok/s eta 12s */
export function progressLine(d: { step: number; total_steps: number; train_loss: number; learning_rate: number; tokens_per_s: number; eta_s: number }, width = 24): string {
  const f = d.total_steps ? d.step / d.total_steps : 0;
  const filled = Math.round(f * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${d.step}/${d.total_steps} loss ${d.train_loss.toFixed(4)} lr ${d.learning_rate.toExponential(1)} ${Math.round(d.tokens_per_s)} tok/s eta ${d.eta_s}s`;
}

/** Follow a job's SSE stream; calls onEvent per event; resolves with the final status frame. */
async function follow(client: NodeClient, jobId: string, onEvent: (e: any) => void): Promise<{ status: string; fine_tuned_model: string | null; error: any }> {
  let res: Response;
  try {
    res = await fetch(`${client.baseUrl}/v1/fine_tuning/jobs/${jobId}/events?stream=true`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${client.token}` } });
  } catch (e) {
    throw new OpenLedgerError(`lost the node at ${client.baseUrl}: ${(e as Error).message}`, { type: 'config_error', code: 'node_unreachable', hint: 'check `openledger status`; the job keeps running on the node' });
  }
  if (!res.ok || !res.body) throw apiError(await res.json().catch(() => null), `HTTP ${res.status}`);
  for await (const { event, data } of sseFrames(res.body as unknown as AsyncIterable<Uint8Array>)) {
    if (!data) continue;
    if (event === 'done') return JSON.parse(data);
    onEvent(JSON.parse(data));
  }
  throw new OpenLedgerError('the event stream ended early', { type: 'internal_error', code: 'stream_ended', hint: `check the job with \`openledger train status ${jobId}\`` });
}

async function watch(client: NodeClient, jobId: string, json: boolean): Promise<void> {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const final = await follow(client, jobId, (e) => {
    if (json) return;
    if (e.type === 'metrics') {
      const line = progressLine(e.data);
      if (tty) process.stderr.write(`\r${line}`);
      else if (e.data.step - lastLine >= Math.max(1, Math.floor(e.data.total_steps / 20)) || e.data.step === e.data.total_steps) {
        process.stderr.write(`${line}\n`);
        lastLine = e.data.step;
      }
    } else {
      if (tty) process.stderr.write('\r\x1b[K');
      process.stderr.write(`${e.message}\n`);
    }
  });
  if (tty) process.stderr.write('\n');
  const job = await client.request('GET', `/v1/fine_tuning/jobs/${jobId}`);
  if (json) return printJson(job);
  if (final.status !== 'succeeded') {
    throw new OpenLedgerError(`job ${jobId} ${final.status}${final.error ? `: ${final.error.message}` : ''}`, { type: 'internal_error', code: final.error?.code ?? final.status, hint: final.error?.hint });
  }
  const ev = job.result?.evaluation;
  if (ev) {
    const pct = (x?: number) => (x === undefined ? '' : `${(100 * x).toFixed(1)}%`);
    printTable([
      { metric: 'loss', base: ev.base.loss.toFixed(4), tuned: ev.tuned.loss.toFixed(4) },
      { metric: 'perplexity', base: ev.base.perplexity.toFixed(3), tuned: ev.tuned.perplexity.toFixed(3) },
      ...(ev.base.exact_match !== undefined ? [{ metric: 'exact match', base: pct(ev.base.exact_match), tuned: pct(ev.tuned.exact_match) }, { metric: 'ROUGE-L', base: ev.base.rouge_l.toFixed(3), tuned: ev.tuned.rouge_l.toFixed(3) }] : []),
      ...(ev.base.accuracy !== undefined ? [{ metric: 'accuracy', base: pct(ev.base.accuracy), tuned: pct(ev.tuned.accuracy) }] : []),
    ]);
  }
  process.stdout.write(`fine-tuned model: ${job.fine_tuned_model}\n`);
  if (job.result?.registration) process.stdout.write(`registered on chain: model ${job.result.registration.modelId} (tx ${job.result.registration.txHash})\n`);
  process.stdout.write(`adapter: ${job.result.exports.peftDir} (PEFT), ${job.result.exports.ggufPath} (GGUF LoRA)\n`);
}

export function trainCommands(program: Command) {
  const t = common(
    program
      .command('train')
      .description('fine-tune a base model (LoRA) on datanet versions or a JSONL file; `train list|status|events|cancel` for jobs')
      .option('--model <name>', 'base model (catalog name: `openledger models list`)', 'starter')
      .option('--datanet <id@version>', 'a datanet version to train on (repeatable)', collect)
      .option('--file <train.jsonl>', 'a JSONL training file (uploaded first)')
      .option('--epochs <n>', 'passes over the data (default 3)')
      .option('--batch-size <n>', 'examples per micro-batch (default 4)')
      .option('--lr <x>', 'learning rate (default 2e-4)')
      .option('--lr-multiplier <x>', 'multiplier of the default learning rate')
      .option('--scheduler <kind>', 'cosine | linear | constant')
      .option('--warmup-steps <n>', 'warmup steps')
      .option('--grad-accum <n>', 'gradient accumulation steps')
      .option('--max-grad-norm <x>', 'gradient clipping (0 = off)')
      .option('--max-steps <n>', 'stop after this many optimizer steps')
      .option('--weight-decay <x>', 'AdamW weight decay')
      .option('--rank <n>', 'LoRA rank (default 8)')
      .option('--alpha <x>', 'LoRA alpha (default 2·rank)')
      .option('--dropout <x>', 'LoRA dropout')
      .option('--targets <list>', 'all-linear, or a comma list of q,k,v,o,gate,up,down')
      .option('--rslora', 'rank-stabilised LoRA scaling')
      .option('--seed <n>', 'seed')
      .option('--checkpoint-every <n>', 'save a checkpoint every N steps')
      .option('--suffix <name>', 'suffix of the fine-tuned model name')
      .option('--validation-split <x>', 'held-out fraction (default 0.1)')
      .option('--price <wei>', 'OPEN wei per 1k tokens (input and output) for the registered model')
      .option('--no-register', 'do not register the model on chain')
      .option('--watch', 'follow the job with a progress bar until it ends', false),
  ).action(async (o: Common & Record<string, any>) => {
    const datanets = ((o.datanet as string[] | undefined) ?? []).map(parseDatanetRef);
    if (!datanets.length && !o.file) throw invalid('pass --datanet <id>@<version> or --file <train.jsonl>', { param: 'datanet', code: 'data_required' });
    const client = (await signedIn(o)).client;
    let trainingFile: string | undefined;
    if (o.file) {
      const bytes = await readFile(o.file);
      const f = await client.request('POST', `/v1/files?filename=${encodeURIComponent(basename(o.file))}&purpose=fine-tune`, new Uint8Array(bytes), { 'content-type': 'application/jsonl' });
      trainingFile = f.id;
      if (!o.json) process.stderr.write(`uploaded ${basename(o.file)}: ${f.rows} ${f.format} rows (${f.id})\n`);
    }
    const hp: Record<string, unknown> = {
      n_epochs: num(o.epochs, 'epochs'), batch_size: num(o.batchSize, 'batch-size'), learning_rate: num(o.lr, 'lr'), learning_rate_multiplier: num(o.lrMultiplier, 'lr-multiplier'),
      lr_scheduler: o.scheduler, warmup_steps: num(o.warmupSteps, 'warmup-steps'), gradient_accumulation_steps: num(o.gradAccum, 'grad-accum'), max_grad_norm: num(o.maxGradNorm, 'max-grad-norm'),
      max_steps: num(o.maxSteps, 'max-steps'), weight_decay: num(o.weightDecay, 'weight-decay'), lora_rank: num(o.rank, 'rank'), lora_alpha: num(o.alpha, 'alpha'), lora_dropout: num(o.dropout, 'dropout'),
      lora_target_modules: o.targets, use_rslora: o.rslora ? true : undefined, seed: num(o.seed, 'seed'), checkpoint_every: num(o.checkpointEvery, 'checkpoint-every'),
    };
    for (const k of Object.keys(hp)) if (hp[k] === undefined) delete hp[k];
    const job = await client.request('POST', '/v1/fine_tuning/jobs', {
      model: o.model, datanets, training_file: trainingFile, hyperparameters: hp, suffix: o.suffix, register: o.register !== false,
      ...(o.validationSplit !== undefined ? { validation_split: num(o.validationSplit, 'validation-split') } : {}),
      ...(o.price !== undefined ? { price_per_1k_input: String(o.price), price_per_1k_output: String(o.price) } : {}),
    });
    if (!o.watch) {
      if (o.json) return printJson(job);
      process.stdout.write(`${job.id} ${job.status}\nfollow it with: openledger train events ${job.id} --follow\n`);
      return;
    }
    if (!o.json) process.stderr.write(`job ${job.id} ${job.status}\n`);
    await watch(client, job.id, o.json);
  });

  // Subcommands share the parent's --api/--data-dir/--as/--json (commander hands options written
  // after the subcommand to the parent that defines them).
  const parent = () => t.opts() as Common;
  t.command('list').description('your fine-tuning jobs').option('--limit <n>', 'how many', '20').action(async (l: { limit: string }) => {
    const o = { ...parent(), ...l };
    const client = (await signedIn(o)).client;
    const { data } = await client.request('GET', `/v1/fine_tuning/jobs?limit=${Number(o.limit) || 20}`);
    if (o.json) return printJson(data);
    printTable(data.map((j: any) => ({ id: j.id, status: j.status, model: j.model, steps: `${j.trained_steps}/${j.total_steps ?? '?'}`, fine_tuned_model: j.fine_tuned_model ?? '', created: new Date(j.created_at * 1000).toISOString() })));
  });

  t.command('status <job>').description('one job (JSON)').action(async (id: string) => {
    printJson(await (await signedIn(parent())).client.request('GET', `/v1/fine_tuning/jobs/${id}`));
  });

  t.command('cancel <job>').description('cancel a queued or running job').action(async (id: string) => {
    const o = parent();
    const j = await ((await signedIn(o)).client).request('POST', `/v1/fine_tuning/jobs/${id}/cancel`);
    if (o.json) return printJson(j);
    process.stdout.write(`${j.id} ${j.status}\n`);
  });

  t.command('events <job>').description("a job's events; --follow streams them with a progress bar").option('--follow', 'follow until the job ends', false).action(async (id: string, l: { follow: boolean }) => {
    const o = { ...parent(), ...l };
    const client = (await signedIn(o)).client;
    if (o.follow) return watch(client, id, o.json);
    const { data } = await client.request('GET', `/v1/fine_tuning/jobs/${id}/events`);
    if (o.json) return printJson(data);
    for (const e of [...data].reverse()) process.stdout.write(`${new Date(e.created_at * 1000).toISOString()} ${e.level} ${e.message}\n`); // the API lists newest first
  });
}
