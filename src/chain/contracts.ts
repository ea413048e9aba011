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
};

/** All six contracts of the address book with their ABIs. */
export function nodeContracts(chain: Chain): IndexedContract[] {
  return contractNames.map((name) => ({ name, address: chain.addresses.contracts[name], abi: artifacts[name].abi }));
}
