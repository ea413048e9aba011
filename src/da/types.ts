/**
 * The data-availability layer: where raw uploads, version snapshots and epoch records live.
 *
 * Every blob has two names:
 * - `id`: our own content hash, `0x` + sha256(bytes) (32 bytes hex). Deterministic, so the same bytes
 *   always get the same id and any reader can check what it got.
 * - `commitment`: what the backend hands back and needs to find the blob again, as `0x` hex. For the
 *   local store it is the id itself; for EigenDA it is the proxy's certificate, which is random per put
 *   (the memstore and the real network both mint a new cert for the same payload), so it must never be
 *   used as a content id. On chain we record the commitment (that is what a third party needs to fetch
 *   the blob from the DA network) and we keep the id beside it (that is what lets them check it).
 */
export type Hex = `0x${string}`;

export interface BlobRef {
  /** `0x` + sha256 of the bytes. */
  id: Hex;
  /** Backend commitment, `0x` hex (local: equal to `id`; EigenDA: the certificate bytes). */
  commitment: Hex;
  /** Byte length of the blob. */
  size: number;
}

export interface BlobStore {
  /** Short backend name for logs and /v1/status: `local`, `eigenda`. */
  readonly kind: string;
  /** Largest blob `put` accepts, in bytes. */
  readonly maxBlobBytes: number;
  /** Stores the bytes and returns both names. Idempotent for the local store. */
  put(bytes: Uint8Array): Promise<BlobRef>;
  /**
   * Reads a blob by id or by commitment and checks that its sha256 matches the id we hold for it
   * (throws `da_integrity_error` if not): a backend that returns other bytes is caught here.
   */
  get(idOrCommitment: Hex): Promise<Uint8Array>;
  /** True when the blob can be read back (by id or commitment). */
  has(idOrCommitment: Hex): Promise<boolean>;
}
