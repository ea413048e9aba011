/**
 * Create: metadata → DA blob → DatanetRegistry.createDatanetFor(caller), sent by the operator →
 * store record. The flow's input: what a datanet is (name, description, format, labels, policies). The
 * same schema reads the metadata blob back at start-up reconciliation (reconcile.ts), so a datanet
 * whose transaction landed but whose store write did not is rebuilt from exactly what was signed off.
 */
import { getAddress, type Address } from 'viem';
import { z } from 'zod';
import { actions } from '../chain/index.ts';
import { invalid } from '../util/errors.ts';
import type { DatanetContext } from './context.ts';
import { chainPolicy } from './policy.ts';
import type { DatanetRecord } from './repo.ts';
import type { DatanetView } from './views.ts';
import { isSafeName, UNSAFE_NAME_MESSAGE } from '../util/text.ts';
import { FORMATS } from './formats.ts';
import { PoliciesSchema } from './policy.ts';

const safe = (max: number) => z.string().trim().min(1).max(max).refine(isSafeName, UNSAFE_NAME_MESSAGE);

export const CreateDatanetInput = z.object({
  name: safe(100),
  summary: z.string().max(500).refine(isSafeName, UNSAFE_NAME_MESSAGE).default(''),
  description: z.string().max(50_000).default(''),
  tags: z.array(safe(40)).max(20).default([]),
  license: z
    .string()
    .regex(/^[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*$/, 'must be an SPDX license id or expression, e.g. CC-BY-4.0')
    .default('CC-BY-4.0'),
  format: z.enum(FORMATS),
  labels: z.array(safe(100)).min(2).max(1000).optional(),
  policies: PoliciesSchema.default(PoliciesSchema.parse({})),
});
export type CreateDatanetInput = z.input<typeof CreateDatanetInput>;

export async function create(s: DatanetContext, caller: Address, input: CreateDatanetInput): Promise<DatanetView> {
  const parsed = CreateDatanetInput.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw invalid(`invalid datanet: ${i.path.join('.') || '(body)'}: ${i.message}`, { param: i.path.join('.') || null, code: 'invalid_datanet', hint: 'see POST /v1/datanets in /docs' });
  }
  const d = parsed.data;
  if (d.format === 'labelled' && !d.labels) {
    throw invalid('a labelled datanet needs its labels', { param: 'labels', code: 'labels_required', hint: 'pass labels: ["positive", "negative", …] (at least two)' });
  }
  if (d.format !== 'labelled' && d.labels) {
    throw invalid(`labels only apply to labelled datanets, not ${d.format}`, { param: 'labels', code: 'labels_not_applicable', hint: 'drop labels or use format "labelled"' });
  }
  const owner = getAddress(caller);
  const createdAt = s.now();
  // Everything the store record needs, so start-up reconciliation can rebuild it from the chain
  // event alone (createdAt also makes two identical creates two distinct blobs).
  const metadata = { name: d.name, summary: d.summary, description: d.description, tags: d.tags, license: d.license, format: d.format, labels: d.labels ?? null, policies: d.policies, createdAt };
  const blob = await s.blobs.put(new TextEncoder().encode(jsonWei(metadata)));
  const metadataURI = `da://${blob.commitment}`;
  const cp = chainPolicy(d.policies);
  const res = await actions.createDatanet(s.chain, { metadataURI, accessPolicy: cp.accessPolicy, accessPrice: cp.accessPrice, requiredApprovals: cp.requiredApprovals, owner });
  const record: DatanetRecord = {
    id: Number(res.datanetId),
    name: d.name,
    summary: d.summary,
    description: d.description,
    tags: d.tags,
    license: d.license,
    format: d.format,
    labels: d.labels ?? null,
    policies: d.policies,
    owner,
    metadataBlob: blob.id,
    txHash: res.txHash,
    createdAt,
  };
  s.repo.insertDatanet(record);
  return s.view(record);
}

function jsonWei(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}
