import { getAddress, verifyTypedData, type Address, type LocalAccount } from 'viem';
import { OpenLedgerError } from '../util/errors.ts';
import type { Hex } from '../da/index.ts';

/**
 * EIP-712 signature over one upload. A contributor signs once per upload, not once per row:
 *
 *   domain  { name: 'OpenLedger', version: '1', chainId, verifyingContract: DatanetRegistry }
 *   Contribution { contributor, datanetId, rowsRoot, rowCount, nonce, deadline }
 *
 * `rowsRoot` is `uploadRoot(rowHashes)` over every row the upload parsed into (merkle.ts), so the
 * signature covers each row and a single row's provenance is (signature, its proof to rowsRoot).
 * Replay: the domain pins the chain and registry; `datanetId` pins the datanet; the node records
 * each (contributor, datanetId, nonce) once and refuses it again; `deadline` (unix seconds) bounds how
 * long a signed upload may wait.
 */
export const CONTRIBUTION_TYPES = {
  Contribution: [
    { name: 'contributor', type: 'address' },
    { name: 'datanetId', type: 'uint256' },
    { name: 'rowsRoot', type: 'bytes32' },
    { name: 'rowCount', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const;

export interface ContributionDomainInput {
  chainId: number;
  /** DatanetRegistry address. */
  registry: Address;
}

export interface Contribution {
  contributor: Address;
  datanetId: bigint;
  rowsRoot: Hex;
  rowCount: bigint;
  nonce: bigint;
  deadline: bigint;
}

export function contributionDomain(d: ContributionDomainInput) {
  return { name: 'OpenLedger', version: '1', chainId: d.chainId, verifyingContract: getAddress(d.registry) } as const;
}

/** The full typed-data object (what a wallet's eth_signTypedData_v4 receives). */
export function contributionTypedData(d: ContributionDomainInput, message: Contribution) {
  return {
    domain: contributionDomain(d),
    types: CONTRIBUTION_TYPES,
    primaryType: 'Contribution' as const,
    message: { ...message, contributor: getAddress(message.contributor) },
  };
}

/** JSON-safe form (bigints as decimal strings) for API responses. */
export function contributionTypedDataJson(d: ContributionDomainInput, message: Contribution) {
  const td = contributionTypedData(d, message);
  return {
    ...td,
    types: { EIP712Domain: [
      { name: 'name', type: 'string' },
      { name: 'version', type: 'string' },
      { name: 'chainId', type: 'uint256' },
      { name: 'verifyingContract', type: 'address' },
    ], ...CONTRIBUTION_TYPES },
    message: { ...td.message, datanetId: String(message.datanetId), rowCount: String(message.rowCount), nonce: String(message.nonce), deadline: String(message.deadline) },
  };
}

/** Signs with a local account (the dev keyring's, for CLI users). */
export function signContribution(account: LocalAccount, d: ContributionDomainInput, message: Contribution): Promise<Hex> {
  return account.signTypedData(contributionTypedData(d, message));
}

const badSignature = (message: string, hint: string, code = 'invalid_signature') =>
  new OpenLedgerError(message, { type: 'authentication_error', code, param: 'signature', hint });

/**
 * Checks the signature and the deadline; throws 401 `invalid_signature` / `signature_expired`.
 * Nonce reuse is the caller's check (it needs the store).
 */
export async function verifyContribution(d: ContributionDomainInput, message: Contribution, signature: Hex, nowSeconds: number): Promise<void> {
  if (message.deadline < BigInt(nowSeconds)) {
    throw badSignature(`the contribution signature expired at ${message.deadline} (now ${nowSeconds})`, 'sign the upload again with a later deadline', 'signature_expired');
  }
  let ok = false;
  try {
    ok = await verifyTypedData({ ...contributionTypedData(d, message), address: getAddress(message.contributor), signature });
  } catch {
    ok = false;
  }
  if (!ok) {
    throw badSignature(
      `the signature does not match contributor ${message.contributor} for this upload`,
      'sign the Contribution typed data returned by the prepare step with the contributor\'s key (same chain id, registry, datanet, rows root, nonce and deadline)',
    );
  }
}
