/**
 * Raw uploads and version snapshots of approval and paid datanets are sealed before they go to the
 * DA layer (an EigenDA proxy publishes what it stores): AES-256-GCM under a key the node holds,
 * `<dataDir>/keyring/da-key` (32 random bytes, mode 0600, created on first start).
 *
 *   sealed blob = "OLSEAL1\n" ‖ iv (12 bytes) ‖ ciphertext ‖ tag (16 bytes)
 *
 * What stays public: the blob's size, its content id and commitment, and the version's Merkle root
 * on chain (row hashes and contributors are committed to, row text is not readable). Readers with
 * access get rows from the node's API, which checks access first. Open datanets stay plain so
 * anyone can rebuild a version's root from its snapshot. Losing the key loses the ability to rebuild
 * sealed versions from DA (the store still has every row): back it up with the keyring.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configError } from '../util/errors.ts';

const MAGIC = new TextEncoder().encode('OLSEAL1\n');

/** The node's DA sealing key, created on first use. */
export function loadOrCreateDaKey(dataDir: string): Uint8Array {
  const dir = join(dataDir, 'keyring');
  const path = join(dir, 'da-key');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  chmodSync(path, 0o600);
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw configError(`the DA sealing key ${path} is not 32 bytes of hex`, { code: 'da_key_corrupt', hint: 'restore it from a backup of the data dir keyring' });
  }
  return Buffer.from(hex, 'hex');
}

export function isSealed(bytes: Uint8Array): boolean {
  return bytes.byteLength >= MAGIC.length + 28 && MAGIC.every((b, i) => bytes[i] === b);
}

export function seal(plain: Uint8Array, key: Uint8Array): Uint8Array {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([MAGIC, iv, body, c.getAuthTag()]);
}

export function unseal(sealed: Uint8Array, key: Uint8Array): Uint8Array {
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const iv = buf.subarray(MAGIC.length, MAGIC.length + 12);
  const tag = buf.subarray(buf.length - 16);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(buf.subarray(MAGIC.length + 12, buf.length - 16)), d.final()]);
}

/** A snapshot or upload as stored in DA → its plain bytes (sealed ones need the key). */
export function openSnapshot(bytes: Uint8Array, key: Uint8Array | null): Uint8Array {
  if (!isSealed(bytes)) return bytes;
  if (!key) throw new Error('the blob is sealed and the node has no DA key');
  return unseal(bytes, key);
}
