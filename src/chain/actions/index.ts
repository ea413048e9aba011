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
export { deposit, requestWithdrawal, withdraw, settleEpoch, escrowBalance, type SettleEpochParams } from './escrow.ts';
export { submitRoot, disableRoot, claim, fundRewards, claimedAmount, type SubmitRootParams, type ClaimParams } from './rewards.ts';
export { stake, unbond, withdrawStake, slash, stakeOf, type SlashParams } from './staking.ts';
