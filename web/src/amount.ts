/**
 * OPEN amounts typed in the studio → bigint wei (never floats). No relative imports: the node's
 * tests import this file directly. Errors carry the API's fields (message, type, param, code,
 * hint), which the page's ErrorBox shows as it shows the node's own.
 */
import { parseUnits } from 'viem';

const invalidAmount = (message: string, param: string, hint: string) =>
  Object.assign(new Error(message), { type: 'invalid_request_error', param, code: 'invalid_amount', hint });

/** "1.5" OPEN → wei; a clear error for anything that is not a positive amount with ≤ 18 decimals. */
export function parseOpen(text: string, param = 'amount'): bigint {
  const t = text.trim();
  if (!/^\d{1,30}(\.\d{1,18})?$/.test(t)) throw invalidAmount(`"${text}" is not an amount of OPEN.`, param, 'Write a number like 5 or 0.25 (at most 18 decimals).');
  const wei = parseUnits(t, 18);
  if (wei <= 0n) throw invalidAmount('The amount must be more than 0.', param, 'Write a number like 5 or 0.25.');
  return wei;
}
