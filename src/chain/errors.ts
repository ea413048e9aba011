/**
 * Maps viem failures to OpenLedgerError. A contract revert becomes
 *   "DatanetRegistry.commitVersion reverted: NotDatanetOwner(datanetId: 1, caller: 0xabc…)"
 * with type permission_error / not_found_error / conflict_error / invalid_request_error when the
 * custom error says the caller did something wrong, and chain_error otherwise (RPC down, out of gas,
 * an error we did not classify).
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  HttpRequestError,
  InsufficientFundsError,
  TimeoutError,
  type AbiParameter,
} from 'viem';
import { OpenLedgerError, type ErrorType } from '../util/errors.ts';

/**
 * Custom error name → the caller's fault it signals. Names not listed fall back to the patterns
 * below and then to chain_error. Keep this in step with contracts/src (custom errors are part of
 * each contract's interface).
 */
const BY_NAME: Record<string, ErrorType> = {
  // OpenZeppelin 5
  AccessControlUnauthorizedAccount: 'permission_error',
  OwnableUnauthorizedAccount: 'permission_error',
  ERC20InsufficientBalance: 'invalid_request_error',
  ERC20InsufficientAllowance: 'invalid_request_error',
  ERC20InvalidReceiver: 'invalid_request_error',
  ERC20InvalidSender: 'invalid_request_error',
  ERC2612ExpiredSignature: 'invalid_request_error',
  ERC2612InvalidSigner: 'invalid_request_error',
  EnforcedPause: 'conflict_error',
  // contracts/src: names the patterns below would misfile
  NothingToClaim: 'conflict_error',
  NothingToWithdraw: 'conflict_error',
  NoPendingWithdrawal: 'conflict_error',
  WithdrawalNotReady: 'invalid_request_error',
  EpochNotIncreasing: 'conflict_error',
  TooManyUnbondingEntries: 'invalid_request_error',
  AccessNotForSale: 'invalid_request_error',
  NoActiveRoot: 'conflict_error',
  // trust rules (issue 10)
  NoDatanetAccess: 'permission_error',
  PurchasedAccessIrrevocable: 'conflict_error',
  PriceAboveMax: 'conflict_error',
  SpendNonceUsed: 'conflict_error',
  SpendAuthorizationExpired: 'invalid_request_error',
  InvalidSpendSignature: 'invalid_request_error',
  MissingEvidence: 'invalid_request_error',
  SlashAboveCap: 'invalid_request_error',
  SlashAlreadyPending: 'conflict_error',
  SlashPending: 'conflict_error',
  SlashNotPending: 'conflict_error',
  ChallengeWindowOpen: 'conflict_error',
  ChallengeWindowClosed: 'conflict_error',
  ValidatorNotStaked: 'invalid_request_error',
  ExceedsFunding: 'invalid_request_error',
  TooManyPendingRoots: 'conflict_error',
  EpochJumpTooLarge: 'invalid_request_error',
  AdapterAlreadyRegistered: 'conflict_error',
  ProposalTargetHasNoCode: 'invalid_request_error',
  ProposalCalldataMalformed: 'invalid_request_error',
  GovernorInvalidProposalLength: 'invalid_request_error',
  GovernorUnexpectedProposalState: 'conflict_error',
  GovernorAlreadyCastVote: 'conflict_error',
  GovernorInsufficientProposerVotes: 'permission_error',
  GovernorNonexistentProposal: 'not_found_error',
  GovernorRestrictedProposer: 'permission_error',
  TimelockUnexpectedOperationState: 'conflict_error',
  // the node's own bookkeeping is wrong, not the caller's request
  InsufficientFunds: 'chain_error',
  ExceedsRootTotal: 'chain_error',
};

const PATTERNS: [RegExp, ErrorType][] = [
  [/^(Not[A-Z]|Unauthori[sz]ed|Forbidden|OnlyOwner|OnlyOperator|CallerNot)/, 'permission_error'],
  [/(NotFound|Unknown[A-Z]|DoesNotExist|^No[A-Z])/, 'not_found_error'],
  [/(Already|Exists|Duplicate|Deprecated|Disabled|Revoked|Used$)/, 'conflict_error'],
  [/(Invalid|Insufficient|Zero|TooLarge|TooSmall|TooLow|TooHigh|TooEarly|TooLate|Expired|NotYet|Exceeds|Mismatch|Empty|Locked|Pending|Delay)/, 'invalid_request_error'],
];

export function revertErrorType(errorName: string): ErrorType {
  if (BY_NAME[errorName]) return BY_NAME[errorName];
  for (const [re, t] of PATTERNS) if (re.test(errorName)) return t;
  return 'chain_error';
}

function formatValue(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return `[${v.map(formatValue).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}: ${formatValue(x)}`).join(', ')}}`;
  return String(v);
}

/** JSON-safe copy of decoded values (bigint → decimal string). */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

/** `where` is "Contract.function" for messages. */
export function toChainError(err: unknown, where: string): OpenLedgerError {
  if (err instanceof OpenLedgerError) return err;
  if (!(err instanceof BaseError)) {
    return new OpenLedgerError(`${where} failed: ${err instanceof Error ? err.message : String(err)}`, {
      type: 'chain_error', code: 'chain_call_failed', cause: err,
    });
  }
  const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
  if (reverted) {
    const name = reverted.data?.errorName;
    if (name) {
      const inputs = ((reverted.data?.abiItem as { inputs?: readonly AbiParameter[] } | undefined)?.inputs ?? []);
      const args = (reverted.data?.args ?? []) as readonly unknown[];
      const shown = args.map((a, i) => (inputs[i]?.name ? `${inputs[i].name}: ${formatValue(a)}` : formatValue(a))).join(', ');
      const details: Record<string, unknown> = {};
      args.forEach((a, i) => (details[inputs[i]?.name || String(i)] = jsonSafe(a)));
      return new OpenLedgerError(`${where} reverted: ${name}(${shown})`, {
        type: revertErrorType(name),
        code: snake(name),
        hint: 'the contract rejected the call; fix the request or the caller\'s on-chain state and retry',
        details: { errorName: name, args: details },
        cause: err,
      });
    }
    const reason = reverted.reason;
    return new OpenLedgerError(`${where} reverted${reason ? `: ${reason}` : ' without a reason'}`, {
      type: reason ? 'invalid_request_error' : 'chain_error',
      code: 'contract_reverted',
      hint: 'check the call\'s arguments and the contract state',
      cause: err,
    });
  }
  if (err.walk((e) => e instanceof InsufficientFundsError)) {
    return new OpenLedgerError(`${where}: the sender cannot pay for gas`, {
      type: 'chain_error', code: 'insufficient_gas_funds', hint: 'fund the sending account with the chain\'s native token', cause: err,
    });
  }
  if (err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) {
    return new OpenLedgerError(`${where}: the chain RPC did not answer (${err.shortMessage})`, {
      type: 'chain_error', code: 'rpc_unreachable', hint: 'check that the chain (or --rpc-url) is up', cause: err,
    });
  }
  return new OpenLedgerError(`${where} failed: ${err.shortMessage}`, { type: 'chain_error', code: 'chain_call_failed', cause: err });
}

/** `NotDatanetOwner` → `not_datanet_owner`. */
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}
