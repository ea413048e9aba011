/**
 * The address book: which chain the contracts live on and where. Written once, after a deploy has
 * been verified, atomically (temp file → fsync → rename → fsync dir), so that a file that exists
 * always points at contracts that exist. On every start it is checked against the RPC: chain id,
 * genesis block hash (tells two Anvil chains with the same id apart) and code at each address.
 *
 * File shape (`<dataDir>/chain/address-book.json`):
 *   { "version": 2, "chainId": 31337, "genesisHash": "0x…", "deploymentBlock": "1",
 *     "deployer": "0x…", "externalToken": false, "createdAt": "2026-…Z",
 *     "treasury": "0x…", "timelock": "0x…",
 *     "roles": { "relayer": "0x…", "settler": "0x…", "rootSubmitter": "0x…", "slasher": "0x…" },
 *     "contracts": { "OpenToken": "0x…", "DatanetRegistry": "0x…", …, "OpenTimelock": "0x…", "OpenGovernor": "0x…" } }
 * Version 1 books (before the timelock and separated roles) are refused with a hint to redeploy.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getAddress, isAddress, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { OpenLedgerError, configError } from '../util/errors.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import type { NodePublicClient } from './clients.ts';
import { contractNames as CONTRACT_NAMES, type ContractName } from '../contracts/index.ts';

export { CONTRACT_NAMES, type ContractName };

/**
 * Addresses are reachable both as `book.contracts.DatanetRegistry` and `book.DatanetRegistry`.
 */
export type AddressBook = AddressBookBase & Record<ContractName, Address>;

export interface AddressBookBase {
  chainId: number;
  /** Hash of block 0 of the chain the contracts were deployed on. */
  genesisHash: Hex;
  /** First block that can hold events of these contracts (the indexer starts here). */
  deploymentBlock: bigint;
  deployer: Address;
  /** OpenToken is a configured ERC-20 (wrapped OPEN on OpenLedger chains), not one we deployed. */
  externalToken: boolean;
  contracts: Record<ContractName, Address>;
  /** Where slashed stake goes (default the OpenTimelock, i.e. governed by OPEN holders). */
  treasury: Address;
  /** The OpenTimelock: admin of every contract. */
  timelock: Address;
  /** The role keys' addresses at deployment (the node checks its keys against them on start). */
  roles: { relayer: Address; settler: Address; rootSubmitter: Address; slasher: Address };
}

export const defaultAddressBookPath = (dataDir: string) => join(dataDir, 'chain', 'address-book.json');

const address = z.string().refine((s) => isAddress(s, { strict: false }), 'not an address').transform((s) => getAddress(s));
const fileSchema = z.object({
  version: z.literal(2),
  chainId: z.number().int().positive(),
  genesisHash: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
  deploymentBlock: z.string().regex(/^\d+$/),
  deployer: address,
  externalToken: z.boolean(),
  createdAt: z.string().optional(),
  contracts: z.object(Object.fromEntries(CONTRACT_NAMES.map((n) => [n, address])) as Record<ContractName, typeof address>),
  treasury: address,
  timelock: address,
  roles: z.object({ relayer: address, settler: address, rootSubmitter: address, slasher: address }),
});

/** The book at `path`, or null when there is none. A file that cannot be parsed is an error. */
export function readAddressBook(path: string): AddressBook | null {
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw configError(`the address book ${path} is not valid JSON`, {
      code: 'address_book_corrupt',
      hint: `remove ${path} to redeploy the contracts (on the embedded chain also remove the chain state), or restore it from a backup`,
      cause,
    });
  }
  if ((raw as { version?: unknown } | null)?.version === 1) {
    throw configError(`the address book ${path} was written before governance and separated roles (version 1)`, {
      code: 'address_book_outdated',
      hint: `these contracts trust one operator key: remove ${path} (on the embedded chain also the chain state in ${dirname(path)}) to deploy the governed contracts`,
    });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(`the address book ${path} is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
      code: 'address_book_corrupt',
      hint: `remove ${path} to redeploy the contracts, or restore it from a backup`,
    });
  }
  const f = parsed.data;
  return makeAddressBook({
    chainId: f.chainId,
    genesisHash: f.genesisHash as Hex,
    deploymentBlock: BigInt(f.deploymentBlock),
    deployer: f.deployer,
    externalToken: f.externalToken,
    contracts: f.contracts,
    treasury: f.treasury,
    timelock: f.timelock,
    roles: f.roles,
  });
}

export function makeAddressBook(base: AddressBookBase): AddressBook {
  return { ...base.contracts, ...base, contracts: { ...base.contracts }, roles: { ...base.roles } };
}

/** Atomic write: readers see the old file or the complete new one, never a torn one. */
export function writeAddressBook(path: string, book: AddressBook): void {
  const json = JSON.stringify(
    {
      version: 2,
      chainId: book.chainId,
      genesisHash: book.genesisHash,
      deploymentBlock: book.deploymentBlock.toString(),
      deployer: book.deployer,
      externalToken: book.externalToken,
      createdAt: new Date().toISOString(),
      treasury: book.treasury,
      timelock: book.timelock,
      roles: book.roles,
      contracts: book.contracts,
    },
    null,
    2,
  ) + '\n';
  writeFileAtomic(path, json, 0o600);
}

/**
 * The hash of the chain's genesis block, read as block 1's parent where block 1 exists. Anvil
 * rebuilds block 0 with a fresh timestamp each time it loads a `--state` file (a later dump can
 * then hold two block-0 entries, and which one a reload serves is arbitrary), while block 1 is
 * loaded as it was and still names the original genesis as its parent. On other chains the two
 * reads agree.
 */
export async function genesisHashOf(client: NodePublicClient): Promise<Hex> {
  const b1 = await client.getBlock({ blockNumber: 1n }).catch(() => null);
  return (b1 ? b1.parentHash : (await client.getBlock({ blockNumber: 0n })).hash) as Hex;
}

/**
 * Checks that `book` describes the chain behind `client`: same chain id, same genesis block, code
 * at every address. Throws a config_error naming the file and the fix otherwise.
 */
export async function verifyAddressBook(client: NodePublicClient, book: AddressBook, path: string): Promise<void> {
  const chainId = await client.getChainId();
  const genesis = { hash: await genesisHashOf(client) };
  const fix = `remove ${path} to redeploy, or point --rpc-url at the right chain`;
  if (chainId !== book.chainId || genesis.hash.toLowerCase() !== book.genesisHash.toLowerCase()) {
    throw configError(
      `address book was written for chain ${book.chainId} with genesis ${book.genesisHash}, ` +
        `but the RPC reports chain ${chainId} with genesis ${genesis.hash}`,
      { code: 'address_book_wrong_chain', hint: fix, details: { path, expected: book.chainId, actual: chainId } },
    );
  }
  const missing: string[] = [];
  for (const name of CONTRACT_NAMES) {
    const code = await client.getCode({ address: book.contracts[name] });
    if (!code || code === '0x') missing.push(`${name} at ${book.contracts[name]}`);
  }
  if (missing.length) {
    throw new OpenLedgerError(`address book ${path} points at addresses with no contract code: ${missing.join(', ')}`, {
      type: 'config_error',
      code: 'address_book_no_code',
      hint: `the chain state was lost or reset; ${fix}`,
      details: { path, missing },
    });
  }
}
