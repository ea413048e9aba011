/**
 * First-start deployment (contracts/README.md gives the order, constructors and roles):
 *
 *   OpenToken(operator)                       — skipped when a payment ERC-20 is configured
 *   DatanetRegistry(operator, token)
 *   ModelRegistry(operator, datanetRegistry)
 *   RewardsDistributor(operator, token, activationDelay)
 *   InferenceEscrow(operator, token, rewardsDistributor, withdrawalDelay)
 *   Staking(operator, token, treasury, unbondingDelay)
 *   grantRole: OPERATOR (both registries), SETTLER (escrow), ROOT_SUBMITTER (rewards), SLASHER (staking)
 *   mint OPEN to the dev accounts (embedded only)
 *   verify: code at every address, every role held
 *
 * Only after all of that succeeds does the caller write the address book, so a deploy that fails
 * half-way leaves contracts nobody points at (harmless) and no book that points at nothing.
 */
import { BaseError, getAddress, type Address, type Hash, type Hex } from 'viem';
import { OpenLedgerError } from '../util/errors.ts';
import { Roles, type ContractName } from '../contracts/index.ts';
import { makeAddressBook, type AddressBook } from './address-book.ts';
import type { NodePublicClient, NodeWalletClient } from './clients.ts';
import { artifacts } from './contracts.ts';
import { toChainError } from './errors.ts';

export interface DeployParams {
  /** RewardsDistributor: seconds between submitRoot and the root becoming claimable. */
  activationDelay: bigint;
  /** InferenceEscrow: seconds between requestWithdrawal and withdraw. */
  withdrawalDelay: bigint;
  /** Staking: seconds between unbond and withdraw. */
  unbondingDelay: bigint;
  /** Staking: where slashed stake goes; default the operator. */
  treasury?: Address;
}

/** Local: short delays so the whole flow can be exercised in minutes. Real chains: time to react. */
export const defaultDeployParams = (embedded: boolean): DeployParams =>
  embedded
    ? { activationDelay: 60n, withdrawalDelay: 3_600n, unbondingDelay: 7n * 86_400n }
    : { activationDelay: 3_600n, withdrawalDelay: 86_400n, unbondingDelay: 7n * 86_400n };

export interface DeployHooks {
  /** Called before each step ('deploy:OpenToken', 'role:SETTLER_ROLE', 'mint', 'verify'); may throw. */
  beforeStep?: (step: string) => void | Promise<void>;
}

export interface DeployContext {
  publicClient: NodePublicClient;
  /** Signs as the operator, who becomes admin of every contract. */
  wallet: NodeWalletClient;
  embedded: boolean;
  /** Existing payment ERC-20 (wrapped OPEN); OpenToken is not deployed then. */
  openTokenAddress?: Address;
  mintTo: Address[];
  mintWei: bigint;
  params?: Partial<DeployParams>;
  hooks?: DeployHooks;
}

const ROLE_WIRING: [ContractName, keyof typeof Roles][] = [
  ['DatanetRegistry', 'OPERATOR_ROLE'],
  ['ModelRegistry', 'OPERATOR_ROLE'],
  ['InferenceEscrow', 'SETTLER_ROLE'],
  ['RewardsDistributor', 'ROOT_SUBMITTER_ROLE'],
  ['Staking', 'SLASHER_ROLE'],
];

export async function deployContracts(ctx: DeployContext): Promise<AddressBook> {
  try {
    return await deploySteps(ctx);
  } catch (err) {
    throw err instanceof OpenLedgerError && err.code === 'deploy_failed' ? err : wrap(err, 'deploying the contracts');
  }
}

async function deploySteps(ctx: DeployContext): Promise<AddressBook> {
  const { publicClient, wallet } = ctx;
  const operator = wallet.account.address;
  const params: DeployParams = { ...defaultDeployParams(ctx.embedded), ...ctx.params };
  const step = async (name: string) => ctx.hooks?.beforeStep?.(name);
  let firstBlock: bigint | null = null;

  const mined = async (hash: Hash, what: string) => {
    const r = await publicClient.waitForTransactionReceipt({ hash, timeout: 180_000 });
    if (r.status !== 'success') {
      throw new OpenLedgerError(`deployment step ${what} reverted (tx ${hash})`, {
        type: 'chain_error', code: 'deploy_failed', hint: 'check the operator account has gas and retry; no address book was written',
      });
    }
    if (firstBlock === null) firstBlock = r.blockNumber;
    return r;
  };

  const deploy = async (name: ContractName, args: readonly unknown[]): Promise<Address> => {
    await step(`deploy:${name}`);
    try {
      const hash = await wallet.deployContract({ abi: artifacts[name].abi, bytecode: artifacts[name].bytecode, args } as never);
      const r = await mined(hash, `deploy ${name}`);
      if (!r.contractAddress) throw new Error(`no contract address in the receipt of ${hash}`);
      return getAddress(r.contractAddress);
    } catch (err) {
      throw wrap(err, `deploying ${name}`);
    }
  };

  const send = async (name: ContractName, address: Address, functionName: string, args: readonly unknown[]) => {
    try {
      const hash = await wallet.writeContract({ address, abi: artifacts[name].abi, functionName, args } as never);
      await mined(hash, `${name}.${functionName}`);
    } catch (err) {
      throw wrap(err, `${name}.${functionName}`);
    }
  };

  const genesis = await publicClient.getBlock({ blockNumber: 0n });
  const chainId = await publicClient.getChainId();

  const a = {} as Record<ContractName, Address>;
  const externalToken = ctx.openTokenAddress !== undefined;
  if (externalToken) {
    await step('check:OpenToken');
    const code = await publicClient.getCode({ address: ctx.openTokenAddress! });
    if (!code || code === '0x') {
      throw new OpenLedgerError(`the configured payment token ${ctx.openTokenAddress} has no contract code on chain ${chainId}`, {
        type: 'config_error', param: 'openTokenAddress', code: 'open_token_no_code', hint: 'pass the wrapped-OPEN ERC-20 address of this chain',
      });
    }
    a.OpenToken = ctx.openTokenAddress!;
  } else {
    a.OpenToken = await deploy('OpenToken', [operator]);
  }
  a.DatanetRegistry = await deploy('DatanetRegistry', [operator, a.OpenToken]);
  a.ModelRegistry = await deploy('ModelRegistry', [operator, a.DatanetRegistry]);
  a.RewardsDistributor = await deploy('RewardsDistributor', [operator, a.OpenToken, params.activationDelay]);
  a.InferenceEscrow = await deploy('InferenceEscrow', [operator, a.OpenToken, a.RewardsDistributor, params.withdrawalDelay]);
  a.Staking = await deploy('Staking', [operator, a.OpenToken, params.treasury ?? operator, params.unbondingDelay]);

  for (const [name, role] of ROLE_WIRING) {
    await step(`role:${name}:${role}`);
    await send(name, a[name], 'grantRole', [Roles[role], operator]);
  }

  if (!externalToken && ctx.mintWei > 0n) {
    for (const to of ctx.mintTo) {
      await step(`mint:${to}`);
      await send('OpenToken', a.OpenToken, 'mint', [to, ctx.mintWei]);
    }
  }

  await step('verify');
  for (const name of Object.keys(a) as ContractName[]) {
    const code = await publicClient.getCode({ address: a[name] });
    if (!code || code === '0x') {
      throw new OpenLedgerError(`deployment check failed: no code at ${name} ${a[name]}`, {
        type: 'chain_error', code: 'deploy_failed', hint: 'the chain may have reorganised during deployment; start again to redeploy',
      });
    }
  }
  for (const [name, role] of ROLE_WIRING) {
    const ok = await publicClient.readContract({
      address: a[name], abi: artifacts[name].abi, functionName: 'hasRole', args: [Roles[role], operator],
    } as never);
    if (ok !== true) {
      throw new OpenLedgerError(`deployment check failed: operator lacks ${role} on ${name}`, {
        type: 'chain_error', code: 'deploy_failed', hint: 'start again to redeploy',
      });
    }
  }

  return makeAddressBook({
    chainId,
    genesisHash: genesis.hash as Hex,
    deploymentBlock: firstBlock ?? (await publicClient.getBlockNumber()),
    deployer: operator,
    externalToken,
    contracts: a,
  });
}

function wrap(err: unknown, what: string): OpenLedgerError {
  const e = toChainError(err, what);
  if (e.type === 'config_error') return e;
  const why = err instanceof BaseError || err instanceof OpenLedgerError ? e.message : err instanceof Error ? err.message : String(err);
  return new OpenLedgerError(`deployment failed while ${what}: ${why}`, {
    type: 'chain_error',
    code: 'deploy_failed',
    hint: `${e.hint ? `${e.hint}; ` : ''}no address book was written, so the next start deploys again`,
    cause: err,
  });
}
