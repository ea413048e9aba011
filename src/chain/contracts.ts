/** ABI and bytecode of each contract by name, and the (name, address, abi) list the indexer watches. */
import type { Abi, Hex } from 'viem';
import {
  contractNames,
  datanetRegistryAbi,
  datanetRegistryBytecode,
  inferenceEscrowAbi,
  inferenceEscrowBytecode,
  modelRegistryAbi,
  modelRegistryBytecode,
  openGovernorAbi,
  openGovernorBytecode,
  openTimelockAbi,
  openTimelockBytecode,
  openTokenAbi,
  openTokenBytecode,
  rewardsDistributorAbi,
  rewardsDistributorBytecode,
  stakingAbi,
  stakingBytecode,
  type ContractName,
} from '../contracts/index.ts';
import type { Chain, IndexedContract } from './types.ts';

export const artifacts: Record<ContractName, { abi: Abi; bytecode: Hex }> = {
  OpenToken: { abi: openTokenAbi as Abi, bytecode: openTokenBytecode as Hex },
  DatanetRegistry: { abi: datanetRegistryAbi as Abi, bytecode: datanetRegistryBytecode as Hex },
  ModelRegistry: { abi: modelRegistryAbi as Abi, bytecode: modelRegistryBytecode as Hex },
  RewardsDistributor: { abi: rewardsDistributorAbi as Abi, bytecode: rewardsDistributorBytecode as Hex },
  InferenceEscrow: { abi: inferenceEscrowAbi as Abi, bytecode: inferenceEscrowBytecode as Hex },
  Staking: { abi: stakingAbi as Abi, bytecode: stakingBytecode as Hex },
  OpenTimelock: { abi: openTimelockAbi as Abi, bytecode: openTimelockBytecode as Hex },
  // The governor executes through the timelock: its ABI carries the timelock's custom errors too, so a revert
  // that comes from there (e.g. TimelockUnexpectedOperationState before the delay) decodes with its name.
  OpenGovernor: { abi: withErrorsOf(openGovernorAbi as Abi, openTimelockAbi as Abi), bytecode: openGovernorBytecode as Hex },
};

function withErrorsOf(abi: Abi, other: Abi): Abi {
  const names = new Set(abi.filter((x) => x.type === 'error').map((x) => (x as { name: string }).name));
  return [...abi, ...other.filter((x) => x.type === 'error' && !names.has((x as { name: string }).name))];
}

/** All contracts of the address book with their ABIs. */
export function nodeContracts(chain: Chain): IndexedContract[] {
  return contractNames.map((name) => ({ name, address: chain.addresses.contracts[name], abi: artifacts[name].abi }));
}
