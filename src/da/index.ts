export type { BlobStore, BlobRef, Hex } from './types.ts';
export { contentId, isContentId } from './hash.ts';
export { LocalBlobStore, type LocalBlobStoreConfig } from './local.ts';
export { EigenDaProxyBlobStore, type EigenDaProxyConfig, type EigenDaProxyInfo } from './eigenda.ts';
export { CommitmentIndex } from './commitment-index.ts';
export { DaConfigSchema, type DaConfig, openBlobStore } from './config.ts';
