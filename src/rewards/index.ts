/** Payable inference: charging, the double-entry ledger, epochs, settlement, Merkle roots, claims, usage views. */
export { RewardsService, epochView, type RewardsDeps } from './service.ts';
export { Charging, readSpendable, type AdmitParams, type Usage, type Spendable } from './charging.ts';
export { Epochs, type EpochRow, type EpochStatus, type SettlePlan } from './epochs.ts';
export { Ledger, account, splitWords, joinWords, type Entry, type Txn, type Role, type TxnKind } from './ledger.ts';
export { fee, splitCharge, byWeight, promptTokenBound, type Price, type SplitParties } from './split.ts';
export { proRataWeights, trainedOn, type WeightSource, type ContributorWeight } from './weights.ts';
export { rewardsConfigSchema, parseRewardsConfig, DEFAULT_SHARES, CRASH_POINTS, type RewardsConfig, type RewardsConfigInput, type Shares, type CrashPoint } from './config.ts';
export { admitCompletion, type ChargeTicket } from './hook.ts';
export { depositToEscrow, requestEscrowWithdrawal, withdrawEscrow, pendingWithdrawal } from './escrow.ts';
