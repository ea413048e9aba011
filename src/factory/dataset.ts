/**
 * Dataset building: rows (from datanet versions or an uploaded JSONL file) → tokenized training
 * examples with loss masks, a deterministic held-out split, and the exact record of what was used.
 *
 *   format     prompt (mask 0)                          response (mask 1)
 *   alpaca     BOS? instruction "\n" [input "\n"]       output EOS
 *   sharegpt   the chat template up to each assistant   each assistant turn as the template renders it
 *              turn (system, user turns, role headers)
 *   labelled   BOS? text "\nLabel:"                     " " label EOS
 *   text       —                                        BOS? text EOS (every token)
 *
 * Long rows: a row whose tokens exceed the model's context (+1: the last token is only a target)
 * is an error naming the row (code `context_length_exceeded`); we do not truncate silently,
 * because a truncated response would teach the model to stop mid-answer.
 *
 * Split: a row is held out when sha256("ol-eval" ‖ row hash) mod 10_000 < fraction·10_000 — a
 * function of the row's content alone, so the same row is in the same split in every job and
 * every version. With ≥ 2 rows and fraction > 0 at least one row is held out (the lowest
 * score) and at least one is trained on.
 */
import { createHash } from 'node:crypto';
import type { Tokenizer, ChatMessage } from '../engine/index.ts';
import type { TrainExample } from '../engine/train/index.ts';
import { invalid } from '../util/errors.ts';

export type RowFormat = 'text' | 'alpaca' | 'sharegpt' | 'labelled';

/** One source row, with where it came from. */
export interface SourceRow {
  /** Datanet id + version, or the uploaded file id. */
  datanetId: number | null;
  version: number | null;
  fileId: string | null;
  rowId: number;
  /** 0x sha256 of the canonical row (datanets) or of the JSONL line (files). */
  hash: string;
  contributor: string | null;
  data: Record<string, unknown>;
}

export interface DatasetRow extends SourceRow {
  split: 'train' | 'eval';
  /** Prompt and reference answer as text (evaluation generates from the prompt). */
  prompt: string;
  reference: string;
  example: TrainExample & { tokens: number[]; lossMask: number[] };
  /** Tokens of the prompt (the first `promptTokens` of example.tokens). */
  promptTokens: number;
}

export interface Dataset {
  format: RowFormat;
  rows: DatasetRow[];
  train: DatasetRow[];
  eval: DatasetRow[];
  /** Labels seen (labelled format), sorted. */
  labels: string[];
  stats: { rows: number; trainRows: number; evalRows: number; tokens: number; maxTokens: number };
}

export interface BuildOptions {
  tokenizer: Tokenizer;
  contextLength: number;
  /** Held-out fraction in [0, 0.5] (default 0.1). */
  evalFraction?: number;
  /** Indices of `source` to hold out instead of the hash split (the rows of a validation file). */
  heldOut?: readonly number[];
}

const hex = (b: Buffer) => `0x${b.toString('hex')}`;
export const sha256Hex = (s: string | Uint8Array) => hex(createHash('sha256').update(s).digest());

/** Parse an uploaded JSONL training file into rows; the format is each line's shape (all lines must agree). */
export function parseJsonlFile(text: string, fileId: string): { format: RowFormat; rows: SourceRow[] } {
  const rows: SourceRow[] = [];
  let format: RowFormat | null = null;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw invalid(`training file line ${i + 1} is not JSON: ${(e as Error).message}`, { param: 'training_file', code: 'invalid_file', hint: 'one JSON object per line (JSONL)' });
    }
    const f = detectFormat(v, i + 1);
    if (format && f !== format) throw invalid(`training file line ${i + 1} is ${f} but earlier lines are ${format}`, { param: 'training_file', code: 'invalid_file', hint: 'use one format per file' });
    format = f;
    rows.push({ datanetId: null, version: null, fileId, rowId: i + 1, hash: sha256Hex(line.trim()), contributor: null, data: normalize(f, v as Record<string, unknown>) });
  });
  if (!format || !rows.length) throw invalid('the training file has no rows', { param: 'training_file', code: 'empty_dataset', hint: 'upload a JSONL file with at least one row' });
  return { format, rows };
}

/** OpenAI chat rows ({messages: [{role, content}]}) are sharegpt; {prompt, completion} are alpaca. */
function detectFormat(v: unknown, line: number): RowFormat {
  const o = v as Record<string, unknown>;
  if (o && typeof o === 'object') {
    if (Array.isArray(o.messages) || Array.isArray(o.conversations)) return 'sharegpt';
    if (typeof o.instruction === 'string' && typeof o.output === 'string') return 'alpaca';
    if (typeof o.prompt === 'string' && typeof o.completion === 'string') return 'alpaca';
    if (typeof o.text === 'string' && typeof o.label === 'string') return 'labelled';
    if (typeof o.text === 'string') return 'text';
  }
  throw invalid(`training file line ${line} has no known shape`, {
    param: 'training_file', code: 'invalid_file',
    hint: 'use {"instruction","input"?,"output"}, {"prompt","completion"}, {"messages":[{role,content}]}, {"conversations":[{from,value}]}, {"text","label"} or {"text"}',
  });
}

function normalize(f: RowFormat, o: Record<string, unknown>): Record<string, unknown> {
  if (f === 'alpaca' && typeof o.prompt === 'string') return { instruction: o.prompt, output: o.completion };
  if (f === 'sharegpt' && Array.isArray(o.messages)) {
    const conv = (o.messages as Array<{ role: string; content: string }>).map((m) => ({ from: m.role === 'assistant' ? 'gpt' : m.role === 'user' ? 'human' : m.role, value: m.content }));
    return { conversations: conv };
  }
  return o;
}

const ROLE: Record<string, string> = { human: 'user', gpt: 'assistant', system: 'system', user: 'user', assistant: 'assistant' };

interface Rendered { tokens: number[]; mask: number[]; prompt: string; reference: string; promptTokens: number }

function render(format: RowFormat, data: Record<string, unknown>, tok: Tokenizer): Rendered {
  const bos = tok.bosTokenId;
  const eos = tok.eosTokenIds[0];
  if (eos === undefined) throw invalid('the model tokenizer has no EOS token', { param: 'model', code: 'unsupported_model', hint: 'use a model whose tokenizer defines an end-of-sequence token' });
  const enc = (s: string) => tok.encode(s, { addSpecial: false });
  const pair = (prompt: string, response: string): Rendered => {
    const p = [...(bos !== null ? [bos] : []), ...enc(prompt)];
    const r = [...enc(response), eos];
    return { tokens: [...p, ...r], mask: [...p.map(() => 0), ...r.map(() => 1)], prompt, reference: response.trim(), promptTokens: p.length };
  };
  switch (format) {
    case 'alpaca': {
      const input = typeof data.input === 'string' && data.input.trim() ? `${data.input}\n` : '';
      return pair(`${data.instruction}\n${input}`, String(data.output));
    }
    case 'labelled':
      return pair(`${data.text}\nLabel:`, ` ${data.label}`);
    case 'text': {
      const t = [...(bos !== null ? [bos] : []), ...enc(String(data.text)), eos];
      return { tokens: t, mask: t.map((_, i) => (i === 0 ? 0 : 1)), prompt: '', reference: String(data.text), promptTokens: 0 };
    }
    case 'sharegpt': {
      const conv = data.conversations as Array<{ from: string; value: string }>;
      const msgs: ChatMessage[] = [];
      if (typeof data.system === 'string' && data.system) msgs.push({ role: 'system', content: data.system });
      for (const t of conv) msgs.push({ role: ROLE[t.from] ?? t.from, content: t.value });
      if (!tok.chatTemplate) throw invalid('sharegpt rows need a chat template, and the model has none', { param: 'model', code: 'no_chat_template', hint: 'use a chat model (tokenizer_config.json with chat_template) or alpaca / text data' });
      // Render prefixes: text up to each assistant turn (with the generation prompt) is masked,
      // the assistant turn itself (as the full render continues it) is learned.
      const tokens: number[] = [], mask: number[] = [];
      let done = '';
      let lastPrompt = '', lastAnswer = '', promptTokens = 0;
      for (let i = 0; i < msgs.length; i++) {
        if (msgs[i].role !== 'assistant') continue;
        const before = tok.applyChatTemplate(msgs.slice(0, i), { addGenerationPrompt: true });
        const through = tok.applyChatTemplate(msgs.slice(0, i + 1), { addGenerationPrompt: false });
        if (!before.startsWith(done) || !through.startsWith(before)) {
          throw invalid('the chat template does not render conversations as growing prefixes', { param: 'model', code: 'unsupported_chat_template', hint: 'use alpaca data with this model' });
        }
        const p = enc(before.slice(done.length)), a = enc(through.slice(before.length));
        tokens.push(...p, ...a);
        mask.push(...p.map(() => 0), ...a.map(() => 1));
        done = through;
        lastPrompt = before; lastAnswer = msgs[i].content; promptTokens = tokens.length - a.length;
      }
      if (bos !== null && tokens[0] !== bos && !done.startsWith(tok.decode([bos]))) { tokens.unshift(bos); mask.unshift(0); promptTokens++; }
      return { tokens, mask, prompt: lastPrompt, reference: lastAnswer.trim(), promptTokens };
    }
  }
}

/** The held-out score of a row hash in [0, 10000). */
export function splitScore(hash: string): number {
  return createHash('sha256').update('ol-eval').update(hash).digest().readUInt32BE(0) % 10_000;
}

export function buildDataset(format: RowFormat, source: readonly SourceRow[], opts: BuildOptions): Dataset {
  if (!source.length) throw invalid('the training dataset is empty', { param: 'training_file', code: 'empty_dataset', hint: 'pick a datanet version with accepted rows, or upload a file with rows' });
  const fraction = opts.evalFraction ?? 0.1;
  if (!(fraction >= 0 && fraction <= 0.5)) throw invalid(`validation split must be in [0, 0.5], got ${fraction}`, { param: 'validation_split', code: 'invalid_hyperparameter', hint: 'use 0.1 (10% held out) or 0 for none' });
  const scores = source.map((r) => splitScore(r.hash));
  let held = new Set(scores.flatMap((s, i) => (s < fraction * 10_000 ? [i] : [])));
  if (opts.heldOut) held = new Set(opts.heldOut); // a validation file: exactly its rows
  else if (fraction > 0 && source.length >= 2) {
    if (held.size === 0) held.add(scores.indexOf(Math.min(...scores)));
    if (held.size === source.length) held.delete(scores.indexOf(Math.max(...scores)));
  } else if (source.length < 2) held = new Set();
  const labels = new Set<string>();
  let tokens = 0, maxTokens = 0;
  const rows = source.map((r, i): DatasetRow => {
    const x = render(format, r.data, opts.tokenizer);
    const where = r.datanetId !== null ? `datanet ${r.datanetId} v${r.version} row ${r.rowId}` : `file ${r.fileId} line ${r.rowId}`;
    if (x.tokens.length - 1 > opts.contextLength) {
      throw invalid(`${where} has ${x.tokens.length} tokens, more than the model's context of ${opts.contextLength}`, {
        param: 'training_file', code: 'context_length_exceeded', hint: 'shorten or split the row, or use a base model with a longer context', details: { row: r.rowId, tokens: x.tokens.length, context: opts.contextLength },
      });
    }
    if (x.tokens.length < 2 || !x.mask.some((m, t) => t > 0 && m)) throw invalid(`${where} renders to no tokens to learn`, { param: 'training_file', code: 'empty_row' });
    if (format === 'labelled') labels.add(String(r.data.label));
    tokens += x.tokens.length;
    maxTokens = Math.max(maxTokens, x.tokens.length);
    return { ...r, split: held.has(i) ? 'eval' : 'train', prompt: x.prompt, reference: x.reference, promptTokens: x.promptTokens, example: { tokens: x.tokens, lossMask: x.mask } };
  });
  const train = rows.filter((r) => r.split === 'train'), evalRows = rows.filter((r) => r.split === 'eval');
  return { format, rows, train, eval: evalRows, labels: [...labels].sort(), stats: { rows: rows.length, trainRows: train.length, evalRows: evalRows.length, tokens, maxTokens } };
}
