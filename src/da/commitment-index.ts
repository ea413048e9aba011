import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import type { Hex } from './types.ts';

/**
 * Our content id beside each backend commitment, in both directions:
 *   `<dir>/by-id/<sha256 hex>`        → commitment hex (the latest one put for these bytes)
 *   `<dir>/by-commitment/<sha256(commitment) hex>` → content id hex
 * Commitments can be hundreds of bytes, so they are keyed by their own hash on disk. Files are written
 * by atomic rename; the index is small (two short files per blob) and needs no database.
 */
export class CommitmentIndex {
  constructor(private readonly dir: string) {}

  private idPath(id: Hex) {
    return join(this.dir, 'by-id', id.slice(2));
  }
  private commitmentPath(commitment: Hex) {
    const k = createHash('sha256').update(Buffer.from(commitment.slice(2), 'hex')).digest('hex');
    return join(this.dir, 'by-commitment', k);
  }

  async record(id: Hex, commitment: Hex): Promise<void> {
    await atomicWrite(this.commitmentPath(commitment), id);
    await atomicWrite(this.idPath(id), commitment);
  }

  async commitmentOf(id: Hex): Promise<Hex | null> {
    return readHex(this.idPath(id));
  }

  async idOf(commitment: Hex): Promise<Hex | null> {
    return readHex(this.commitmentPath(commitment));
  }
}

async function atomicWrite(path: string, text: string) {
  await mkdir(join(path, '..'), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

async function readHex(path: string): Promise<Hex | null> {
  try {
    return (await readFile(path, 'utf8')).trim() as Hex;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
