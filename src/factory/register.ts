/**
 * Registration: the model card (markdown + JSON) into the DA blob store, then
 * ModelRegistry.registerModelFor(owner = job creator, relayed by the operator) with
 *
 *   baseModelHash       0x + the base model's sha256 (the catalog's file hash)
 *   adapterHash         0x + sha256(adapter_model.safetensors)
 *   trainedOn           the (datanet id, version) pairs (their Merkle roots are in the card)
 *   trainingConfigHash  sha256 of the canonical JSON of { base, hyperparameters, data }
 *   metadataURI         da://<commitment of the model card JSON>
 *   prices              OPEN wei per 1k input / output tokens from the request
 */
import { createHash } from 'node:crypto';
import type { Address, Hex } from 'viem';
import { actions, type Chain } from '../chain/index.ts';
import type { BlobStore } from '../da/index.ts';
import type { Evaluation } from './evaluate.ts';

export interface ModelCard {
  name: string;
  base_model: { name: string; sha256: string; architecture: string };
  adapter: { format: string[]; sha256: string; gguf_sha256: string; rank: number; alpha: number; target_modules: unknown };
  data: {
    datanets: Array<{ id: number; version: number; merkle_root: string; rows: number }>;
    files: Array<{ id: string; sha256: string; rows: number }>;
    format: string;
    rows: number;
    train_rows: number;
    eval_rows: number;
    tokens: number;
  };
  config: Record<string, unknown>;
  training: { steps: number; final_loss: number | null; first_loss: number | null; seconds: number };
  results: Evaluation | null;
  job: string;
  owner: string;
}

/** Canonical JSON (sorted keys) so the config hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

export const configHash = (config: unknown): Hex => `0x${createHash('sha256').update(canonicalJson(config)).digest('hex')}`;

const pct = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

export function modelCardMarkdown(c: ModelCard): string {
  const r = c.results;
  const lines = [
    `# ${c.name}`,
    '',
    `LoRA adapter (rank ${c.adapter.rank}, alpha ${c.adapter.alpha}) on **${c.base_model.name}** (${c.base_model.architecture}, sha256 \`${c.base_model.sha256}\`), trained by ${c.owner} in job ${c.job}.`,
    '',
    '## Data',
    '',
    `${c.data.rows} rows (${c.data.format}): ${c.data.train_rows} trained on, ${c.data.eval_rows} held out; ${c.data.tokens} tokens.`,
    '',
    ...c.data.datanets.map((d) => `- datanet ${d.id} version ${d.version}: ${d.rows} rows, Merkle root \`${d.merkle_root}\``),
    ...c.data.files.map((d) => `- uploaded file ${d.id}: ${d.rows} rows, sha256 \`${d.sha256}\``),
    '',
    '## Training',
    '',
    `${c.training.steps} steps in ${c.training.seconds.toFixed(1)} s; loss ${c.training.first_loss?.toFixed(4) ?? '–'} → ${c.training.final_loss?.toFixed(4) ?? '–'}.`,
    '',
    '```json',
    JSON.stringify(c.config, null, 2),
    '```',
    '',
    '## Results (held-out split)',
    '',
  ];
  if (r) {
    lines.push('| metric | base | tuned |', '|---|---|---|');
    lines.push(`| loss | ${f(r.base.loss)} | ${f(r.tuned.loss)} |`, `| perplexity | ${f(r.base.perplexity)} | ${f(r.tuned.perplexity)} |`);
    if (r.base.exact_match !== undefined) lines.push(`| exact match | ${pct(r.base.exact_match)} | ${pct(r.tuned.exact_match)} |`, `| ROUGE-L | ${f(r.base.rouge_l!)} | ${f(r.tuned.rouge_l!)} |`);
    if (r.base.accuracy !== undefined) lines.push(`| accuracy | ${pct(r.base.accuracy)} | ${pct(r.tuned.accuracy)} |`);
  } else lines.push('No held-out rows (validation split 0).');
  lines.push('', '## Files', '', `- PEFT: adapter_config.json + adapter_model.safetensors (sha256 \`${c.adapter.sha256}\`)`, `- GGUF LoRA for llama.cpp (sha256 \`${c.adapter.gguf_sha256}\`)`, '');
  return lines.join('\n');
}

export interface Registration { modelId: string; txHash: Hex; metadataURI: string; configHash: Hex }

/** Card → DA, then the on-chain record for `owner`. */
export async function registerModel(chain: Chain, blobs: BlobStore, p: {
  owner: Address; card: ModelCard; baseModelSha256: string; adapterHash: Hex; trainedOn: Array<{ datanetId: number; version: number }>;
  config: unknown; pricePer1kInput: bigint; pricePer1kOutput: bigint;
}): Promise<Registration> {
  const blob = await blobs.put(new TextEncoder().encode(JSON.stringify({ ...p.card, markdown: modelCardMarkdown(p.card) })));
  const metadataURI = `da://${blob.commitment}`;
  const cfgHash = configHash(p.config);
  const r = await actions.registerModelFor(chain, {
    owner: p.owner,
    baseModelHash: `0x${p.baseModelSha256.replace(/^0x/, '')}`,
    adapterHash: p.adapterHash,
    trainedOn: p.trainedOn.map((t) => ({ datanetId: BigInt(t.datanetId), version: BigInt(t.version) })),
    trainingConfigHash: cfgHash,
    metadataURI,
    pricePer1kInput: p.pricePer1kInput,
    pricePer1kOutput: p.pricePer1kOutput,
  });
  return { modelId: r.modelId.toString(), txHash: r.txHash, metadataURI, configHash: cfgHash };
}
