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
    .option('--da <kind>', 'data availability: local (blob files in the data dir) | eigenda', 'local')
    .option('--eigenda-url <url>', 'EigenDA proxy URL for --da eigenda, e.g. http://127.0.0.1:3100')
    .option('--max-running <n>', 'serving: sequences decoding together per base model (default min(64, batch tokens))')
    .option('--max-adapters <n>', 'serving: LoRA adapters kept loaded per base model (default 16)')
    .option('--kv-tokens <n>', 'serving: KV cache budget in tokens per base model (default min(4 × context, 8192))')
    .option('--requests-per-minute <n>', 'quotas: completions + embeddings per caller per minute (default 600; 0 = off)')
    .option('--tokens-per-minute <n>', 'quotas: prompt + completion tokens per caller per minute (default 1000000; 0 = off)')
    .option('--max-files <n>', 'quotas: uploaded training files per caller (default 100; 0 = off)')
    .option('--max-file-bytes <n>', 'quotas: bytes of uploaded files per caller (default 1 GiB; 0 = off)')
    .option('--max-queued-jobs <n>', 'quotas: unfinished fine-tuning jobs per caller (default 4; 0 = off)')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent', 'info')
    .addHelpText(
      'after',
      `
Environment:
  OPENLEDGER_PRIVATE_KEY   operator key (0x…) for --rpc-url; never passed as a flag
  OPENLEDGER_DATA_DIR      default for --data-dir

Examples:
  openledger up                                   # embedded chain in ~/.openledger
  openledger up --data-dir ./node1 --port 7421 --chain-port 8546
  OPENLEDGER_PRIVATE_KEY=0x… openledger up --network testnet --rpc-url https://rpctn.openledger.xyz --deploy`,
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
        quotas: Object.fromEntries(([['requestsPerMinute', o.requestsPerMinute], ['tokensPerMinute', o.tokensPerMinute], ['maxFiles', o.maxFiles], ['maxFileBytes', o.maxFileBytes], ['maxQueuedJobs', o.maxQueuedJobs]] as const)
          .filter(([, v]) => v !== undefined).map(([k, v]) => [k, Number(v)])),
        chain: external
          ? {
              mode: 'external',
              rpcUrl: o.rpcUrl ?? presetUrl[o.network as PresetName],
              preset: o.network,
              chainId: o.chainId !== undefined ? Number(o.chainId) : undefined,
              privateKey: process.env.OPENLEDGER_PRIVATE_KEY,
              deploy: Boolean(o.deploy),
              addressBookPath: o.addressBook,
              openTokenAddress: o.openToken,
              confirmations: o.confirmations !== undefined ? Number(o.confirmations) : undefined,
            }
          : { mode: 'embedded', chainPort: o.chainPort },
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
