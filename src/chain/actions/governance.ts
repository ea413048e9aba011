/**
 * OpenGovernor + OpenTimelock: OPEN holders delegate votes, propose actions on the node's contracts, vote, and
 * queue/execute passed proposals through the timelock (the admin of every contract).
 *
 *   delegateVotes → propose({actions, description}) → (votingDelay) → castVote → (votingPeriod) →
 *   queueProposal → (timelock delay) → executeProposal
 *
 * An action is { contract, function, args } on a contract of the address book; `encodeAction` checks it against
 * the ABI and the GOVERNABLE list before anything is sent, so a malformed action never costs a vote.
 */
import { decodeFunctionData, encodeFunctionData, keccak256, stringToHex, type AbiFunction, type Address, type Hex } from 'viem';
import { OpenLedgerError } from '../../util/errors.ts';
import type { ContractName } from '../address-book.ts';
import { artifacts } from '../contracts.ts';
import type { Chain } from '../types.ts';
import { call, eventArgs, read, txResult, type Signer, type TxResult } from './common.ts';

/** What governance may call, per contract: every parameter, role, veto and the timelock's own delay. */
export const GOVERNABLE: Partial<Record<ContractName, readonly string[]>> = {
  RewardsDistributor: ['setActivationDelay', 'setFeeShares', 'setEpochLength', 'disableRoot', 'grantRole', 'revokeRole'],
  InferenceEscrow: ['setWithdrawalDelay', 'setSink', 'grantRole', 'revokeRole'],
  Staking: ['setChallengeWindow', 'setMaxSlashBps', 'setUnbondingDelay', 'setTreasury', 'vetoSlash', 'grantRole', 'revokeRole'],
  DatanetRegistry: ['setOwnerShareBounds', 'setMinValidatorStake', 'setRewardsPool', 'setStaking', 'grantRole', 'revokeRole'],
  ModelRegistry: ['grantRole', 'revokeRole'],
  OpenGovernor: ['setVotingDelay', 'setVotingPeriod', 'setProposalThreshold', 'updateQuorumNumerator'],
  OpenTimelock: ['updateDelay'],
  OpenToken: ['mint'],
};

export interface GovernanceAction {
  contract: ContractName;
  function: string;
  /** Arguments as JSON values: numbers as decimal strings, addresses/bytes as 0x-hex, tuples as objects. */
  args: unknown[];
}

const bad = (message: string, param: string, hint: string) =>
  new OpenLedgerError(message, { type: 'invalid_request_error', param, code: 'malformed_action', hint });

/** Checks an action against the GOVERNABLE list and the ABI and encodes it: { target, calldata }. */
export function encodeAction(chain: Chain, action: GovernanceAction, index = 0): { target: Address; calldata: Hex } {
  const at = `actions[${index}]`;
  const allowed = GOVERNABLE[action.contract as ContractName];
  if (!allowed) {
    throw bad(`${at}.contract "${String(action.contract)}" is not a governed contract`, `${at}.contract`, `use one of: ${Object.keys(GOVERNABLE).join(', ')}`);
  }
  if (!allowed.includes(action.function)) {
    throw bad(`${at}.function "${String(action.function)}" is not governable on ${action.contract}`, `${at}.function`, `use one of: ${allowed.join(', ')}`);
  }
  const abi = artifacts[action.contract].abi;
  const fn = abi.find((x) => x.type === 'function' && x.name === action.function) as AbiFunction | undefined;
  if (!fn) throw bad(`${action.contract} has no function ${action.function}`, `${at}.function`, 'check the contract ABI');
  if (!Array.isArray(action.args) || action.args.length !== fn.inputs.length) {
    const sig = `${fn.name}(${fn.inputs.map((i) => `${i.type} ${i.name}`).join(', ')})`;
    throw bad(`${at}.args: ${sig} takes ${fn.inputs.length} argument(s), got ${Array.isArray(action.args) ? action.args.length : 'none'}`, `${at}.args`, `pass args for ${sig}`);
  }
  let calldata: Hex;
  try {
    calldata = encodeFunctionData({ abi: [fn], functionName: fn.name, args: action.args.map((v, i) => coerce(v, fn.inputs[i]!)) } as never);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw bad(`${at}.args do not fit ${fn.name}(${fn.inputs.map((i) => i.type).join(',')}): ${why}`, `${at}.args`, 'numbers as decimal strings, addresses as 0x + 40 hex digits, tuples as objects with the field names');
  }
  return { target: chain.addresses.contracts[action.contract], calldata };
}

/** JSON → ABI value: integers from decimal strings or safe numbers to bigint; tuples field by field. */
function coerce(v: unknown, p: { type: string; components?: readonly { name?: string; type: string }[] }): unknown {
  if (/^u?int\d*$/.test(p.type)) {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
    throw new Error(`expected an integer for ${p.type}, got ${JSON.stringify(v)}`);
  }
  if (p.type === 'tuple' && p.components && v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(p.components.map((c) => [c.name ?? '', coerce(o[c.name ?? ''], c)]));
  }
  return v;
}

/** Decodes a proposal's calldata back into { contract, function, args } where the target is ours. */
function decodeAction(chain: Chain, target: Address, calldata: Hex): { contract: string | null; function: string | null; args: unknown[] } {
  const name = (Object.keys(chain.addresses.contracts) as ContractName[]).find((n) => chain.addresses.contracts[n].toLowerCase() === target.toLowerCase());
  if (!name) return { contract: null, function: null, args: [] };
  try {
    const d = decodeFunctionData({ abi: artifacts[name].abi, data: calldata } as never) as { functionName: string; args?: readonly unknown[] };
    return { contract: name, function: d.functionName, args: [...(d.args ?? [])] };
  } catch {
    return { contract: name, function: null, args: [] };
  }
}

/** OpenToken.delegate: `delegatee` (default the signer) gets the signer's votes (needed before they count). */
export async function delegateVotes(chain: Chain, p: Signer & { delegatee?: Address }): Promise<TxResult> {
  const self = (p.account ?? chain.operator).address;
  return txResult(await call(chain, 'OpenToken', 'delegate', [p.delegatee ?? self], p.account));
}

/** Current votes (OPEN wei delegated to `owner`). */
export function votesOf(chain: Chain, p: { owner: Address }): Promise<bigint> {
  return read<bigint>(chain, 'OpenToken', 'getVotes', [p.owner]);
}

/** OpenGovernor.propose. Returns the proposal id and when voting starts and ends (unix seconds). */
export async function propose(chain: Chain, p: Signer & { actions: GovernanceAction[]; description: string }): Promise<TxResult & { proposalId: bigint; voteStart: bigint; voteEnd: bigint }> {
  if (!Array.isArray(p.actions) || p.actions.length === 0 || p.actions.length > 10) {
    throw bad('a proposal needs 1 to 10 actions', 'actions', 'pass actions: [{ contract, function, args }]');
  }
  if (typeof p.description !== 'string' || !p.description.trim() || p.description.length > 10_000) {
    throw bad('a proposal needs a description (1 to 10,000 characters)', 'description', 'say what the proposal changes and why');
  }
  const encoded = p.actions.map((a, i) => encodeAction(chain, a, i));
  const r = await call(chain, 'OpenGovernor', 'propose', [encoded.map((e) => e.target), encoded.map(() => 0n), encoded.map((e) => e.calldata), p.description], p.account);
  const e = eventArgs<{ proposalId: bigint; voteStart: bigint; voteEnd: bigint }>(chain, r, 'OpenGovernor', 'ProposalCreated');
  return { ...txResult(r), proposalId: e.proposalId, voteStart: e.voteStart, voteEnd: e.voteEnd };
}

export const SUPPORT = { against: 0, for: 1, abstain: 2 } as const;

const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');

/**
 * Refuses a step in the wrong state with a message that says when it will be possible, instead of the
 * governor's bare GovernorUnexpectedProposalState bitmap. (The contract still checks; this only explains.)
 */
async function requireState(chain: Chain, id: bigint, step: 'vote' | 'queue' | 'execute'): Promise<void> {
  const state = PROPOSAL_STATES[await read<number>(chain, 'OpenGovernor', 'state', [id])] ?? 'pending';
  const want = { vote: 'active', queue: 'succeeded', execute: 'queued' }[step];
  if (state === want) {
    if (step === 'execute') {
      const [eta, block] = await Promise.all([
        read<bigint>(chain, 'OpenGovernor', 'proposalEta', [id]),
        chain.publicClient.getBlock({ blockTag: chain.embedded ? 'pending' : 'latest' }),
      ]);
      if (eta > block.timestamp) throw notReady(`proposal ${id} is queued; the timelock lets it execute from ${iso(eta)}`, 'wait for the timelock delay, then execute');
    }
    return;
  }
  let why = `proposal ${id} is ${state}`;
  let hint = `only a${want === 'active' ? 'n' : ''} ${want} proposal can be ${step === 'vote' ? 'voted on' : `${step}d`}`;
  if (state === 'pending') {
    const start = await read<bigint>(chain, 'OpenGovernor', 'proposalSnapshot', [id]);
    why += `; voting starts after ${iso(start)}`;
    hint = 'wait for the voting delay';
  } else if (state === 'active') {
    const end = await read<bigint>(chain, 'OpenGovernor', 'proposalDeadline', [id]);
    why += `; voting ends at ${iso(end)}`;
    hint = step === 'vote' ? hint : 'wait for the voting period to end; it must pass (quorum and more for than against)';
  } else if (state === 'defeated' || state === 'canceled' || state === 'expired') {
    hint = 'this proposal cannot go further; make a new one';
  }
  throw notReady(why, hint);
}

const notReady = (message: string, hint: string) =>
  new OpenLedgerError(message, { type: 'conflict_error', param: 'proposalId', code: 'proposal_not_ready', hint });

/** OpenGovernor.castVote(WithReason). */
export async function castVote(chain: Chain, p: Signer & { proposalId: bigint; support: keyof typeof SUPPORT; reason?: string }): Promise<TxResult & { weight: bigint }> {
  const support = SUPPORT[p.support];
  if (support === undefined) throw bad(`support must be for, against or abstain, not "${String(p.support)}"`, 'support', 'vote for | against | abstain');
  await requireState(chain, p.proposalId, 'vote');
  const r = p.reason
    ? await call(chain, 'OpenGovernor', 'castVoteWithReason', [p.proposalId, support, p.reason], p.account)
    : await call(chain, 'OpenGovernor', 'castVote', [p.proposalId, support], p.account);
  const e = eventArgs<{ weight: bigint }>(chain, r, 'OpenGovernor', 'VoteCast');
  return { ...txResult(r), weight: e.weight };
}

/** OpenGovernor.queue(id): schedules a succeeded proposal in the timelock. Returns when it can execute. */
export async function queueProposal(chain: Chain, p: Signer & { proposalId: bigint }): Promise<TxResult & { etaSeconds: bigint }> {
  await requireState(chain, p.proposalId, 'queue');
  const r = await call(chain, 'OpenGovernor', 'queue', [p.proposalId], p.account);
  const e = eventArgs<{ etaSeconds: bigint }>(chain, r, 'OpenGovernor', 'ProposalQueued');
  return { ...txResult(r), etaSeconds: e.etaSeconds };
}

/** OpenGovernor.execute(id): runs a queued proposal once the timelock delay has passed (anyone may). */
export async function executeProposal(chain: Chain, p: Signer & { proposalId: bigint }): Promise<TxResult> {
  await requireState(chain, p.proposalId, 'execute');
  return txResult(await call(chain, 'OpenGovernor', 'execute', [p.proposalId], p.account));
}

export const PROPOSAL_STATES = ['pending', 'active', 'canceled', 'defeated', 'succeeded', 'queued', 'expired', 'executed'] as const;
export type ProposalStateName = (typeof PROPOSAL_STATES)[number];

export interface ProposalInfo {
  proposalId: bigint;
  state: ProposalStateName;
  proposer: Address;
  /** Unix seconds. */
  voteStart: bigint;
  voteEnd: bigint;
  /** When a queued proposal can execute (0 = not queued). */
  eta: bigint;
  votes: { against: bigint; for: bigint; abstain: bigint };
  quorum: bigint;
  actions: { target: Address; contract: string | null; function: string | null; args: unknown[]; calldata: Hex }[];
  descriptionHash: Hex;
}

/** A proposal's state, votes and actions, read from the governor (GovernorStorage keeps the actions). */
export async function getProposal(chain: Chain, p: { proposalId: bigint }): Promise<ProposalInfo> {
  const id = p.proposalId;
  const [details, state, proposer, snapshot, deadline, eta, votes] = await Promise.all([
    read<readonly [Address[], bigint[], Hex[], Hex]>(chain, 'OpenGovernor', 'proposalDetails', [id]),
    read<number>(chain, 'OpenGovernor', 'state', [id]),
    read<Address>(chain, 'OpenGovernor', 'proposalProposer', [id]),
    read<bigint>(chain, 'OpenGovernor', 'proposalSnapshot', [id]),
    read<bigint>(chain, 'OpenGovernor', 'proposalDeadline', [id]),
    read<bigint>(chain, 'OpenGovernor', 'proposalEta', [id]),
    read<readonly [bigint, bigint, bigint]>(chain, 'OpenGovernor', 'proposalVotes', [id]),
  ]);
  const quorum = await read<bigint>(chain, 'OpenGovernor', 'quorum', [snapshot]).catch(() => 0n);
  const [targets, , calldatas, descriptionHash] = details;
  return {
    proposalId: id,
    state: PROPOSAL_STATES[state] ?? 'pending',
    proposer,
    voteStart: snapshot,
    voteEnd: deadline,
    eta,
    votes: { against: votes[0], for: votes[1], abstain: votes[2] },
    quorum,
    actions: targets.map((t, i) => ({ target: t, calldata: calldatas[i]!, ...decodeAction(chain, t, calldatas[i]!) })),
    descriptionHash,
  };
}

/** Proposal ids, newest first (at most `limit`, from GovernorStorage's on-chain list). */
export async function listProposalIds(chain: Chain, p: { limit?: number; offset?: number } = {}): Promise<{ total: number; ids: bigint[] }> {
  const total = Number(await read<bigint>(chain, 'OpenGovernor', 'proposalCount', []));
  const limit = Math.min(Math.max(p.limit ?? 50, 1), 200);
  const offset = Math.max(p.offset ?? 0, 0);
  const ids: bigint[] = [];
  for (let i = total - 1 - offset; i >= 0 && ids.length < limit; i--) {
    const d = await read<readonly [bigint]>(chain, 'OpenGovernor', 'proposalDetailsAt', [BigInt(i)]);
    ids.push(d[0]);
  }
  return { total, ids };
}

/** keccak256 of a description, as the governor hashes it. */
export const descriptionHash = (description: string): Hex => keccak256(stringToHex(description));
