/**
 * Crash points for the crash-loop test (test/crash-loop.test.ts): named places in chain-writing
 * flows where a node started with `OPENLEDGER_TEST_CRASH_AT=<name>[,<name>…]` kills itself with
 * SIGKILL — no handler, no flush, exactly what kill -9 or a power cut does at that instant. Only the
 * CLI reads the variable (src/cli/commands/up.ts); unset, every call here is a Set lookup.
 *
 *   chain-write-mined     the receipt is in, the chain state is not yet persisted
 *   chain-write-durable   the chain state is persisted, the store has not recorded the result
 */
const armed = new Set<string>();
let countdown = 0;

/** Arms `names`; the `skip`-th hit (0 = the first) of any of them kills the process. */
export function armCrashPoints(names: string[], skip = 0): void {
  for (const n of names) armed.add(n);
  countdown = skip;
}

export function crashPoint(name: string): void {
  if (armed.size === 0 || !armed.has(name)) return;
  if (countdown-- > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
