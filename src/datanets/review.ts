/**
 * Review: staked validators listed on chain vote on pending rows (one vote each, last wins); the
 * datanet's validation policy turns votes into accepted / rejected.
 */
import { getAddress, type Address } from 'viem';
import { OpenLedgerError, forbidden, invalid, notFound } from '../util/errors.ts';
import { isValidator, stakeOf } from './chain-facts.ts';
import type { DatanetContext } from './context.ts';
import { decideStatus } from './policy.ts';

/** A staked validator of the datanet approves or rejects pending rows (one vote each, last wins). */
export async function review(s: DatanetContext, id: number, validator: Address, rowIds: number[], decision: 'approve' | 'reject', reason: string) {
  const d = s.record(id);
  const policies = s.policies(d);
  const v = getAddress(validator);
  if (!(await isValidator(s.chain, BigInt(id), v))) {
    throw forbidden(`${v} is not a validator of datanet ${id}`, { code: 'not_validator', hint: 'the datanet owner adds validators (POST /v1/datanets/:id/validators)' });
  }
  const stake = await stakeOf(s.chain, v);
  if (stake < s.minStake) {
    throw forbidden(`validator ${v} has ${stake} wei OPEN staked; reviewing needs at least ${s.minStake}`, { code: 'validator_not_staked', hint: 'stake OPEN in the Staking contract first' });
  }
  if (policies.validation.kind === 'automatic') {
    throw invalid(`datanet ${id} accepts rows automatically; there is nothing to review`, { code: 'review_not_needed', hint: 'reviews apply to datanets with validator approvals' });
  }
  if (decision === 'reject' && reason.trim().length === 0) throw invalid('a rejection needs a reason', { param: 'reason', code: 'reason_required', hint: 'say why the row is rejected' });
  const now = s.now();
  return s.locked(id, async () => {
    const results = s.repo.tx(() =>
      rowIds.map((rowId) => {
        const r = s.repo.row(id, rowId);
        if (!r) throw notFound(`row ${rowId} not found in datanet ${id}`, { param: 'rows', code: 'row_not_found', hint: 'review rows listed by GET /v1/datanets/:id/rows?status=pending' });
        if (r.status !== 'pending') {
          throw new OpenLedgerError(`row ${rowId} is already ${r.status}`, { type: 'conflict_error', param: 'rows', code: 'row_not_pending', hint: 'only pending rows can be reviewed' });
        }
        s.repo.upsertVote(rowId, v, decision, reason, now);
        const votes = s.repo.votes(rowId);
        const approvals = votes.filter((x) => x.decision === 'approve').length;
        const rejections = votes.length - approvals;
        const status = decideStatus(policies.validation, approvals, rejections);
        if (status !== 'pending') s.repo.setRowStatus(rowId, status, status === 'rejected' ? reason : null, now);
        return { rowId, status, approvals, rejections };
      }),
    );
    if (results.some((r) => r.status === 'rejected')) s.dedup.delete(id); // rejected rows stop blocking duplicates
    return results;
  });
}
