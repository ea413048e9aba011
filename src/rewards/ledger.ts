/**
 * The double-entry ledger: integer wei, every transaction's entries sum to zero (checked here,
 * before anything is written, inside the caller's SQLite transaction), every entry names its
 * inference (or epoch, for settlements).
 *
 *   hold      payer:<a> −H        hold:<a> +H                      admission (one per request)
 *   release   hold:<a>  −H        payer:<a> +H                     the request failed before the engine
 *   charge    hold:<a>  −H        payer:<a> +(H − F)               the request ended: hold released, F charged,
 *                                 earn:<protocol|owner|validators> +…, pool:<inference> +…  (one transaction)
 *   attribute pool:<inference> −P earn:<contributors> +…           epoch close, by attribution weight
 *   settle    distributor −D      payer:<a> +D                     InferenceEscrow.settle debited D
 *   writeoff  earn:… / pool −…    payer:<a> +(F − paid)            the escrow could not pay it all
 *   access    distributor −P      earn:<contributors> +…           paid datanet access (DatanetRegistry funded the
 *                                                                  distributor; the datanets module credited rows)
 *
 * So payer:<a> = −(open holds + charges not yet settled), and an address's Merkle leaf is the
 * sum of its earn:<a> entries over the epochs posted so far.
 */
import type { Db } from '../store/index.ts';
import { OpenLedgerError } from '../util/errors.ts';

export type Role = 'payer' | 'hold' | 'protocol' | 'owner' | 'validator' | 'contributor' | 'pool' | 'distributor';
export type TxnKind = 'hold' | 'release' | 'charge' | 'attribute' | 'settle' | 'writeoff' | 'access';

export interface Entry {
  account: string;
  role: Role;
  amount: bigint;
  party?: string | null;
  datanetId?: number | null;
  modelId?: string | null;
}

export interface Txn {
  kind: TxnKind;
  inferenceId?: string | null;
  epoch?: number | null;
  chainBlock?: bigint | null;
  entries: Entry[];
}

const TWO32 = 1n << 32n;
const TWO64 = 1n << 64n;
/** Per-entry bound (2^94 wei ≈ 2·10^10 OPEN, far above any supply): keeps amount_hi < 2^30, so SQL sums of it never overflow. */
const MAX_ABS = 1n << 94n;

/**
 * amount = hi·2^64 + mid·2^32 + lo with 0 ≤ mid, lo < 2^32 and hi signed (floor division, so
 * negatives work). Each column's SUM stays far inside int64 for billions of rows.
 */
export function splitWords(amount: bigint): [bigint, bigint, bigint] {
  const hi = floorDiv(amount, TWO64);
  const rest = amount - hi * TWO64; // 0 ≤ rest < 2^64
  return [hi, rest / TWO32, rest % TWO32];
}

const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

/** Recombine SUM(amount_hi), SUM(amount_mid), SUM(amount_lo) from SQL (bigint in safeIntegers mode). */
export const joinWords = (hi: bigint | number | null, mid: bigint | number | null, lo: bigint | number | null): bigint =>
  BigInt(hi ?? 0) * TWO64 + BigInt(mid ?? 0) * TWO32 + BigInt(lo ?? 0);

export const account = {
  payer: (a: string) => `payer:${a}`,
  hold: (a: string) => `hold:${a}`,
  earn: (a: string) => `earn:${a}`,
  pool: (inferenceId: string) => `pool:${inferenceId}`,
  distributor: 'distributor',
};

export class Ledger {
  private readonly insTxn;
  private readonly insEntry;
  private readonly sumAccount;
  private readonly addBalance;
  private readonly getBalance;
  private readonly sumAccountAfterBlock;

  constructor(private readonly db: Db) {
    this.insTxn = db.prepare('INSERT INTO ledger_txns (kind, inference_id, epoch, chain_block, created_at) VALUES (?, ?, ?, ?, ?)');
    this.insEntry = db.prepare(`INSERT INTO ledger_entries (txn_id, inference_id, epoch, account, party, role, datanet_id, model_id, amount, amount_hi, amount_mid, amount_lo)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.addBalance = db.prepare(`INSERT INTO ledger_balances (account, hi, mid, lo) VALUES (?, ?, ?, ?)
      ON CONFLICT (account) DO UPDATE SET hi = hi + excluded.hi, mid = mid + excluded.mid, lo = lo + excluded.lo`);
    this.getBalance = db.prepare('SELECT hi, mid, lo FROM ledger_balances WHERE account = ?').safeIntegers(true);
    this.sumAccount = db.prepare('SELECT SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries WHERE account = ?').safeIntegers(true);
    // From the settlements after `block` (few: the last epoch or two), not from the account's whole history.
    this.sumAccountAfterBlock = db.prepare(`SELECT SUM(e.amount_hi) hi, SUM(e.amount_mid) mid, SUM(e.amount_lo) lo FROM ledger_txns t JOIN ledger_entries e ON e.txn_id = t.id
      WHERE t.kind = 'settle' AND t.chain_block > @block AND e.account = @account`).safeIntegers(true);
  }

  /**
   * Writes one balanced transaction (none when every amount is 0; returns its id, or 0). Call inside `db.transaction` when it goes with other writes;
   * on its own it is atomic anyway (one SQLite transaction).
   */
  post(t: Txn): number {
    checkBalanced(t);
    if (t.entries.every((e) => e.amount === 0n)) return 0; // nothing moves (a free call's hold): no transaction
    return this.db.transaction(() => {
      const now = Date.now();
      const id = Number(this.insTxn.run(t.kind, t.inferenceId ?? null, t.epoch ?? null, t.chainBlock === undefined || t.chainBlock === null ? null : Number(t.chainBlock), now).lastInsertRowid);
      for (const e of t.entries) {
        if (e.amount === 0n) continue;
        const [hi, mid, lo] = splitWords(e.amount);
        this.insEntry.run(id, t.inferenceId ?? null, t.epoch ?? null, e.account, e.party ?? null, e.role, e.datanetId ?? null, e.modelId ?? null, e.amount.toString(), hi, mid, lo);
        this.addBalance.run(e.account, hi, mid, lo);
      }
      return id;
    })();
  }

  /** An account's balance: the running total kept beside the entries (O(1)). */
  balance(accountName: string): bigint {
    const r = this.getBalance.get(accountName) as { hi: bigint; mid: bigint; lo: bigint } | undefined;
    return r ? joinWords(r.hi, r.mid, r.lo) : 0n;
  }

  /** The same balance summed from the entries (the running total must always equal it; the tests check). */
  balanceFromEntries(accountName: string): bigint {
    const r = this.sumAccount.get(accountName) as { hi: bigint | null; mid: bigint | null; lo: bigint | null };
    return joinWords(r.hi, r.mid, r.lo);
  }

  /** Settlement credits to `accountName` from settle transactions mined after `block`. */
  settledAfter(accountName: string, block: bigint): bigint {
    const r = this.sumAccountAfterBlock.get({ account: accountName, block }) as { hi: bigint | null; mid: bigint | null; lo: bigint | null };
    return joinWords(r.hi, r.mid, r.lo);
  }

  /** Sum of every entry ever written: zero, always (the ledger's invariant; checked by the tests). */
  total(): bigint {
    const r = this.db.prepare('SELECT SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries').safeIntegers(true).get() as { hi: bigint | null; mid: bigint | null; lo: bigint | null };
    return joinWords(r.hi, r.mid, r.lo);
  }

  /** Transactions whose entries do not sum to zero (none, ever). */
  unbalancedTxns(): number[] {
    const rows = this.db.prepare('SELECT txn_id, SUM(amount_hi) hi, SUM(amount_mid) mid, SUM(amount_lo) lo FROM ledger_entries GROUP BY txn_id').safeIntegers(true).all() as Array<{ txn_id: bigint; hi: bigint; mid: bigint; lo: bigint }>;
    return rows.filter((r) => joinWords(r.hi, r.mid, r.lo) !== 0n).map((r) => Number(r.txn_id));
  }

  entriesOf(inferenceId: string): Array<{ kind: TxnKind; account: string; role: Role; party: string | null; datanetId: number | null; amount: bigint; epoch: number | null }> {
    return (this.db.prepare(`SELECT t.kind, e.account, e.role, e.party, e.datanet_id, e.amount, e.epoch FROM ledger_entries e JOIN ledger_txns t ON t.id = e.txn_id
      WHERE e.inference_id = ? ORDER BY e.id LIMIT 10000`).all(inferenceId) as any[]).map((r) => ({
      kind: r.kind, account: r.account, role: r.role, party: r.party, datanetId: r.datanet_id, amount: BigInt(r.amount), epoch: r.epoch,
    }));
  }
}

function checkBalanced(t: Txn): void {
  let sum = 0n;
  for (const e of t.entries) {
    if (typeof e.amount !== 'bigint') throw new OpenLedgerError(`ledger: ${t.kind} entry on ${e.account} is not a bigint`, { type: 'internal_error', code: 'ledger_not_integer' });
    if (e.amount > MAX_ABS || -e.amount > MAX_ABS) throw new OpenLedgerError(`ledger: ${t.kind} entry of ${e.amount} wei on ${e.account} is out of range`, { type: 'internal_error', code: 'ledger_out_of_range' });
    sum += e.amount;
  }
  if (sum !== 0n) {
    throw new OpenLedgerError(`ledger: ${t.kind} transaction${t.inferenceId ? ` of ${t.inferenceId}` : ''} does not balance (sum ${sum} wei)`, {
      type: 'internal_error', code: 'ledger_unbalanced',
    });
  }
}
