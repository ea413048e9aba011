/**
 * The embedded chain: Anvil (npm `@foundry-rs/anvil`) as a child process on 127.0.0.1.
 *
 * Persistence, by design rather than by interval: Anvil never writes its state file itself. The node
 * asks for a dump (`anvil_dumpState`) and writes it atomically (temp file, fsync, rename, fsync of
 * the directory) through `persist()`, which every chain write awaits after its receipt and before
 * the API answers (src/chain/tx.ts). A crash can then lose only transactions no caller was told
 * about. `persist()` calls are coalesced: one dump serves every caller that asked before it began.
 * A 10 s timer also persists when the head moved (transactions that wallets sent through the RPC
 * gateway), and `stop()` persists once more before SIGTERM. Anvil loads the file with
 * `--load-state` at start.
 *
 * Exposure: no mnemonic and no accounts on Anvil's command line (`--accounts 0`: nothing is
 * unlocked, `ps` shows no secret; the node funds its dev accounts with `anvil_setBalance` on a
 * fresh chain), `--no-cors`, and a port of its own that only the node uses. Wallets and the CLI
 * reach the chain through the node's RPC gateway (rpc-gateway.ts), which refuses foreign origins,
 * foreign Host headers (DNS rebinding) and every method that is not plain `eth_`/`net_`/`web3_`.
 *
 * Lifecycle invariants:
 * - the port is probed before spawning, so "port in use" is a clear error instead of an Anvil panic;
 * - the child's PID is written to `<dataDir>/chain/anvil.pid` while it runs, so that a stale Anvil
 *   left by a killed node can be named in the error instead of a bare "port in use";
 * - the parent's 'exit' handler SIGTERMs the child, so a node that exits — normally, by
 *   process.exit or an uncaught exception — leaves no orphan. A node killed by SIGKILL cannot run
 *   handlers; the pid file covers that case on the next start (the orphan is asked for a last dump,
 *   then stopped).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { OpenLedgerError, configError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';

export interface AnvilOptions {
  /** Node data dir; Anvil's files live in `<dataDir>/chain/`. */
  dataDir: string;
  /** TCP port on 127.0.0.1 for JSON-RPC. */
  port: number;
  /**
   * Tests only (an Anvil standing in for an external chain with funded, unlocked accounts): the
   * mnemonic to derive `accounts` from. The node's embedded chain never passes it: it would be on
   * the command line for every local user to read, and the accounts would be unlocked.
   */
  mnemonic?: string;
  chainId?: number; // default 31337
  accounts?: number; // default 10 with a mnemonic, else 0
  /** Initial ETH balance of each dev account (with a mnemonic), in whole ether. Default 10000. */
  balanceEth?: number;
  /** How long to wait for `eth_chainId` to answer. Default 15 s. */
  readyTimeoutMs?: number;
  /** Override the binary (tests); default is the platform package's binary. */
  binary?: string;
}

export interface AnvilProcess {
  readonly pid: number;
  readonly rpcUrl: string;
  readonly statePath: string;
  /** Last lines Anvil wrote to stderr, for diagnostics. */
  readonly log: () => string;
  /**
   * Makes the chain's current state durable: dump over RPC, write the state file atomically.
   * Resolves once a dump begun after this call is on disk (calls are coalesced).
   */
  persist(): Promise<void>;
  /** Persist, SIGTERM, wait for exit, SIGKILL after `timeoutMs` (default 10 s). */
  stop(timeoutMs?: number): Promise<void>;
}

const PLATFORM_PACKAGES: Record<string, string> = {
  'linux-x64': '@foundry-rs/anvil-linux-amd64',
  'linux-arm64': '@foundry-rs/anvil-linux-arm64',
  'darwin-x64': '@foundry-rs/anvil-darwin-amd64',
  'darwin-arm64': '@foundry-rs/anvil-darwin-arm64',
  'win32-x64': '@foundry-rs/anvil-win32-amd64',
};

/** Path of the Anvil binary shipped by the npm package for this platform. */
export function anvilBinary(): string {
  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[key];
  if (!pkg) {
    throw configError(`Anvil has no npm build for ${key}`, {
      code: 'anvil_unsupported_platform',
      hint: 'run the node against an external chain with --rpc-url instead of the embedded Anvil',
    });
  }
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`);
  } catch (cause) {
    throw configError(`the Anvil binary package ${pkg} is not installed`, {
      code: 'anvil_missing',
      hint: 'run `npm ci` (optional dependencies must not be omitted), or pass --rpc-url to use an external chain',
      cause,
    });
  }
  const bin = join(dirname(pkgJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  if (!existsSync(bin)) {
    throw configError(`the Anvil binary is missing at ${bin}`, {
      code: 'anvil_missing',
      hint: 'reinstall with `npm ci`, or pass --rpc-url to use an external chain',
    });
  }
  return bin;
}

/** Resolves true when something already listens on 127.0.0.1:port. */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(true);
      else if (err.code === 'EACCES') reject(configError(`no permission to listen on port ${port}`, {
        param: 'chainPort', code: 'port_forbidden', hint: 'pass --chain-port with a port above 1024',
      }));
      else reject(err);
    });
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** kill(pid, 0), but a reaped-never zombie counts as gone (containers whose init does not reap). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by a parent that may never reap it) is not alive — unless only
  // its main thread has exited and other threads still run (and hold its sockets and files).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return true; // no /proc (macOS): trust kill(0)
  }
}

/** Anvil processes we started and have not seen exit; SIGTERMed from the 'exit' handler. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    }
  });
}

export async function startAnvil(opts: AnvilOptions): Promise<AnvilProcess> {
  const chainDir = join(opts.dataDir, 'chain');
  try {
    mkdirSync(chainDir, { recursive: true });
    accessSync(chainDir, constants.W_OK);
  } catch (cause) {
    throw configError(`cannot write the chain directory ${chainDir}: ${(cause as Error).message}`, {
      param: 'dataDir', code: 'data_dir_unwritable', hint: 'pass --data-dir with a directory this user can write', cause,
    });
  }
  const statePath = join(chainDir, 'anvil-state.json');
  const pidPath = join(chainDir, 'anvil.pid');
  const rpcUrl = `http://127.0.0.1:${opts.port}`;

  // An Anvil orphaned by a node that was SIGKILLed still holds the newest state (wallets may have
  // sent transactions to it): take its state, then stop it, before starting ours.
  await reclaimOrphan(pidPath, statePath);

  if (await portInUse(opts.port)) {
    const stale = existsSync(pidPath) ? Number(readFileSync(pidPath, 'utf8').trim()) : NaN;
    const staleHint = Number.isInteger(stale) && stale > 0 && pidAlive(stale)
      ? ` (an Anvil from an earlier run of this data dir, pid ${stale}, may still be running: stop it with \`kill ${stale}\`)`
      : '';
    throw configError(`chain port ${opts.port} is already in use${staleHint}`, {
      param: 'chainPort',
      code: 'port_in_use',
      hint: 'pass --chain-port with a free port, or stop the process that holds it',
      details: { port: opts.port },
    });
  }

  const binary = opts.binary ?? anvilBinary();
  const args = [
    '--host', '127.0.0.1',
    '--port', String(opts.port),
    '--chain-id', String(opts.chainId ?? 31337),
    '--no-cors',
    '--hardfork', 'cancun',
    ...(existsSync(statePath) ? ['--load-state', statePath] : []),
    ...(opts.mnemonic
      ? ['--mnemonic', opts.mnemonic, '--accounts', String(opts.accounts ?? 10), '--balance', String(opts.balanceEth ?? 10000)]
      : ['--accounts', '0']),
  ];
  // Tag for reclaimOrphan: which state file this Anvil belongs to (not passed as --state, which
  // would make Anvil dump on its own, non-atomically).
  const env = { ...process.env, OPENLEDGER_ANVIL_STATE: statePath };
  // stdout (a banner with the dev private keys, then a line per RPC call) is dropped; stderr, where
  // Anvil reports fatal errors, is kept so failures can quote it. Not detached: the child stays in
  // our process group, so a terminal's Ctrl-C reaches it too.
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  if (child.pid === undefined) {
    const err = await new Promise<Error>((r) => child.once('error', r));
    throw new OpenLedgerError(`could not start Anvil (${binary}): ${err.message}`, {
      type: 'chain_error', code: 'anvil_spawn_failed', hint: 'reinstall with `npm ci`', cause: err,
    });
  }
  const pid = child.pid;
  installExitHook();
  running.add(child);

  // Keep the last ~64 lines of output for error messages; never let the pipes fill up.
  const lines: string[] = [];
  const collect = (buf: Buffer) => {
    for (const l of buf.toString('utf8').split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > 64) lines.splice(0, lines.length - 64);
  };
  child.stderr!.on('data', collect);
  const log = () => lines.join('\n');

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      try {
        if (existsSync(pidPath) && readFileSync(pidPath, 'utf8').trim() === String(pid)) rmSync(pidPath);
      } catch {
        /* best effort */
      }
      resolve();
    });
  });
  writeFileSync(pidPath, `${pid}\n`);

  const persist = coalesced(async () => {
    if (exited) return;
    writeStateAtomically(statePath, await dumpState(rpcUrl));
  });
  // Transactions wallets send through the gateway are persisted by it; this timer is the backstop
  // for anything else that moves the head (tests mining blocks, time travel).
  let lastPersistedHead = -1n;
  const backstop = setInterval(() => {
    void (async () => {
      const head = BigInt(await rawRpc<string>(rpcUrl, 'eth_blockNumber'));
      if (head !== lastPersistedHead) {
        await persist();
        lastPersistedHead = head;
      }
    })().catch(() => { /* retried on the next tick; stop() persists too */ });
  }, 10_000);
  backstop.unref();

  const stop = async (timeoutMs = 10_000): Promise<void> => {
    clearInterval(backstop);
    if (exited) return;
    await persist().catch(() => { /* Anvil may be exiting already (Ctrl-C reaches the group) */ });
    // The child's own PID. It may already be exiting (a terminal's
    // Ctrl-C reaches the whole process group), so a vanished PID is not an error.
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) signal('SIGKILL');
    }, timeoutMs);
    await exitPromise;
    clearTimeout(timer);
  };

  try {
    await waitReady(rpcUrl, opts.readyTimeoutMs ?? 15_000, () => exited);
  } catch (err) {
    await stop(2_000).catch(() => {});
    throw explainStartFailure(err, log(), statePath, opts.port);
  }
  return { pid, rpcUrl, statePath, log, persist, stop };
}

/**
 * Linux only: the process in the pid file is an orphan of this data dir when it is alive, runs with
 * `--state <our state file>`, and its parent is gone (re-parented to init) or is not a node process.
 */
function orphanOfThisDataDir(pid: number, statePath: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (!environ.includes(`OPENLEDGER_ANVIL_STATE=${statePath}`)) return false;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid <= 1) return true;
    const parent = readFileSync(`/proc/${ppid}/comm`, 'utf8').trim();
    return parent !== 'node' && !parent.startsWith('node');
  } catch {
    return false;
  }
}

async function reclaimOrphan(pidPath: string, statePath: string): Promise<void> {
  if (!existsSync(pidPath)) return;
  const pid = Number(readFileSync(pidPath, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid) || !orphanOfThisDataDir(pid, statePath)) return;
  // Its newest state first (a wallet may have sent transactions after the node died).
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const port = argv[argv.indexOf('--port') + 1];
    writeStateAtomically(statePath, await dumpState(`http://127.0.0.1:${port}`));
  } catch {
    /* the last persisted state stands */
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 20));
}

async function waitReady(rpcUrl: string, timeoutMs: number, exited: () => unknown): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error('anvil exited during startup');
    try {
      const res = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(1_000),
      });
      if (res.ok && typeof ((await res.json()) as { result?: unknown }).result === 'string') return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function explainStartFailure(err: unknown, log: string, statePath: string, port: number): OpenLedgerError {
  const tail = log.split('\n').slice(-8).join('\n');
  if (/address already in use|AddrInUse/i.test(log)) {
    return configError(`chain port ${port} is already in use`, {
      param: 'chainPort', code: 'port_in_use', hint: 'pass --chain-port with a free port', cause: err,
    });
  }
  if (/state|json|deserializ|parse/i.test(log) && existsSync(statePath)) {
    const reason = log.split('\n').find((l) => /error/i.test(l))?.trim() ?? tail;
    return configError(`Anvil cannot load its state file ${statePath}: ${reason}`, {
      code: 'anvil_state_corrupt',
      hint: `move ${statePath} aside (this starts a fresh chain; also remove ${join(dirname(statePath), 'address-book.json')}) ` +
        'or restore it from a backup',
      details: { statePath },
      cause: err,
    });
  }
  const what = err instanceof Error && err.message === 'timeout' ? 'did not answer eth_chainId in time' : 'exited during startup';
  return new OpenLedgerError(`Anvil ${what} on port ${port}${tail ? `:\n${tail}` : ''}`, {
    type: 'chain_error',
    code: 'anvil_start_failed',
    hint: 'check the output above; pass --chain-port to use another port or --rpc-url to use an external chain',
    cause: err,
  });
}

async function rawRpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** The chain state as the JSON `--load-state` reads (anvil_dumpState answers it gzipped, hex-encoded). */
async function dumpState(rpcUrl: string): Promise<Buffer> {
  const hex = await rawRpc<string>(rpcUrl, 'anvil_dumpState');
  return gunzipSync(Buffer.from(hex.slice(2), 'hex'));
}

/** The chain state file, written atomically (old or new, never torn; see util/atomic-file.ts). */
export function writeStateAtomically(path: string, bytes: Uint8Array): void {
  writeFileAtomic(path, bytes, 0o600);
}

/**
 * Wraps `fn` so concurrent callers share runs: a call made while a run is in flight waits for the
 * next run (which starts after the current one), so every caller sees a run that began after it asked.
 */
export function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let current: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const p = fn().finally(() => {
      if (current === p) current = null;
    });
    current = p;
    return p;
  };
  return () => {
    if (!current) return start();
    if (!next) {
      const after = current.catch(() => {});
      next = after.then(() => {
        next = null;
        return start();
      });
    }
    return next;
  };
}
