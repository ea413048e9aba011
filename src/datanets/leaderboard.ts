import type { Address } from 'viem';

/** Per-contributor counts, as the store reports them. */
export interface ContributorCounts {
  contributor: Address;
  accepted: number;
  pending: number;
  rejected: number;
}

export interface LeaderboardEntry extends ContributorCounts {
  rank: number;
  total: number;
  /** accepted / total, in basis points (0..10000); integers so rankings never depend on float rounding. */
  acceptanceBps: number;
}

/**
 * Contributors ranked by accepted rows, then acceptance rate (accepted / all rows they submitted,
 * as OpenLedger's leaderboard defines it), then address; equal (accepted, rate) share a rank.
 */
export function leaderboard(rows: ContributorCounts[]): LeaderboardEntry[] {
  const entries = rows.map((r) => {
    const total = r.accepted + r.pending + r.rejected;
    return { ...r, total, acceptanceBps: total === 0 ? 0 : Math.floor((r.accepted * 10000) / total), rank: 0 };
  });
  entries.sort((a, b) => b.accepted - a.accepted || b.acceptanceBps - a.acceptanceBps || a.contributor.toLowerCase().localeCompare(b.contributor.toLowerCase()));
  for (let i = 0; i < entries.length; i++) {
    const prev = entries[i - 1];
    entries[i].rank = prev && prev.accepted === entries[i].accepted && prev.acceptanceBps === entries[i].acceptanceBps ? prev.rank : i + 1;
  }
  return entries;
}
