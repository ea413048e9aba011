/** One typed function per contract call the node makes: `(chain, params) → decoded result`. */
export type { TxResult, Signer } from './common.ts';
export { createDatanet, createDatanetFor, type CreateDatanetParams, type CreateDatanetResult } from './create-datanet.ts';
export { transferDatanetOwnership } from './transfer-datanet-ownership.ts';
export { addValidator, removeValidator, type ValidatorParams } from './validators.ts';
export { commitVersion, type CommitVersionParams, type CommitVersionResult } from './commit-version.ts';
export { grantAccess, revokeAccess, type AccessParams, type AccessResult } from './access.ts';
export { purchaseAccess } from './purchase-access.ts';
export { registerModel, registerModelFor, type RegisterModelParams, type RegisterModelResult } from './register-model.ts';
export { updatePrice } from './update-price.ts';
export { deprecateModel } from './deprecate-model.ts';
export { tokenBalance, tokenAllowance, transfer, approve, mintOpen } from './token.ts';
export {
  deposit, requestWithdrawal, withdraw, settleEpoch, escrowBalance,
  signSpendAuthorization, authorizeSpend, approveSpend, getSpendAuthorization, spendAuthorizationTypedData, SPEND_AUTHORIZATION_TYPES,
  type SettleEpochParams, type SettleEpochResult, type SpendAuthorization, type SpendAuthorizationState,
} from './escrow.ts';
export { submitRoot, disableRoot, claim, fundRewards, claimedAmount, protocolParams, type SubmitRootParams, type ClaimParams, type ProtocolParams } from './rewards.ts';
export { stake, unbond, withdrawStake, proposeSlash, executeSlash, vetoSlash, getSlash, stakeOf, type ProposeSlashParams, type SlashProposal } from './staking.ts';
export {
  delegateVotes, votesOf, propose, castVote, queueProposal, executeProposal, getProposal, listProposalIds, encodeAction, GOVERNABLE, SUPPORT, PROPOSAL_STATES,
  type GovernanceAction, type ProposalInfo, type ProposalStateName,
} from './governance.ts';
