/**
 * The rewards module's config (`rewards` in the node config): epoch length, fee shares, the price
 * of base models, where the protocol's share goes. Parsed once at the edge with zod.
 */
import { z } from 'zod';

const wei = z.union([z.string().regex(/^\d{1,78}$/, 'must be a non-negative integer (wei, decimal)'), z.number().int().min(0).transform(String)]);
const ppm = z.number().int().min(0).max(1_000_000);

/** Parts per million of every fee; they must sum to 1,000,000. */
export const sharesSchema = z.object({
  protocol: ppm,
  owner: ppm,
  validators: ppm,
  contributors: ppm,
}).refine((s) => s.protocol + s.owner + s.validators + s.contributors === 1_000_000, {
  message: 'shares (protocol + owner + validators + contributors) must sum to 1000000 parts per million',
});
export type Shares = z.infer<typeof sharesSchema>;

export const DEFAULT_SHARES: Shares = { protocol: 100_000, owner: 300_000, validators: 100_000, contributors: 500_000 };

/** Test-only crash points: the node kills itself (SIGKILL) right there, to prove a restart finishes the epoch once. */
export const CRASH_POINTS = ['after-settle-tx', 'after-settle-store', 'after-root-tx', 'after-root-store'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

export const rewardsConfigSchema = z.object({
  /** Charge completions and settle epochs (false: serving is free, nothing is recorded). */
  enabled: z.boolean().default(true),
  /** Epoch length in seconds; unset (the default): RewardsDistributor.epochLength on chain (governed; 10 min embedded, 1 h on real chains at deployment). */
  epochSeconds: z.number().int().min(1).max(30 * 86_400).optional(),
  /**
   * Fee split in parts per million. Unset (the default): RewardsDistributor.feeShares on chain,
   * which governance changes through the timelock (DEFAULT_SHARES if the chain has none).
   */
  shares: sharesSchema.optional(),
  /** Price of base models (no ModelRegistry entry): OPEN wei per 1k tokens; 0 = free. */
  basePrice: z.object({ per1kInput: wei.default('0'), per1kOutput: wei.default('0') }).prefault({}),
  /** Who earns the protocol share; default the chain's treasury (or the operator). */
  treasury: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address').optional(),
  /** How long an escrow balance read is reused for admission (ms). */
  balanceCacheMs: z.number().int().min(0).max(60_000).default(2_000),
  /** How often the epoch loop looks for work (ms). */
  tickMs: z.number().int().min(10).max(60_000).default(1_000),
  /** Tests only: SIGKILL the process at this point of an epoch close. */
  crashAt: z.enum(CRASH_POINTS).optional(),
});
export type RewardsConfig = z.infer<typeof rewardsConfigSchema>;
export type RewardsConfigInput = z.input<typeof rewardsConfigSchema>;

export const parseRewardsConfig = (input: RewardsConfigInput = {}): RewardsConfig => rewardsConfigSchema.parse(input);
