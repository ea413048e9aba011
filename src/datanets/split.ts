import type { Address } from 'viem';

/**
 * Splits `amount` wei among contributors in proportion to their accepted rows, in integers:
 * each gets floor(amount · rows / totalRows), and the remainder (< number of contributors) goes one
 * wei at a time to the largest fractional parts, ties broken by more rows then lower address. So
 * the shares always sum to `amount` exactly and the result is the same on every node.
 */
export function splitByRows(amount: bigint, rows: Array<{ contributor: Address; rows: number | bigint }>): Array<{ contributor: Address; amount: bigint }> {
  if (amount < 0n) throw new Error('amount must be non-negative');
  const items = rows.map((r) => ({ contributor: r.contributor, rows: BigInt(r.rows) })).filter((r) => r.rows > 0n);
  const total = items.reduce((s, r) => s + r.rows, 0n);
  if (total === 0n) return [];
  const shares = items.map((r) => ({ contributor: r.contributor, rows: r.rows, amount: (amount * r.rows) / total, frac: (amount * r.rows) % total }));
  let rest = amount - shares.reduce((s, r) => s + r.amount, 0n);
  const order = [...shares].sort((a, b) =>
    a.frac !== b.frac ? (b.frac > a.frac ? 1 : -1) : a.rows !== b.rows ? (b.rows > a.rows ? 1 : -1) : a.contributor.toLowerCase().localeCompare(b.contributor.toLowerCase()),
  );
  for (const s of order) {
    if (rest === 0n) break;
    s.amount += 1n;
    rest -= 1n;
  }
  return shares.map((s) => ({ contributor: s.contributor, amount: s.amount }));
}
