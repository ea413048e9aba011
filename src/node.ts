/**
 * The node: one process that owns the data dir, the store, the chain (embedded Anvil or an
 * external RPC), the indexer and the HTTP API. `startNode` brings them up in dependency order and
 * unwinds whatever it started if a later step fails, so a failed start leaves nothing running.
 */
import type { FastifyInstance } from 'fastify';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { nodeOrigins, type NodeConfig } from './config/index.ts';
import { startChain, startIndexer, type Chain } from './chain/index.ts';
import { Auth, loadOrCreateKeyring, type Keyring } from './identity/index.ts';
import { buildApp, type NodeServices } from './server/index.ts';
import { configureRedaction, configureServerErrorLog } from './server/errors.ts';
import { homedir, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openStore, type Store } from './store/index.ts';
import { configError } from './util/errors.ts';
import { openBlobStore, type BlobStore } from './da/index.ts';
import { ensureStarterModel, ModelCatalog } from './models/index.ts';
import { VERSION } from './version.ts';
import { reconcileDatanets } from './datanets/reconcile.ts';
import { loadOrCreateDaKey } from './datanets/sealed.ts';
import { reconcileModels } from './factory/reconcile.ts';

export interface RunningNode {
  services: NodeServices;
  app: FastifyInstance;
  /** Base URL of the HTTP API (when listening). */
  url: string | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Listen on config.host:config.port (default true). Tests use `app.inject` without a port. */
  listen?: boolean;
  logger?: boolean;
  /** Progress lines for the CLI. */
  onProgress?: (line: string) => void;
  /** Hook for modules to register extra services and routes before the server starts. */
  extend?: (s: NodeServices) => Promise<void> | void;
}

export async function startNode(config: NodeConfig, opts: StartOptions = {}): Promise<RunningNode> {
  const say = opts.onProgress ?? (() => {});
  const undo: Array<() => Promise<void> | void> = [];
  const unwind = async () => {
    for (const f of undo.reverse()) {
      try {
        await f();
      } catch {
        /* best effort while unwinding */
      }
    }
  };
  const origins = nodeOrigins(config);
  try {
    // The data dir holds keys, the store and private datanets' rows: this user only. The umask makes
    // every file the node creates from here on 0600 / 0700; chmod fixes dirs made by older versions.
    process.umask(0o077);
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(config.dataDir, 0o700);
    const store: Store = openStore(config.dataDir);
    for (const f of ['store.sqlite', 'store.sqlite-wal', 'store.sqlite-shm']) {
      if (existsSync(join(config.dataDir, f))) chmodSync(join(config.dataDir, f), 0o600);
    }
    undo.push(() => store.close());
    say(`store: ${config.dataDir}/store.sqlite`);

    let keyring: Keyring | null = null;
    let chain: Chain;
    if (config.chain.mode === 'embedded') {
      keyring = loadOrCreateKeyring(config.dataDir);
      say('chain: starting embedded Anvil…');
      chain = await startChain(
        { mode: 'embedded', dataDir: config.dataDir, chainPort: config.chain.chainPort, mnemonic: keyring.mnemonic, allowedOrigins: origins },
        { deployParams: governanceDeployParams(config.chain.governance) },
      );
    } else {
      const c = config.chain;
      say(`chain: connecting to ${c.rpcUrl}…`);
      chain = await startChain({
        mode: 'external',
        dataDir: config.dataDir,
        rpcUrl: c.rpcUrl,
        chainId: c.chainId,
        preset: c.preset,
        privateKey: c.privateKey as `0x${string}`,
        roleKeys: c.roleKeys as { settler?: `0x${string}`; rootSubmitter?: `0x${string}`; slasher?: `0x${string}` },
        deploy: c.deploy,
        addressBookPath: c.addressBookPath,
        openTokenAddress: c.openTokenAddress as `0x${string}` | undefined,
        confirmations: c.confirmations,
      }, {
        deployParams: {
          ...governanceDeployParams(c.governance),
          ...(c.treasury ? { treasury: c.treasury as `0x${string}` } : {}),
          ...(c.guardian ? { guardian: c.guardian as `0x${string}` } : {}),
        },
      });
    }
    undo.push(() => chain.stop());
    say(`chain: id ${chain.chainId} at ${chain.publicRpcUrl}`);

    // A store belongs to one chain: refuse to mix indexes of two chains in one data dir.
    const boundChain = store.meta.get('chain_id');
    if (boundChain && Number(boundChain) !== chain.chainId) {
      throw configError(`data dir ${config.dataDir} holds the store of chain ${boundChain}, but the chain is ${chain.chainId}`, {
        code: 'store_wrong_chain',
        hint: 'use a separate --data-dir for each chain',
      });
    }
    store.meta.set('chain_id', String(chain.chainId));
    // Same chain id but another chain (a reset Anvil, a new devnet): the index would mix two histories.
    const genesis = chain.addresses.genesisHash;
    const boundGenesis = store.meta.get('genesis_hash');
    if (boundGenesis && boundGenesis !== genesis) {
      throw configError(`data dir ${config.dataDir} indexed a chain with genesis ${boundGenesis}, but this chain's genesis is ${genesis}`, {
        code: 'store_wrong_chain',
        hint: 'the chain was reset or replaced: use a fresh --data-dir (or move store.sqlite away to re-index from scratch)',
      });
    }
    store.meta.set('genesis_hash', genesis);

    const indexer = startIndexer(chain, store.chainIndex);
    undo.push(() => indexer.stop());
    await indexer.syncOnce();

    const auth = new Auth({ repo: store.identity, publicClient: chain.publicClient, chainId: chain.chainId, domains: origins.map((o) => new URL(o).host) });
    const services: NodeServices = {
      config,
      version: VERSION,
      store,
      chain,
      auth,
      keyring,
      waitForIndex: (n) => indexer.waitFor(n),
      modules: {},
    };
    // The blob store (snapshots, raw uploads, model cards): local files or an EigenDA proxy.
    services.modules.da = await openBlobStore(config.da, config.dataDir);
    say(`da: ${config.da.kind === 'local' ? 'local blob files' : `EigenDA proxy at ${config.da.url}`}`);
    services.modules.daKey = loadOrCreateDaKey(config.dataDir);
    // Chain writes are durable before the store records them; what a crash left on chain but not in
    // the store (the node died between the two) is rebuilt here from the indexed events and DA.
    const rec = await reconcileDatanets({
      db: store.db, chain, chainIndex: store.chainIndex, blobs: services.modules.da as BlobStore, daKey: services.modules.daKey as Uint8Array, log: say,
    });
    const recModels = await reconcileModels({ db: store.db, chain, chainIndex: store.chainIndex, blobs: services.modules.da as BlobStore, dataDir: config.dataDir, log: say });
    const fixed = rec.datanetsRebuilt.length + rec.versionsRebuilt.length + rec.purchasesAdded + rec.datanetsRolledBack.length + rec.versionsRolledBack.length + rec.purchasesRolledBack + rec.uploadsDiscarded.length + recModels.rebuilt + recModels.rolledBack;
    if (fixed > 0) say(`reconcile: store and chain agree again (${JSON.stringify({ ...rec, foreign: rec.foreign.length, models: recModels })})`);
    // The shipped starter model in the catalog (by path and weight hash), unless the user removed it.
    // A broken starter is reported, not fatal: every other part of the node works without it.
    try {
      const r = await ensureStarterModel(new ModelCatalog(config.dataDir));
      if (r.status === 'added' || r.status === 'present') say(`models: starter (${r.entry.path}, sha256 ${r.entry.sha256.slice(0, 16)}…) is the default base model`);
    } catch (e) {
      say(`models: starter model not registered: ${(e as Error).message}`);
    }
    if (opts.extend) await opts.extend(services);

    // 5xx causes reach stderr at every log level but silent (src/server/errors.ts).
    configureServerErrorLog(config.logLevel === 'silent' ? () => {} : (line) => process.stderr.write(line + '\n'));
    configureRedaction({ 'data-dir': config.dataDir, checkout: fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''), home: homedir(), tmp: tmpdir() });
    const app = await buildApp(services, { logger: opts.logger ?? false });
    undo.push(() => app.close());
    let url: string | null = null;
    if (opts.listen !== false) {
      try {
        await app.listen({ host: config.host, port: config.port });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw configError(`port ${config.port} on ${config.host} is already in use`, {
            code: 'port_in_use',
            param: 'port',
            hint: 'stop whatever listens there, or start with --port <another port>',
          });
        }
        throw e;
      }
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      url = `http://${config.host}:${port}`;
      say(`api: ${url} (docs at ${url}/docs) · studio: ${url}/`);
    } else {
      await app.ready();
    }

    let stopped = false;
    return {
      services,
      app,
      url,
      async stop() {
        if (stopped) return;
        stopped = true;
        await unwind();
      },
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}

/** Governance timings from the config (seconds) as deploy parameters; unset ones keep the defaults. */
function governanceDeployParams(g: { timelockDelay?: number; votingDelay?: number; votingPeriod?: number; challengeWindow?: number } | undefined) {
  const out: { timelockDelay?: bigint; votingDelay?: bigint; votingPeriod?: bigint; challengeWindow?: bigint } = {};
  if (g?.timelockDelay !== undefined) out.timelockDelay = BigInt(g.timelockDelay);
  if (g?.votingDelay !== undefined) out.votingDelay = BigInt(g.votingDelay);
  if (g?.votingPeriod !== undefined) out.votingPeriod = BigInt(g.votingPeriod);
  if (g?.challengeWindow !== undefined) out.challengeWindow = BigInt(g.challengeWindow);
  return out;
}
