/**
 * The create flow's input: what a datanet is (name, description, format, labels, policies). The
 * same schema reads the metadata blob back at start-up reconciliation (reconcile.ts), so a datanet
 * whose transaction landed but whose store write did not is rebuilt from exactly what was signed off.
 */
import { z } from 'zod';
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
