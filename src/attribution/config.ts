/**
 * The attribution config: one typed object, parsed once (zod) at the edge, passed down.
 * Defaults are the ones the evaluation chose (README: "Measured quality").
 */
import { z } from 'zod';
import { METHODS } from './scorers.ts';

export const AttributionConfigSchema = z.object({
  /** Gradient method used for payouts (all three are computed on request). */
  method: z.enum(METHODS).default('trak'),
  /** Share of the payout from gradient influence when both signals exist (the rest: spans). */
  gradientShare: z.number().min(0).max(1).default(0.75),
  /** Largest share of one inference's contributor pool one contributor may get (ppm). */
  capPpm: z.number().int().min(1).max(1_000_000).default(1_000_000),
  /** Rows kept in a record (top positive and top negative each). */
  topRows: z.number().int().min(1).max(100).default(10),
  /** Queue bound: completions beyond it are not queued (attribute them on demand later). */
  maxQueue: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Flag a row after this many inferences placed it among the most negative, with ≥ flagShare of its appearances negative. */
  flagMinEvidence: z.number().int().min(1).default(5),
  flagShare: z.number().min(0.5).max(1).default(0.8),
  /** Share of its thread attribution may use while serving has sequences running or waiting. */
  busyDuty: z.number().min(0.01).max(1).default(0.1),
  /**
   * Nice value added to the attribution thread (Linux keeps nice per thread; threads it starts
   * inherit it): the OS then gives serving's threads the cores first, and attribution the rest.
   */
  nice: z.number().int().min(0).max(19).default(19),
});

export type AttributionConfig = z.infer<typeof AttributionConfigSchema>;

export const DEFAULT_WEIGHTING = AttributionConfigSchema.parse({});

export function parseAttributionConfig(raw: unknown = {}): AttributionConfig {
  return AttributionConfigSchema.parse(raw ?? {});
}
