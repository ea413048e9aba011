/**
 * The local node's dev keyring: one BIP-39 mnemonic in `<dataDir>/keyring/mnemonic` (mode 0600).
 * Index 0 is the node's operator (deployer, relayer for signed-in users); indexes 1..n are dev
 * accounts funded with OPEN on the embedded chain, so CLI users can sign as someone real.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { english, generateMnemonic, mnemonicToAccount, type HDAccount } from 'viem/accounts';
import { configError } from '../util/errors.ts';

export const DEV_ACCOUNTS = 4;

export interface Keyring {
  mnemonic: string;
  path: string;
  operator: HDAccount;
  /** Funded dev accounts (not including the operator). */
  accounts: HDAccount[];
  /** Account at a BIP-44 index (0 = operator). */
  account(index: number): HDAccount;
  /** The keyring account for an address, if it is one of ours. */
  find(address: string): HDAccount | undefined;
}

export function loadOrCreateKeyring(dataDir: string, devAccounts = DEV_ACCOUNTS): Keyring {
  const dir = join(dataDir, 'keyring');
  const path = join(dir, 'mnemonic');
  let mnemonic: string;
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      throw configError(`keyring file ${path} is readable by other users (mode ${mode.toString(8)})`, {
        code: 'keyring_permissions',
        hint: `run: chmod 600 ${path}`,
      });
    }
    mnemonic = readFileSync(path, 'utf8').trim();
    if (mnemonic.split(/\s+/).length < 12) {
      throw configError(`keyring file ${path} does not hold a BIP-39 mnemonic`, {
        code: 'keyring_invalid',
        hint: 'restore the file from a backup, or remove it to create a new dev keyring (dev accounts will change)',
      });
    }
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    mnemonic = generateMnemonic(english);
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, mnemonic + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  }
  const cache = new Map<number, HDAccount>();
  const account = (index: number) => {
    let a = cache.get(index);
    if (!a) cache.set(index, (a = mnemonicToAccount(mnemonic, { addressIndex: index })));
    return a;
  };
  const accounts = Array.from({ length: devAccounts }, (_, i) => account(i + 1));
  return {
    mnemonic,
    path,
    operator: account(0),
    accounts,
    account,
    find: (address) => [account(0), ...accounts].find((a) => a.address.toLowerCase() === address.toLowerCase()),
  };
}
