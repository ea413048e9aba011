/** `openledger up`: run the node in the foreground until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { DEFAULT_DATA_DIR, parseNodeConfig, PRESETS, type PresetName } from '../../config/index.ts';
import { configError } from '../../util/errors.ts';

export function upCommand(program: Command) {
  program
    .command('up')
    .description('start the node: store, chain (embedded Anvil by default), indexer and HTTP API')
    .option('--data-dir <dir>', 'data directory', process.env.OPENLEDGER_DATA_DIR ?? DEFAULT_DATA_DIR)
    .option('--host <host>', 'API listen address', '127.0.0.1')
    .option('--port <port>', 'API port', '7420')
    .option('--chain-port <port>', 'port of the embedded Anvil chain', '8545')
    .option('--rpc-url <url>', 'attach to an external EVM chain instead of the embedded one')
    .option('--network <name>', `preset for an external chain: ${Object.keys(PRESETS).join(' | ')}`)
    .option('--chain-id <id>', 'expected chain id of --rpc-url')
    .option('--deploy', 'deploy the contracts on the external chain (key from OPENLEDGER_PRIVATE_KEY)', false)
    .option('--address-book <file>', 'use contracts already deployed on the external chain')
    .option('--open-token <address>', 'ERC-20 used as OPEN where OPEN is the gas token (wrapped OPEN)')
    .option('--confirmations <n>', 'indexer confirmation depth on an external chain')
    .option('--timelock-delay <seconds>', 'governance: timelock delay when deploying (default 60 embedded, 172800 = 2 days external)')
    .option('--voting-delay <seconds>', 'governance: seconds from proposal to voting (default 1 embedded, 86400 external)')
    .option('--voting-period <seconds>', 'governance: voting length (default 60 embedded, 259200 = 3 days external)')
    .option('--challenge-window <seconds>', 'governance: veto window of a proposed slash (default 3600 embedded, 7 days external)')
    .option('--da <kind>', 'data availability: local (blob files in the data dir) | eigenda', 'local')
    .option('--eigenda-url <url>', 'EigenDA proxy URL for --da eigenda, e.g. http://127.0.0.1:3100')
    .option('--max-running <n>', 'serving: sequences decoding together per base model (default min(64, batch tokens))')
    .option('--max-adapters <n>', 'serving: LoRA adapters kept loaded per base model (default 16)')
    .option('--kv-tokens <n>', 'serving: KV cache budget in tokens per base model (default min(4 × context, 8192))')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent', 'info')
    .addHelpText(
      'after',
      `
Environment (keys are never passed as flags; on --rpc-url each role is a different key, none of them admin):
  OPENLEDGER_PRIVATE_KEY         relayer/operator: OPERATOR_ROLE on the registries (relays owner calls,
                                 createDatanetFor, registerModelFor); deploys with --deploy, then renounces admin
  OPENLEDGER_SETTLER_KEY         settler: InferenceEscrow.settle, only within each payer's signed spend authorization
  OPENLEDGER_ROOT_SUBMITTER_KEY  root submitter: RewardsDistributor.submitRoot/disableRoot, totals ≤ what was paid in
  OPENLEDGER_SLASHER_KEY         slasher: Staking.proposeSlash with evidence, capped, executable after the challenge
                                 window unless governance vetoes it
  OPENLEDGER_TREASURY            (optional, --deploy) address receiving slashed stake; default the OpenTimelock
  OPENLEDGER_GUARDIAN            (optional, --deploy) address that may only disable pending roots and veto slashes
  OPENLEDGER_DATA_DIR            default for --data-dir
  Admin of every contract and owner of OPEN: the OpenTimelock, whose only proposer is the OpenGovernor (OPEN votes).
  The embedded chain sets all of this up from the dev keyring (relayer index 0, settler 1001, root submitter 1002,
  slasher 1003; 100 ETH each for gas). See contracts/README.md.

Examples:
  openledger up                                   # embedded chain in ~/.openledger
  openledger up --data-dir ./node1 --port 7421 --chain-port 8546
  OPENLEDGER_PRIVATE_KEY=0x… OPENLEDGER_SETTLER_KEY=0x… OPENLEDGER_ROOT_SUBMITTER_KEY=0x… OPENLEDGER_SLASHER_KEY=0x… \\
    openledger up --network testnet --rpc-url https://rpctn.openledger.xyz --deploy`,
    )
    .action(async (o) => {
      const external = Boolean(o.rpcUrl || o.network);
      if (!external && (o.deploy || o.addressBook || o.chainId)) {
        throw configError('--deploy, --address-book and --chain-id apply to an external chain', {
          param: 'rpc-url',
          hint: 'add --rpc-url <url> (and --network mainnet|testnet), or drop those flags to use the embedded chain',
        });
      }
      if (o.network && !(o.network in PRESETS)) {
        throw configError(`unknown network "${o.network}"`, { param: 'network', hint: `use one of: ${Object.keys(PRESETS).join(', ')}` });
      }
      if (external && !process.env.OPENLEDGER_PRIVATE_KEY) {
        throw configError('an external chain needs the operator key in OPENLEDGER_PRIVATE_KEY', {
          param: 'OPENLEDGER_PRIVATE_KEY',
          hint: 'export OPENLEDGER_PRIVATE_KEY=0x<64 hex digits> (a funded account on that chain)',
        });
      }
      const governance = {
        ...(o.timelockDelay !== undefined ? { timelockDelay: o.timelockDelay } : {}),
        ...(o.votingDelay !== undefined ? { votingDelay: o.votingDelay } : {}),
        ...(o.votingPeriod !== undefined ? { votingPeriod: o.votingPeriod } : {}),
        ...(o.challengeWindow !== undefined ? { challengeWindow: o.challengeWindow } : {}),
      };
      const presetUrl: Record<PresetName, string> = { mainnet: 'https://rpc.openledger.xyz', testnet: 'https://rpctn.openledger.xyz' };
      const config = parseNodeConfig({
        dataDir: o.dataDir,
        host: o.host,
        port: o.port,
        logLevel: o.logLevel,
        da: o.da === 'eigenda' ? { kind: 'eigenda', url: o.eigendaUrl } : { kind: o.da },
        serving: {
          ...(o.maxRunning !== undefined ? { maxRunning: Number(o.maxRunning) } : {}),
          ...(o.maxAdapters !== undefined ? { maxAdapters: Number(o.maxAdapters) } : {}),
          ...(o.kvTokens !== undefined ? { kvTokens: Number(o.kvTokens) } : {}),
        },
        chain: external
          ? {
              mode: 'external',
              rpcUrl: o.rpcUrl ?? presetUrl[o.network as PresetName],
              preset: o.network,
              chainId: o.chainId !== undefined ? Number(o.chainId) : undefined,
              privateKey: process.env.OPENLEDGER_PRIVATE_KEY,
              roleKeys: {
                settler: process.env.OPENLEDGER_SETTLER_KEY || undefined,
                rootSubmitter: process.env.OPENLEDGER_ROOT_SUBMITTER_KEY || undefined,
                slasher: process.env.OPENLEDGER_SLASHER_KEY || undefined,
              },
              treasury: process.env.OPENLEDGER_TREASURY || undefined,
              guardian: process.env.OPENLEDGER_GUARDIAN || undefined,
              governance,
              deploy: Boolean(o.deploy),
              addressBookPath: o.addressBook,
              openTokenAddress: o.openToken,
              confirmations: o.confirmations !== undefined ? Number(o.confirmations) : undefined,
            }
          : { mode: 'embedded', chainPort: o.chainPort, governance },
      });
      const { startNode } = await import('../../node.ts');
      const t0 = Date.now();
      const node = await startNode(config, { onProgress: (l) => console.log(l), logger: config.logLevel === 'debug' || config.logLevel === 'trace' });
      console.log(`openledger node up in ${((Date.now() - t0) / 1000).toFixed(1)} s — Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) return;
          stopping = true;
          console.log(`\n${sig}: stopping…`);
          node.stop().then(() => {
            console.log('stopped');
            resolve();
          }, (e) => {
            console.error('error while stopping:', e);
            resolve();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
