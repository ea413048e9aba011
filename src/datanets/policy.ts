import { z } from 'zod';
import { MAX_UINT256 } from '../util/errors.ts';
import { OpenLedgerError } from '../util/errors.ts';

/**
 * A datanet's policies, fixed in its metadata and (for access and approvals) mirrored on chain in
 * `DatanetRegistry` (AccessPolicy Open/Approval/Paid + accessPrice, requiredApprovals).
 *
 * access (who may read rows and use versions, and who may contribute):
 *   open      everyone reads and contributes
 *   approval  the owner grants accounts (on chain, grantAccess); only they, the owner and the
 *             datanet's validators read or contribute
 *   paid      everyone may contribute; reading and training need a purchase (priceWei OPEN), which is
 *             credited to the contributors by accepted rows
 * validation:
 *   automatic   rows that pass the automatic checks are accepted at once
 *   validators  rows wait as `pending` until `approvals` validators approve (accepted) or
 *               `rejections` validators reject (rejected; default = approvals)
 * quotas: per contributor and per datanet, per UTC day.
 */
const wei = z
  .union([z.bigint(), z.string().regex(/^\d{1,100}$/, 'must be a whole number of wei as a decimal string'), z.number().int().nonnegative()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= MAX_UINT256, { message: 'must be at most 2^256 − 1 wei (the chain stores prices as uint256)' });

export const AccessPolicySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('open') }),
  z.object({ kind: z.literal('approval') }),
  z.object({ kind: z.literal('paid'), priceWei: wei.refine((v) => v > 0n, { message: 'a paid datanet needs a price above 0' }) }),
]);
export type AccessPolicy = z.infer<typeof AccessPolicySchema>;

export const ValidationPolicySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('automatic') }),
  z.object({
    kind: z.literal('validators'),
    approvals: z.number().int().min(1).max(100),
    rejections: z.number().int().min(1).max(100).optional(),
  }),
]);
export type ValidationPolicy = z.infer<typeof ValidationPolicySchema>;

const MB = 1024 * 1024;
export const QuotaSchema = z.object({
  /** Bytes one contributor may upload to this datanet per UTC day (OpenLedger: 10 MB). */
  userBytesPerDay: z.number().int().positive().default(10 * MB),
  /** Files (uploads) one contributor may make per UTC day (OpenLedger: 20). */
  userUploadsPerDay: z.number().int().positive().default(20),
  /** Bytes the datanet accepts per UTC day from everyone (OpenLedger: 10 MB). */
  datanetBytesPerDay: z.number().int().positive().default(10 * MB),
});
export type Quota = z.infer<typeof QuotaSchema>;

export const PoliciesSchema = z.object({
  access: AccessPolicySchema.default({ kind: 'open' }),
  validation: ValidationPolicySchema.default({ kind: 'automatic' }),
  quota: QuotaSchema.default({ userBytesPerDay: 10 * MB, userUploadsPerDay: 20, datanetBytesPerDay: 10 * MB }),
});
export type Policies = z.infer<typeof PoliciesSchema>;

/** On-chain mirror: `DatanetRegistry.AccessPolicy` enum value, price, requiredApprovals. */
export function chainPolicy(p: Policies): { accessPolicy: 0 | 1 | 2; accessPrice: bigint; requiredApprovals: number } {
  const accessPolicy = p.access.kind === 'open' ? 0 : p.access.kind === 'approval' ? 1 : 2;
  return {
    accessPolicy,
    accessPrice: p.access.kind === 'paid' ? p.access.priceWei : 0n,
    requiredApprovals: p.validation.kind === 'validators' ? p.validation.approvals : 0,
  };
}

/** The status a row that passed the automatic checks starts in. */
export function initialStatus(v: ValidationPolicy): 'accepted' | 'pending' {
  return v.kind === 'automatic' ? 'accepted' : 'pending';
}

/**
 * Status of a pending row after votes from distinct validators. Approval wins ties in order of
 * arrival only in the sense that the caller counts votes as they stand; each validator has one vote
 * (a later vote from the same validator replaces the earlier one, which the store enforces).
 */
export function decideStatus(v: ValidationPolicy, approvals: number, rejections: number): 'accepted' | 'pending' | 'rejected' {
  if (v.kind === 'automatic') return 'accepted';
  if (approvals >= v.approvals) return 'accepted';
  if (rejections >= (v.rejections ?? v.approvals)) return 'rejected';
  return 'pending';
}

/** Who may do what, given the facts the service looked up (chain or index). */
export interface AccessFacts {
  isOwner: boolean;
  isValidator: boolean;
  /** `DatanetRegistry.hasAccess` (true for everyone on open datanets, the owner, grants and purchases). */
  hasAccess: boolean;
}

export function canContribute(p: Policies, f: AccessFacts): boolean {
  if (p.access.kind === 'approval') return f.isOwner || f.isValidator || f.hasAccess;
  return true;
}

export function canRead(p: Policies, f: AccessFacts): boolean {
  if (p.access.kind === 'open') return true;
  return f.isOwner || f.isValidator || f.hasAccess;
}

/** Usage so far today (UTC) for the quota check. */
export interface QuotaUsage {
  userBytes: number;
  userUploads: number;
  datanetBytes: number;
}

/** Throws a 429 naming the quota when this upload of `bytes` would exceed one. */
export function checkQuota(q: Quota, used: QuotaUsage, bytes: number): void {
  const over = (what: string, usedN: number, limit: number, unit: string) =>
    new OpenLedgerError(`${what} quota exceeded: ${usedN} ${unit} used today, this upload needs ${unit === 'uploads' ? 1 : bytes} more, limit ${limit}`, {
      type: 'rate_limit_error',
      code: 'quota_exceeded',
      hint: 'wait for the next UTC day, or ask the datanet owner to raise the quota',
      details: { quota: what, used: usedN, limit },
    });
  if (used.userUploads + 1 > q.userUploadsPerDay) throw over('per-contributor uploads', used.userUploads, q.userUploadsPerDay, 'uploads');
  if (used.userBytes + bytes > q.userBytesPerDay) throw over('per-contributor bytes', used.userBytes, q.userBytesPerDay, 'bytes');
  if (used.datanetBytes + bytes > q.datanetBytesPerDay) throw over('per-datanet bytes', used.datanetBytes, q.datanetBytesPerDay, 'bytes');
}

/** Start of the UTC day containing `t` (unix seconds), for quota windows. */
export function utcDayStart(tSeconds: number): number {
  return tSeconds - (tSeconds % 86400);
}
