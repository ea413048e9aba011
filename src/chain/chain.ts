/**
 * `startChain`: bring up (embedded) or attach to (external) the chain, make sure the contracts are
 * there — deploying them on first start — and hand back a `Chain`.
 *
 *   embedded: spawn Anvil → role keys from the mnemonic (relayer 0, settler 1001, root submitter 1002,
 *             slasher 1003) → address book? verify : deploy + write
 *   external: probe eth_chainId (short timeout) → must equal preset/--chain-id → four distinct role keys →
 *             address book? verify : (deploy ? deploy + write : error naming the missing book)
 *   verify = code at every address + the governance check (timelock admin everywhere, each key its role,
 *            no key admin anywhere) + the book's role addresses equal the keys the node was given
 *
 * Whatever fails after Anvil started stops it again, so a failed start leaves no process behind.
 */
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import type { Account, Address, Chain as ViemChain } from 'viem';
import { configError } from '../util/errors.ts';
import { defaultAddressBookPath, readAddressBook, verifyAddressBook, writeAddressBook, type AddressBook } from './address-book.ts';
import { startAnvil, type AnvilProcess } from './anvil.ts';
import { makePublicClient, makeWalletClient, probeChainId, redactUrl, type NodeWalletClient } from './clients.ts';
import { checkGovernance, deployContracts, type DeployHooks, type DeployParams } from './deploy.ts';
import { embeddedRoles, roleAddresses, rolesFromKeys, type NodeRoles, type RoleName } from './roles.ts';
import { customChain, presets, presetForChainId, type ChainPreset } from './presets.ts';
import type { Chain, ChainConfig } from './types.ts';

export interface StartChainOptions {
  /** Deploy-time parameters (delays); defaults depend on embedded vs external. */
  deployParams?: Partial<DeployParams>;
  /** Test hooks into the deploy sequence (e.g. to make a step fail). */
  deployHooks?: DeployHooks;
}

/** Dev account indexes 1..n of the mnemonic (0 is the operator). */
export function devAccounts(mnemonic: string, n: number): Account[] {
  return Array.from({ length: n }, (_, i) => mnemonicToAccount(mnemonic, { addressIndex: i + 1 }));
}

export async function startChain(config: ChainConfig, opts: StartChainOptions = {}): Promise<Chain> {
  return config.mode === 'embedded' ? startEmbedded(config, opts) : attachExternal(config, opts);
}

async function startEmbedded(config: Extract<ChainConfig, { mode: 'embedded' }>, opts: StartChainOptions): Promise<Chain> {
  let operator: Account;
  let roles: NodeRoles;
  try {
    operator = mnemonicToAccount(config.mnemonic, { addressIndex: 0 });
    roles = embeddedRoles(config.mnemonic);
  } catch (cause) {
    throw configError('the dev keyring mnemonic is not a valid BIP-39 phrase', {
      param: 'mnemonic', code: 'invalid_mnemonic', hint: 'fix or remove the keyring file in the data dir so a new one is created', cause,
    });
  }
  const anvil = await startAnvil({ dataDir: config.dataDir, port: config.chainPort, mnemonic: config.mnemonic });
  try {
    const preset = presets.local;
    const viemChain: ViemChain = { ...preset.chain, rpcUrls: { default: { http: [anvil.rpcUrl] } } };
    const bookPath = defaultAddressBookPath(config.dataDir);
    const chain = assemble({
      rpcUrl: anvil.rpcUrl, viemChain, preset, operator, roles, embedded: true, confirmations: 0, anvil,
    });
    const book = readAddressBook(bookPath);
    if (book) {
      await verifyAddressBook(chain.publicClient, book, bookPath);
      await verifyRoles(chain, book, bookPath);
      chain.addresses = book;
    } else {
      const devs = devAccounts(config.mnemonic, config.devAccounts ?? 4);
      chain.addresses = await deployContracts({
        publicClient: chain.publicClient,
        wallet: chain.walletFor(operator),
        roles: roleAddresses(roles),
        embedded: true,
        // The operator too: it funds reward pools and pays for relayed purchases on the local chain.
        mintTo: [operator.address, ...devs.map((a) => a.address)],
        mintWei: config.devMintWei ?? 1_000_000n * 10n ** 18n,
        gasFunding: 100n * 10n ** 18n,
        params: opts.deployParams,
        hooks: opts.deployHooks,
      });
      writeAddressBook(bookPath, chain.addresses);
    }
    return chain;
  } catch (err) {
    await anvil.stop().catch(() => {});
    throw err;
  }
}

async function attachExternal(config: Extract<ChainConfig, { mode: 'external' }>, opts: StartChainOptions): Promise<Chain> {
  const named = config.preset ? presets[config.preset] : undefined;
  if (config.preset && !named) {
    throw configError(`unknown chain preset "${config.preset}"`, { param: 'preset', hint: 'use --network mainnet or --network testnet' });
  }
  if (named && config.chainId !== undefined && config.chainId !== named.chain.id) {
    throw configError(`--chain-id ${config.chainId} contradicts --network ${config.preset} (chain ${named.chain.id})`, {
      param: 'chainId', code: 'chain_id_mismatch', hint: 'pass either --network or --chain-id, not both',
    });
  }
  const expected = named?.chain.id ?? config.chainId;
  if (expected === undefined) {
    throw configError('an external chain needs its chain id', {
      param: 'chainId', code: 'chain_id_required', hint: 'pass --chain-id <id>, or --network mainnet|testnet',
    });
  }
  let operator: Account;
  try {
    operator = privateKeyToAccount(config.privateKey);
  } catch (cause) {
    throw configError('the operator private key is not a 32-byte hex string', {
      param: 'privateKey', code: 'invalid_private_key', hint: 'set the key variable to 0x followed by 64 hex digits', cause,
    });
  }
  const roles = rolesFromKeys({ relayer: config.privateKey, ...config.roleKeys });
  const actual = await probeChainId(config.rpcUrl);
  if (actual !== expected) {
    throw configError(`the RPC at ${redactUrl(config.rpcUrl)} serves chain ${actual}, but chain ${expected} was expected`, {
      param: 'chainId',
      code: 'wrong_chain_id',
      hint: `point --rpc-url at chain ${expected}, or pass --chain-id ${actual} if that chain is the one you mean`,
      details: { expected, actual },
    });
  }
  const preset: ChainPreset = named ?? presetForChainId(actual) ?? {
    name: 'local', chain: customChain(actual, config.rpcUrl), nativeIsOpen: false, confirmations: 12, moneyReadTag: 'finalized', pollingIntervalMs: 1_000,
  };
  const viemChain: ViemChain = { ...preset.chain, rpcUrls: { default: { http: [config.rpcUrl] } } };
  const chain = assemble({
    rpcUrl: config.rpcUrl,
    viemChain,
    preset,
    operator,
    roles,
    embedded: false,
    confirmations: config.confirmations ?? (preset.name === 'local' ? 12 : preset.confirmations),
    anvil: null,
  });
  chain.moneyReadTag = 'finalized';
  const bookPath = config.addressBookPath ?? defaultAddressBookPath(config.dataDir);
  const book = readAddressBook(bookPath);
  if (book) {
    await verifyAddressBook(chain.publicClient, book, bookPath);
    await verifyRoles(chain, book, bookPath);
    chain.addresses = book;
    return chain;
  }
  if (config.addressBookPath && !config.deploy) {
    throw configError(`no address book at ${config.addressBookPath}`, {
      param: 'addressBookPath', code: 'address_book_missing', hint: 'check the path, or pass --deploy to deploy the contracts with the operator key',
    });
  }
  if (!config.deploy) {
    throw configError(`no contracts are known on chain ${actual}: there is no address book at ${bookPath}`, {
      param: 'addressBookPath',
      code: 'address_book_missing',
      hint: 'pass --address-book <file> from an earlier deployment, or --deploy to deploy the contracts with the operator key',
    });
  }
  if (preset.nativeIsOpen && !config.openTokenAddress) {
    throw configError(`OPEN is the gas token on chain ${actual}; payments need the wrapped-OPEN ERC-20 address`, {
      param: 'openTokenAddress', code: 'open_token_required', hint: 'pass --open-token <wrapped OPEN address>',
    });
  }
  chain.addresses = await deployContracts({
    publicClient: chain.publicClient,
    wallet: chain.walletFor(operator),
    roles: roleAddresses(roles),
    embedded: false,
    openTokenAddress: config.openTokenAddress,
    mintTo: [],
    mintWei: 0n,
    params: opts.deployParams,
    hooks: opts.deployHooks,
  });
  writeAddressBook(bookPath, chain.addresses);
  return chain;
}

/**
 * The keys the node was given must be the ones the contracts were wired for, and the contracts must still be
 * governed as deployed (a governance vote may since have moved a role: then the new holder's key is needed).
 */
async function verifyRoles(chain: Chain, book: AddressBook, bookPath: string): Promise<void> {
  const mine = roleAddresses(chain.roles);
  for (const role of Object.keys(mine) as RoleName[]) {
    if (mine[role].toLowerCase() !== book.roles[role].toLowerCase()) {
      throw configError(`the ${role} key is ${mine[role]}, but the contracts in ${bookPath} were wired for ${book.roles[role]}`, {
        code: 'role_key_mismatch',
        param: role,
        hint: chain.embedded
          ? 'the dev keyring changed since deployment: restore its mnemonic, or remove the chain dir to redeploy'
          : `start with the key of ${book.roles[role]} for the ${role} (see \`openledger up --help\`)`,
      });
    }
  }
  const problems = await checkGovernance(chain.publicClient, book);
  if (problems.length) {
    throw configError(`the contracts in ${bookPath} are not governed as deployed: ${problems.join('; ')}`, {
      code: 'governance_mismatch',
      hint: 'a governance decision changed the roles: update the address book roles and keys to match, or redeploy',
      details: { problems },
    });
  }
}

function assemble(p: {
  rpcUrl: string;
  viemChain: ViemChain;
  preset: ChainPreset;
  operator: Account;
  roles: NodeRoles;
  embedded: boolean;
  confirmations: number;
  anvil: AnvilProcess | null;
}): Chain {
  const publicClient = makePublicClient(p.rpcUrl, p.viemChain, p.preset.pollingIntervalMs);
  const wallets = new Map<Address, NodeWalletClient>();
  let stopped = false;
  return {
    chainId: p.viemChain.id,
    rpcUrl: p.rpcUrl,
    embedded: p.embedded,
    publicClient,
    operator: p.operator,
    roles: p.roles,
    walletFor(account: Account) {
      let w = wallets.get(account.address);
      if (!w) wallets.set(account.address, (w = makeWalletClient(p.rpcUrl, p.viemChain, account, p.preset.pollingIntervalMs)));
      return w;
    },
    addresses: undefined as unknown as AddressBook, // set by the caller before the chain is handed out
    moneyReadTag: p.preset.moneyReadTag,
    confirmations: p.confirmations,
    anvilPid: p.anvil?.pid ?? null,
    async stop() {
      if (stopped) return;
      stopped = true;
      await p.anvil?.stop();
    },
  };
}
