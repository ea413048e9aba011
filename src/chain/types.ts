/** The chain layer's public types: the config `startChain` takes and the handle it returns. */
import type { Abi, Account, Address, Hex } from 'viem';
import type { AddressBook } from './address-book.ts';
import type { NodePublicClient, NodeWalletClient } from './clients.ts';
import type { NodeRoles } from './roles.ts';

export type ChainConfig =
  | {
      /** Anvil as a child process, state in `<dataDir>/chain/`. */
      mode: 'embedded';
      dataDir: string;
      chainPort: number;
      /** Dev keyring mnemonic: account 0 is the operator, 1.. are funded dev accounts. */
      mnemonic: string;
      /** Origins (scheme://host:port) whose web pages may call the chain RPC gateway; default none. */
      allowedOrigins?: string[];
      /** Dev accounts (indexes 1..devAccounts) that get OPEN minted on first deploy (the operator too). Default 4. */
      devAccounts?: number;
      /** OPEN (wei) minted to each dev account on first deploy. Default 1,000,000 OPEN. */
      devMintWei?: bigint;
    }
  | {
      /** Any EVM JSON-RPC endpoint. */
      mode: 'external';
      dataDir: string;
      rpcUrl: string;
      /** Expected chain id; defaults to the preset's. One of chainId/preset is required. */
      chainId?: number;
      preset?: 'mainnet' | 'testnet';
      /** Relayer (operator) and deployer key, OPENLEDGER_PRIVATE_KEY (read from the environment by the CLI, never argv). */
      privateKey: Hex;
      /** The other role keys, one per power (OPENLEDGER_SETTLER_KEY, …_ROOT_SUBMITTER_KEY, …_SLASHER_KEY). All
       *  four keys must be different accounts. */
      roleKeys: { settler?: Hex; rootSubmitter?: Hex; slasher?: Hex };
      /** Deploy the contracts when there is no address book yet. */
      deploy: boolean;
      /** Existing address book; default `<dataDir>/chain/address-book.json`. */
      addressBookPath?: string;
      /** ERC-20 used for payments instead of deploying OpenToken (wrapped OPEN on OpenLedger chains). */
      openTokenAddress?: Address;
      /** Indexer confirmation depth; default 12. */
      confirmations?: number;
    };

export interface Chain {
  chainId: number;
  /** The RPC the node itself uses (embedded: Anvil's own port, which only the node should call). */
  rpcUrl: string;
  /** The RPC wallets and the CLI use (embedded: the gateway on chainPort; external: rpcUrl). */
  publicRpcUrl: string;
  embedded: boolean;
  publicClient: NodePublicClient;
  /** The node's relayer (OPERATOR_ROLE on the registries) and deployer; the same account as `roles.relayer`.
   *  Holds no admin role and no money role. */
  operator: Account;
  /** One key per power (src/chain/roles.ts): relayer, settler, root submitter, slasher. */
  roles: NodeRoles;
  /** A wallet client that signs as `account` (dev-keyring users, the operator). */
  walletFor(account: Account): NodeWalletClient;
  addresses: AddressBook;
  /** 'finalized' on real chains, 'latest' on the embedded Anvil. */
  moneyReadTag: 'latest' | 'finalized';
  /** Indexer confirmation depth (0 embedded, 12 external by default). */
  confirmations: number;
  /** Embedded only: the Anvil child's PID (null when external). */
  anvilPid: number | null;
  /**
   * Makes every mined transaction durable (embedded: Anvil's state file written atomically).
   * `sendContractTx` awaits it after each receipt, so the store never records what the chain could
   * lose in a crash. External chains: a no-op (durability there is the chain's; reads use confirmations).
   */
  persist(): Promise<void>;
  stop(): Promise<void>;
}

/** A contract the indexer follows (here, not in indexer.ts, so contracts.ts and indexer.ts do not import each other). */
export interface IndexedContract {
  name: string;
  address: Address;
  abi: Abi;
}
