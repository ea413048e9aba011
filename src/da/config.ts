import { join } from 'node:path';
import { z } from 'zod';
import { LocalBlobStore } from './local.ts';
import { EigenDaProxyBlobStore } from './eigenda.ts';
import type { BlobStore } from './types.ts';

/**
 * DA configuration, parsed once at the edge. `local` (default) keeps blobs under `<dataDir>/blobs`;
 * `eigenda` talks to an EigenDA proxy and keeps its commitment index under `<dataDir>/da-index`.
 */
export const DaConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), dir: z.string().optional(), maxBlobBytes: z.number().int().positive().optional() }),
  z.object({
    kind: z.literal('eigenda'),
    url: z.url(),
    indexDir: z.string().optional(),
    timeoutMs: z.number().int().positive().optional(),
    maxBlobBytes: z.number().int().positive().optional(),
  }),
]);
export type DaConfig = z.infer<typeof DaConfigSchema>;

/** Opens the configured blob store; for EigenDA it checks /health and reads /config first. */
export async function openBlobStore(config: DaConfig | undefined, dataDir: string): Promise<BlobStore> {
  const c = config ?? { kind: 'local' as const };
  if (c.kind === 'local') return new LocalBlobStore({ dir: c.dir ?? join(dataDir, 'blobs'), maxBlobBytes: c.maxBlobBytes });
  return EigenDaProxyBlobStore.connect({
    url: c.url,
    indexDir: c.indexDir ?? join(dataDir, 'da-index'),
    timeoutMs: c.timeoutMs,
    maxBlobBytes: c.maxBlobBytes,
  });
}
