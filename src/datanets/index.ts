/**
 * Datanets: curated, versioned, provable domain data. This index is the module's public surface;
 * service.ts (store + chain + DA) builds on the pure pieces below.
 */
export { FORMATS, type DataFormat, type RowData, ROW_SCHEMAS, CSV_COLUMNS, canonicalRow, rowText } from './formats.ts';
export { canonicalJson, rowHash, normalizeText, dedupKey } from './hashing.ts';
export { DEFAULT_LIMITS, type UploadLimits } from './limits.ts';
export { parseFile, fileKindOf, decodeUtf8, firstInvalidUtf8, assertLooksLikeText, type ParsedRecord, type FileKind } from './parse/index.ts';
export { prepareFile, prepareRows, formatHint, type PreparedUpload } from './upload.ts';
export { validateRecords, buildReport, garbageReason, emptyExisting, type CheckedRow, type ExistingRows, type UploadReport, type Reason, type RejectCode } from './validate.ts';
export { minhash, shingles, jaccard, estimateJaccard, LshIndex, DEFAULT_MINHASH, signatureToBytes, signatureFromBytes, type MinHashParams } from './minhash.ts';
export { VersionTree, verifyRowProof, versionLeafHash, uploadRoot, uploadProof, verifyUploadProof, VERSION_LEAF, type VersionLeaf, type RowProof } from './merkle.ts';
export {
  CONTRIBUTION_TYPES,
  contributionDomain,
  contributionTypedData,
  contributionTypedDataJson,
  signContribution,
  verifyContribution,
  type Contribution,
  type ContributionDomainInput,
} from './signature.ts';
export {
  PoliciesSchema,
  AccessPolicySchema,
  ValidationPolicySchema,
  QuotaSchema,
  chainPolicy,
  initialStatus,
  decideStatus,
  canContribute,
  canRead,
  checkQuota,
  utcDayStart,
  type Policies,
  type AccessPolicy,
  type ValidationPolicy,
  type Quota,
  type QuotaUsage,
  type AccessFacts,
} from './policy.ts';
export { leaderboard, type LeaderboardEntry, type ContributorCounts } from './leaderboard.ts';
export { splitByRows } from './split.ts';
export { snapshotJsonl, parseSnapshot, exportJsonl, type VersionRow } from './snapshot.ts';
export {
  DatanetService,
  CreateDatanetInput,
  type DatanetServiceDeps,
  type ContributionSource,
  type ContributeInput,
  type DatanetView,
  type RowView,
  type VersionView,
  type ProofView,
} from './service.ts';
export { DatanetRepo } from './repo.ts';
