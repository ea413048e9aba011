/**
 * The node's configuration: one typed object, parsed once at the edge (CLI flags + environment)
 * with zod, and passed down. Nothing below `cli/` or `server/main` reads argv or the environment.
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { configError } from '../util/errors.ts';
import { DaConfigSchema } from '../da/config.ts';
import { servingConfigSchema } from '../serving/config.ts';
import { rewardsConfigSchema } from '../rewards/config.ts';

const port = z.coerce.number().int().min(1).max(65535);
const hexKey = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex private key');
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte address');

export const PRESETS = { mainnet: 1612, testnet: 161201 } as const;

const seconds = z.coerce.number().int().min(0).max(365 * 86_400);
/** Governance timings used when the node deploys the contracts (ignored when attaching to a deployment). */
const governanceSchema = z
  .object({
    /** OpenTimelock min delay, seconds (default 60 embedded, 2 days external). */
    timelockDelay: seconds.optional(),
    /** OpenGovernor voting delay and period, seconds. */
    votingDelay: seconds.optional(),
    votingPeriod: seconds.min(1).optional(),
    /** Staking challenge window (a slash's veto window), seconds. */
    challengeWindow: seconds.min(60).optional(),
  })
  .strict();
export type PresetName = keyof typeof PRESETS;

export const NodeConfigSchema = z.object({
  /** Where the node keeps its store, chain state, keyring, blobs and models. */
  dataDir: z.string().min(1),
  /** HTTP API. */
  host: z.string().default('127.0.0.1'),
  port: port.default(7420),
  chain: z.discriminatedUnion('mode', [
    z.object({
      mode: z.literal('embedded'),
      /** Port of the embedded Anvil chain. */
      chainPort: port.default(8545),
      governance: governanceSchema.optional(),
    }),
    z.object({
      mode: z.literal('external'),
      rpcUrl: z.string().url(),
      /** Expected chain id; the node refuses an RPC that reports another. */
      chainId: z.number().int().positive().optional(),
      preset: z.enum(['mainnet', 'testnet']).optional(),
      /** The relayer/operator and deployer key, from OPENLEDGER_PRIVATE_KEY. */
      privateKey: hexKey,
      /** One key per power: OPENLEDGER_SETTLER_KEY, OPENLEDGER_ROOT_SUBMITTER_KEY, OPENLEDGER_SLASHER_KEY. */
      roleKeys: z.object({ settler: hexKey.optional(), rootSubmitter: hexKey.optional(), slasher: hexKey.optional() }).default({}),
      /** Where slashed stake goes (OPENLEDGER_TREASURY); default the OpenTimelock. */
      treasury: address.optional(),
      /** Optional guardian (OPENLEDGER_GUARDIAN): may only disable pending roots and veto slashes. */
      guardian: address.optional(),
      governance: governanceSchema.optional(),
      /** Deploy the contracts (true) or use an existing address book (false). */
      deploy: z.boolean().default(false),
      addressBookPath: z.string().optional(),
      /** On chains where OPEN is the gas token: the wrapped OPEN ERC-20 to use for payments. */
      openTokenAddress: address.optional(),
      confirmations: z.number().int().min(0).max(1000).optional(),
    }),
  ]),
  /** Data availability for snapshots and raw uploads: local content-addressed files, or an EigenDA proxy. */
  da: DaConfigSchema.default({ kind: 'local' }),
  /** Model serving (OpenAI-compatible completions): per-base batch and cache bounds. */
  serving: servingConfigSchema.prefault({}),
  /** Payable inference: fee shares, epoch length, base-model price (src/rewards). */
  rewards: rewardsConfigSchema.prefault({}),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type NodeConfig = z.infer<typeof NodeConfigSchema>;

export const DEFAULT_DATA_DIR = resolve(homedir(), '.openledger');

/** Parse and validate; every problem becomes one config_error listing each bad field. */
export function parseNodeConfig(input: unknown): NodeConfig {
  const r = NodeConfigSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw configError(`invalid node configuration:\n${lines.join('\n')}`, {
      code: 'invalid_config',
      param: r.error.issues[0]?.path.join('.') ?? null,
      hint: 'run `openledger up --help` for the accepted flags',
    });
  }
  const cfg = r.data;
  if (cfg.chain.mode === 'external') {
    const c = cfg.chain;
    if (c.preset && c.chainId !== undefined && c.chainId !== PRESETS[c.preset]) {
      throw configError(`--chain-id ${c.chainId} contradicts --network ${c.preset} (chain id ${PRESETS[c.preset]})`, {
        code: 'invalid_config',
        param: 'chain.chainId',
        hint: 'drop one of the two flags',
      });
    }
  }
  return { ...cfg, dataDir: resolve(cfg.dataDir) };
}
