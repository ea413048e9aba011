/**
 * The chain module: the embedded Anvil or an external EVM chain, the contracts' address book,
 * typed contract actions and the event indexer.
 *
 *   const chain = await startChain({ mode: 'embedded', dataDir, chainPort: 8545, mnemonic });
 *   const { datanetId, blockNumber } = await actions.createDatanet(chain, { metadataURI, accessPolicy: AccessPolicy.Open });
 *   const indexer = startIndexer(chain, store.chainIndex);
 *   await indexer.waitFor(blockNumber);            // read-your-writes
 *   await indexer.stop(); await chain.stop();
 */
export { startChain, devAccounts, type StartChainOptions } from './chain.ts';
export type { Chain, ChainConfig } from './types.ts';
export {
  readAddressBook,
  writeAddressBook,
  verifyAddressBook,
  defaultAddressBookPath,
  CONTRACT_NAMES,
  type AddressBook,
  type ContractName,
} from './address-book.ts';
export { defaultDeployParams, checkGovernance, type DeployParams, type DeployHooks } from './deploy.ts';
export { EMBEDDED_ROLE_INDEXES, ROLE_KEY_ENV, embeddedRoles, rolesFromKeys, roleAddresses, type NodeRoles, type RoleName } from './roles.ts';
export { startIndexer, type IndexedEvent, type IndexerSink, type Indexer, type IndexerOptions, type BlockRef, type IndexedContract } from './indexer.ts';
export { presets, localChain, openledgerMainnet, openledgerTestnet, presetForChainId, type ChainPreset, type PresetName } from './presets.ts';
export { toChainError, revertErrorType, jsonSafe } from './errors.ts';
export { sendContractTx, readContract, type ContractCall } from './tx.ts';
export { artifacts, nodeContracts } from './contracts.ts';
export { anvilBinary, portInUse } from './anvil.ts';
export type { NodePublicClient, NodeWalletClient } from './clients.ts';
export * as actions from './actions/index.ts';
