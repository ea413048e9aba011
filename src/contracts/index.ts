/**
 * The contracts module: ABIs and creation bytecode of the OpenLedger contracts (generated from contracts/src by
 * scripts/build-contracts.mjs, which `npm start` / `npm test` run first), plus the enum values and role ids the
 * TypeScript side needs to call them. See contracts/README.md for constructor arguments and deployment order.
 */
export * from './generated/index.ts';

/** DatanetRegistry.AccessPolicy (uint8 on chain). */
export const AccessPolicy = { Open: 0, Approval: 1, Paid: 2 } as const;
export type AccessPolicy = (typeof AccessPolicy)[keyof typeof AccessPolicy];
/** Names by on-chain value, e.g. for decoding events: accessPolicyName[1] === 'Approval'. */
export const accessPolicyName = ['Open', 'Approval', 'Paid'] as const;

/**
 * Role ids (keccak256 of the role name), as AccessControl stores them. DEFAULT_ADMIN_ROLE is bytes32(0).
 * Pinned by src/contracts/merkle.test.ts against the deployed contracts.
 */
export const Roles = {
  DEFAULT_ADMIN_ROLE: '0x0000000000000000000000000000000000000000000000000000000000000000',
  /** DatanetRegistry, ModelRegistry: relay mutating calls for an owner (createDatanetFor, registerModelFor...). */
  OPERATOR_ROLE: '0x97667070c54ef182b0f5858b034beac1b6f3089aa2d3188bb1e8929f4fa9b929',
  /** InferenceEscrow: settle(epoch, accounts, amounts, recordsRoot). */
  SETTLER_ROLE: '0x6666bf5bfee463d10a7fc50448047f8a53b7762d7e28fbc5c643182785f3fd3f',
  /** RewardsDistributor: submitRoot / disableRoot. */
  ROOT_SUBMITTER_ROLE: '0x2221c25b707f0440e3d6954c3eb7f87ff80a2f9a9adc37590767aa7eb3e2289f',
  /** Staking: slash(account, amount, reason). */
  SLASHER_ROLE: '0x12b42e8a160f6064dc959c6f251e3af0750ad213dbecf573b4710d67d6c28e39',
} as const satisfies Record<string, `0x${string}`>;
export type RoleName = keyof typeof Roles;

/** The contract names, in deployment order (each one's constructor only needs those before it). */
export const contractNames = [
  'OpenToken',
  'DatanetRegistry',
  'ModelRegistry',
  'RewardsDistributor',
  'InferenceEscrow',
  'Staking',
] as const;
export type ContractName = (typeof contractNames)[number];
