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
  /** Staking: proposeSlash(account, amount, evidenceHash, daCommitment) — executes only after the challenge window. */
  SLASHER_ROLE: '0x12b42e8a160f6064dc959c6f251e3af0750ad213dbecf573b4710d67d6c28e39',
  /** RewardsDistributor.disableRoot, Staking.vetoSlash: stops money moving, never moves it (optional). */
  GUARDIAN_ROLE: '0x55435dd261a4b9b3364963f7738a7a662ad9c84396d64be3365284bb7f0a5041',
  /** OpenTimelock: schedule (held by the OpenGovernor only). */
  PROPOSER_ROLE: '0xb09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1',
  /** OpenTimelock: execute a ready operation (address(0) = anyone). */
  EXECUTOR_ROLE: '0xd8aa0f3194971a2a116679f7c2090f6939c8d4e01a2a8d7e41d55e5351469e63',
  /** OpenTimelock: cancel a scheduled operation (the OpenGovernor). */
  CANCELLER_ROLE: '0xfd643c72710c63c0180259aba6b2d05451e3591a24e58b62239378085726f783',
} as const satisfies Record<string, `0x${string}`>;
export type RoleName = keyof typeof Roles;

/**
 * The contract names. Deployment order (src/chain/deploy.ts): OpenToken, OpenTimelock, OpenGovernor, then the
 * registries, RewardsDistributor, InferenceEscrow and Staking (each constructor only needs those before it).
 */
export const contractNames = [
  'OpenToken',
  'DatanetRegistry',
  'ModelRegistry',
  'RewardsDistributor',
  'InferenceEscrow',
  'Staking',
  'OpenTimelock',
  'OpenGovernor',
] as const;
export type ContractName = (typeof contractNames)[number];
