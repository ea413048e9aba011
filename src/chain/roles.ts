/**
 * The node's role keys: each power over the contracts held by a different key, none of them admin.
 *
 *   role           contract role                    can                                   cannot
 *   relayer        OPERATOR_ROLE (both registries)  relay owner calls, createDatanetFor,  move money, transfer ownership,
 *                  (= chain.operator, deployer)     registerModelFor (access checked)    change any parameter
 *   settler        SETTLER_ROLE (InferenceEscrow)   settle(epoch, …) within each payer's  debit beyond a signed / approved
 *                                                   spend authorization                   authorization, replay an epoch
 *   rootSubmitter  ROOT_SUBMITTER_ROLE (Rewards)    submitRoot / disableRoot              pay beyond what was funded, skip
 *                                                                                         the activation delay
 *   slasher        SLASHER_ROLE (Staking)           proposeSlash with evidence, ≤ cap     skip the challenge window, slash
 *                                                                                         without evidence, avoid a veto
 *
 * Admin of every contract (and owner of OPEN): the OpenTimelock, whose only proposer is the OpenGovernor.
 *
 * Embedded chain: derived from the dev keyring mnemonic at fixed BIP-44 indexes (below), so a restart finds the
 * same keys. External chains: one environment variable per role (see `openledger up --help`).
 */
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import type { Account, Address, Hex } from 'viem';
import { configError } from '../util/errors.ts';

export interface NodeRoles {
  /** OPERATOR_ROLE on both registries; also the deployer (it renounces every admin role at the end). */
  relayer: Account;
  settler: Account;
  rootSubmitter: Account;
  slasher: Account;
}

export type RoleName = keyof NodeRoles;

/** Dev keyring indexes of the embedded chain's role keys (0 is the relayer/operator, 1..n the dev accounts). */
export const EMBEDDED_ROLE_INDEXES = { relayer: 0, settler: 1001, rootSubmitter: 1002, slasher: 1003 } as const;

/** Environment variables of the role keys on external chains (read by `openledger up`, never flags). */
export const ROLE_KEY_ENV = {
  relayer: 'OPENLEDGER_PRIVATE_KEY',
  settler: 'OPENLEDGER_SETTLER_KEY',
  rootSubmitter: 'OPENLEDGER_ROOT_SUBMITTER_KEY',
  slasher: 'OPENLEDGER_SLASHER_KEY',
} as const satisfies Record<RoleName, string>;

export function embeddedRoles(mnemonic: string): NodeRoles {
  const at = (addressIndex: number) => mnemonicToAccount(mnemonic, { addressIndex });
  return {
    relayer: at(EMBEDDED_ROLE_INDEXES.relayer),
    settler: at(EMBEDDED_ROLE_INDEXES.settler),
    rootSubmitter: at(EMBEDDED_ROLE_INDEXES.rootSubmitter),
    slasher: at(EMBEDDED_ROLE_INDEXES.slasher),
  };
}

/** Role accounts from private keys; every key must parse and all four must be different accounts. */
export function rolesFromKeys(keys: Partial<Record<RoleName, Hex>>): NodeRoles {
  const out = {} as Record<RoleName, Account>;
  for (const role of Object.keys(ROLE_KEY_ENV) as RoleName[]) {
    const key = keys[role];
    const env = ROLE_KEY_ENV[role];
    if (!key) {
      throw configError(`an external chain needs a separate ${role} key in ${env}`, {
        param: env,
        code: 'role_key_missing',
        hint: `export ${env}=0x<64 hex digits>: a funded account used only as the ${role} (see \`openledger up --help\`)`,
      });
    }
    try {
      out[role] = privateKeyToAccount(key);
    } catch (cause) {
      throw configError(`${env} is not a 32-byte hex private key`, {
        param: env, code: 'invalid_private_key', hint: `set ${env} to 0x followed by 64 hex digits`, cause,
      });
    }
  }
  const seen = new Map<Address, RoleName>();
  for (const role of Object.keys(out) as RoleName[]) {
    const prev = seen.get(out[role].address);
    if (prev) {
      throw configError(`${ROLE_KEY_ENV[prev]} and ${ROLE_KEY_ENV[role]} are the same account ${out[role].address}`, {
        param: ROLE_KEY_ENV[role],
        code: 'role_keys_not_distinct',
        hint: 'use a different key per role, so that no single key holds two powers',
      });
    }
    seen.set(out[role].address, role);
  }
  return out as NodeRoles;
}

/** Addresses of the role keys, as the address book records them. */
export function roleAddresses(roles: NodeRoles): Record<RoleName, Address> {
  return { relayer: roles.relayer.address, settler: roles.settler.address, rootSubmitter: roles.rootSubmitter.address, slasher: roles.slasher.address };
}
