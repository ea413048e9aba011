/**
 * Size limits for uploads and rows. Defaults follow OpenLedger's documented limits where there are
 * some (≤ 5 MB per submission in the app, 10 MB/user/day): we accept up to 10 MiB per upload so
 * that one upload can use a whole day's quota.
 */
export interface UploadLimits {
  /** Bytes of one uploaded file or JSON body (413 above). */
  maxUploadBytes: number;
  /** Rows in one upload. */
  maxRows: number;
  /** UTF-8 bytes of one row's canonical JSON (longer rows are rejected, not the upload). */
  maxRowBytes: number;
  /** Text extracted from a .pdf or .docx, and the declared uncompressed size of a .docx. */
  maxExtractedBytes: number;
  /** Entries in a .docx zip. */
  maxZipEntries: number;
  /** Uncompressed/compressed ratio above which a large zip entry is treated as a bomb. */
  maxZipRatio: number;
  /** Pages read from a .pdf. */
  maxPdfPages: number;
}

export const DEFAULT_LIMITS: UploadLimits = {
  maxUploadBytes: 10 * 1024 * 1024,
  maxRows: 100_000,
  maxRowBytes: 64 * 1024,
  maxExtractedBytes: 32 * 1024 * 1024,
  maxZipEntries: 2_000,
  maxZipRatio: 200,
  maxPdfPages: 1_000,
};
