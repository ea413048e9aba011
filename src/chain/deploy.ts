/**
 * First-start deployment (contracts/README.md gives the order, constructors and roles). The deployer
 * (the relayer key) wires everything and then gives up every power it had:
 *
 *   OpenToken(deployer)                                — skipped when a payment ERC-20 is configured
 *   OpenTimelock(timelockDelay, [], [anyone], deployer)
 *   OpenGovernor(token, timelock, votingDelay, votingPeriod, proposalThreshold, quorumPercent)
 *   DatanetRegistry(deployer, token) · ModelRegistry(deployer, datanets)
 *   RewardsDistributor(deployer, token, activationDelay, minActivationDelay)
 *   InferenceEscrow(deployer, token, rewards, withdrawalDelay)
 *   Staking(deployer, token, treasury = timelock, unbondingDelay, challengeWindow, maxSlashBps)
 *   wire: datanets.setRewardsPool/setStaking; rewards.setEpochLength; timelock PROPOSER+CANCELLER → governor;
 *         OPERATOR → relayer (registries), SETTLER → settler, ROOT_SUBMITTER → rootSubmitter,
 *         SLASHER → slasher, GUARDIAN → guardian (optional)
 *   embedded only: ETH to the role keys, OPEN to the dev accounts (votes count once an account delegates:
 *                  `openledger gov delegate`; not done here, so plain transfers carry no vote-checkpoint cost)
 *   hand over: DEFAULT_ADMIN_ROLE → timelock and renounced by the deployer on every contract; OPEN ownership →
 *              timelock; the deployer renounces the timelock's own admin role
 *   verify: code at every address, every role held by its key, no admin left with the deployer
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
import { withGasMargin } from './tx.ts';
import type { RoleName } from './roles.ts';

export interface DeployParams {
  /** RewardsDistributor: seconds between submitRoot and the root becoming claimable. */
  activationDelay: bigint;
  /** RewardsDistributor: floor of activationDelay forever (≥ 60 s); governance cannot go below it. */
  minActivationDelay: bigint;
  /** InferenceEscrow: seconds between requestWithdrawal and withdraw (and how long a lowered authorization's
   *  remainder stays settleable). */
  withdrawalDelay: bigint;
  /** Staking: seconds between unbond and withdraw. */
  unbondingDelay: bigint;
  /** Staking: seconds a proposed slash waits for a veto (must exceed votingDelay + votingPeriod + timelockDelay
   *  for governance to be able to veto in time). */
  challengeWindow: bigint;
  /** Staking: most one slash may take, in basis points of stake + unbonding. */
  maxSlashBps: number;
  /** OpenTimelock: seconds between queue and execute (≥ 2 days by default on real chains). */
  timelockDelay: bigint;
  /** OpenGovernor: seconds from proposal to voting start, and voting length. */
  votingDelay: bigint;
  votingPeriod: bigint;
  /** OpenGovernor: votes (OPEN wei) needed to propose. */
  proposalThreshold: bigint;
  /** OpenGovernor: quorum in percent of the supply. */
  quorumPercent: bigint;
  /** RewardsDistributor.epochLength: the settlement epoch the node uses (must be shorter than withdrawalDelay, so
   *  usage served before a withdrawal request is settled before the payout). */
  epochLength: bigint;
  /** Staking: where slashed stake goes; default the OpenTimelock (governed). */
  treasury?: Address;
  /** Optional key that may only disable pending roots and veto slashes (never move money). */
  guardian?: Address;
}

/** Local: short delays so the whole flow can be exercised in minutes. Real chains: time to react. */
export const defaultDeployParams = (embedded: boolean): DeployParams =>
  embedded
    ? {
        activationDelay: 60n, minActivationDelay: 60n, withdrawalDelay: 3_600n, unbondingDelay: 7n * 86_400n,
        challengeWindow: 3_600n, maxSlashBps: 1_000, timelockDelay: 60n, votingDelay: 1n, votingPeriod: 60n,
        proposalThreshold: 0n, quorumPercent: 4n, epochLength: 600n,
      }
    : {
        activationDelay: 3_600n, minActivationDelay: 3_600n, withdrawalDelay: 86_400n, unbondingDelay: 7n * 86_400n,
        challengeWindow: 7n * 86_400n, maxSlashBps: 1_000, timelockDelay: 2n * 86_400n, votingDelay: 86_400n,
        votingPeriod: 3n * 86_400n, proposalThreshold: 10_000n * 10n ** 18n, quorumPercent: 4n, epochLength: 3_600n,
      };

export interface DeployHooks {
  /** Called before each step ('deploy:OpenToken', 'role:…', 'mint:…', 'handover:…', 'verify'); may throw. */
  beforeStep?: (step: string) => void | Promise<void>;
}

export interface DeployContext {
  publicClient: NodePublicClient;
  /** Signs as the deployer (the relayer key): admin while wiring, nothing afterwards. */
  wallet: NodeWalletClient;
  /** Addresses of the node's role keys (relayer = the deployer). */
  roles: Record<RoleName, Address>;
  embedded: boolean;
  /** Existing payment ERC-20 (wrapped OPEN); OpenToken is not deployed then (it must implement IVotes to vote). */
  openTokenAddress?: Address;
  mintTo: Address[];
  mintWei: bigint;
  /** Embedded: ETH sent to each role key for gas. */
  gasFunding?: bigint;
  params?: Partial<DeployParams>;
  hooks?: DeployHooks;
}

/** Which role each key holds on which contract. */
const ROLE_WIRING: [ContractName, keyof typeof Roles, RoleName][] = [
  ['DatanetRegistry', 'OPERATOR_ROLE', 'relayer'],
  ['ModelRegistry', 'OPERATOR_ROLE', 'relayer'],
  ['InferenceEscrow', 'SETTLER_ROLE', 'settler'],
  ['RewardsDistributor', 'ROOT_SUBMITTER_ROLE', 'rootSubmitter'],
  ['Staking', 'SLASHER_ROLE', 'slasher'],
];
/** Contracts administered by the timelock (AccessControl DEFAULT_ADMIN_ROLE). */
const ADMINISTERED: ContractName[] = ['DatanetRegistry', 'ModelRegistry', 'RewardsDistributor', 'InferenceEscrow', 'Staking'];

export async function deployContracts(ctx: DeployContext): Promise<AddressBook> {
  try {
    return await deploySteps(ctx);
  } catch (err) {
    throw err instanceof OpenLedgerError && err.code === 'deploy_failed' ? err : wrap(err, 'deploying the contracts');
  }
}

async function deploySteps(ctx: DeployContext): Promise<AddressBook> {
  const { publicClient, wallet } = ctx;
  const deployer = wallet.account.address;
  const params: DeployParams = { ...defaultDeployParams(ctx.embedded), ...ctx.params };
  const step = async (name: string) => ctx.hooks?.beforeStep?.(name);
  let firstBlock: bigint | null = null;
  // Governance must be able to veto a slash in time: propose → vote → queue → timelock inside the window.
  if (params.withdrawalDelay <= params.epochLength) {
    throw new OpenLedgerError(
      `the escrow withdrawal delay (${params.withdrawalDelay} s) must be longer than the settlement epoch (${params.epochLength} s), or a payer could withdraw usage before it is settled`,
      { type: 'config_error', param: 'withdrawalDelay', code: 'withdrawal_delay_too_short', hint: 'raise the withdrawal delay or shorten the epoch' },
    );
  }
  const vetoTime = params.votingDelay + params.votingPeriod + params.timelockDelay;
  if (params.challengeWindow <= vetoTime) {
    throw new OpenLedgerError(
      `the slash challenge window (${params.challengeWindow} s) must be longer than voting delay + voting period + timelock delay (${vetoTime} s), or governance could never veto a slash in time`,
      { type: 'config_error', param: 'challengeWindow', code: 'challenge_window_too_short', hint: 'raise --challenge-window or shorten the voting period / timelock delay' },
    );
  }

  const mined = async (hash: Hash, what: string) => {
    const r = await publicClient.waitForTransactionReceipt({ hash, timeout: 180_000 });
    if (r.status !== 'success') {
      throw new OpenLedgerError(`deployment step ${what} reverted (tx ${hash})`, {
        type: 'chain_error', code: 'deploy_failed', hint: 'check the deployer account has gas and retry; no address book was written',
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

  const send = async (name: ContractName, address: Address, functionName: string, args: readonly unknown[], w: NodeWalletClient = wallet) => {
    try {
      // Simulate first: a refusal then carries the contract's custom error instead of a bare "reverted".
      const { request } = await publicClient.simulateContract({ account: w.account, address, abi: artifacts[name].abi, functionName, args } as never);
      const gas = withGasMargin(await publicClient.estimateContractGas({ account: w.account, address, abi: artifacts[name].abi, functionName, args } as never));
      const hash = await w.writeContract({ ...(request as object), gas } as never);
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
    a.OpenToken = await deploy('OpenToken', [deployer]);
  }
  a.OpenTimelock = await deploy('OpenTimelock', [params.timelockDelay, [], ['0x0000000000000000000000000000000000000000'], deployer]);
  a.OpenGovernor = await deploy('OpenGovernor', [
    a.OpenToken, a.OpenTimelock, Number(params.votingDelay), Number(params.votingPeriod), params.proposalThreshold, params.quorumPercent,
  ]);
  const treasury = params.treasury ?? a.OpenTimelock;
  a.DatanetRegistry = await deploy('DatanetRegistry', [deployer, a.OpenToken]);
  a.ModelRegistry = await deploy('ModelRegistry', [deployer, a.DatanetRegistry]);
  a.RewardsDistributor = await deploy('RewardsDistributor', [deployer, a.OpenToken, params.activationDelay, params.minActivationDelay]);
  a.InferenceEscrow = await deploy('InferenceEscrow', [deployer, a.OpenToken, a.RewardsDistributor, params.withdrawalDelay]);
  a.Staking = await deploy('Staking', [deployer, a.OpenToken, treasury, params.unbondingDelay, params.challengeWindow, params.maxSlashBps]);

  await step('wire:DatanetRegistry');
  await send('DatanetRegistry', a.DatanetRegistry, 'setRewardsPool', [a.RewardsDistributor]);
  await send('DatanetRegistry', a.DatanetRegistry, 'setStaking', [a.Staking]);
  await step('wire:RewardsDistributor');
  await send('RewardsDistributor', a.RewardsDistributor, 'setEpochLength', [params.epochLength]);
  await step('wire:OpenTimelock');
  await send('OpenTimelock', a.OpenTimelock, 'grantRole', [Roles.PROPOSER_ROLE, a.OpenGovernor]);
  await send('OpenTimelock', a.OpenTimelock, 'grantRole', [Roles.CANCELLER_ROLE, a.OpenGovernor]);
  for (const [name, role, holder] of ROLE_WIRING) {
    await step(`role:${name}:${role}`);
    await send(name, a[name], 'grantRole', [Roles[role], ctx.roles[holder]]);
  }
  if (params.guardian) {
    await step('role:guardian');
    await send('RewardsDistributor', a.RewardsDistributor, 'grantRole', [Roles.GUARDIAN_ROLE, params.guardian]);
    await send('Staking', a.Staking, 'grantRole', [Roles.GUARDIAN_ROLE, params.guardian]);
  }

  if (ctx.gasFunding && ctx.gasFunding > 0n) {
    for (const role of ['settler', 'rootSubmitter', 'slasher'] as const) {
      await step(`gas:${role}`);
      try {
        await mined(await wallet.sendTransaction({ to: ctx.roles[role], value: ctx.gasFunding } as never), `gas for the ${role}`);
      } catch (err) {
        throw wrap(err, `sending gas to the ${role}`);
      }
    }
  }

  if (!externalToken && ctx.mintWei > 0n) {
    for (const to of ctx.mintTo) {
      await step(`mint:${to}`);
      await send('OpenToken', a.OpenToken, 'mint', [to, ctx.mintWei]);
    }
  }

  // Hand every power to the timelock; the deployer keeps none.
  for (const name of ADMINISTERED) {
    await step(`handover:${name}`);
    await send(name, a[name], 'grantRole', [Roles.DEFAULT_ADMIN_ROLE, a.OpenTimelock]);
    await send(name, a[name], 'renounceRole', [Roles.DEFAULT_ADMIN_ROLE, deployer]);
  }
  if (!externalToken) {
    await step('handover:OpenToken');
    await send('OpenToken', a.OpenToken, 'transferOwnership', [a.OpenTimelock]);
  }
  await step('handover:OpenTimelock');
  await send('OpenTimelock', a.OpenTimelock, 'renounceRole', [Roles.DEFAULT_ADMIN_ROLE, deployer]);

  await step('verify');
  for (const name of Object.keys(a) as ContractName[]) {
    const code = await publicClient.getCode({ address: a[name] });
    if (!code || code === '0x') {
      throw new OpenLedgerError(`deployment check failed: no code at ${name} ${a[name]}`, {
        type: 'chain_error', code: 'deploy_failed', hint: 'the chain may have reorganised during deployment; start again to redeploy',
      });
    }
  }
  const book = makeAddressBook({
    chainId,
    genesisHash: genesis.hash as Hex,
    deploymentBlock: firstBlock ?? (await publicClient.getBlockNumber()),
    deployer,
    externalToken,
    contracts: a,
    treasury,
    timelock: a.OpenTimelock,
    roles: { ...ctx.roles },
  });
  const problems = await checkGovernance(publicClient, book);
  if (problems.length) {
    throw new OpenLedgerError(`deployment check failed: ${problems.join('; ')}`, {
      type: 'chain_error', code: 'deploy_failed', hint: 'start again to redeploy', details: { problems },
    });
  }
  return book;
}

/**
 * What must hold on chain for the book's contracts to be governed as designed: the timelock is admin of every
 * contract and of itself, the governor is its proposer, each role key holds its role, and neither the deployer
 * nor any role key is admin anywhere. Returns the problems found (empty = all good).
 */
export async function checkGovernance(publicClient: NodePublicClient, book: AddressBook): Promise<string[]> {
  const hasRole = async (name: ContractName, role: Hex, who: Address) =>
    (await publicClient.readContract({ address: book.contracts[name], abi: artifacts[name].abi, functionName: 'hasRole', args: [role, who] } as never)) === true;
  const keys = [...new Set<Address>([book.deployer, ...Object.values(book.roles)])];
  // All reads at once: each check resolves to a problem text or null.
  const checks: Promise<string | null>[] = [];
  for (const name of [...ADMINISTERED, 'OpenTimelock'] as ContractName[]) {
    checks.push(hasRole(name, Roles.DEFAULT_ADMIN_ROLE, book.timelock).then((ok) => (ok ? null : `the timelock is not admin of ${name}`)));
    for (const k of keys) checks.push(hasRole(name, Roles.DEFAULT_ADMIN_ROLE, k).then((bad) => (bad ? `${k} is still admin of ${name}` : null)));
  }
  checks.push(hasRole('OpenTimelock', Roles.PROPOSER_ROLE, book.contracts.OpenGovernor).then((ok) => (ok ? null : 'the governor is not the timelock proposer')));
  for (const [name, role, holder] of ROLE_WIRING) {
    checks.push(hasRole(name, Roles[role], book.roles[holder]).then((ok) => (ok ? null : `the ${holder} ${book.roles[holder]} lacks ${role} on ${name}`)));
  }
  return (await Promise.all(checks)).filter((p): p is string => p !== null);
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
