import { mkdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { invalid } from '../util/errors.ts';
import { contentId, isContentId, normalizeHex } from './hash.ts';
import { blobNotFound, blobTooLarge, daIntegrity } from './errors.ts';
import type { BlobRef, BlobStore, Hex } from './types.ts';

export interface LocalBlobStoreConfig {
  /** Root directory; blobs live at `<dir>/ab/cd/<64 hex>` (two shard levels keep directories small). */
  dir: string;
  /** Largest blob accepted; default 256 MiB. */
  maxBlobBytes?: number;
  /** fsync each blob before the rename that publishes it; default true (a crash never leaves a torn blob). */
  fsync?: boolean;
}

/**
 * Content-addressed blob files: the default DA layer of a single node. The commitment of a blob is its
 * id, puts are idempotent, and a write is published by an atomic rename, so readers see a whole blob or
 * none.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  readonly maxBlobBytes: number;
  private readonly dir: string;
  private readonly fsync: boolean;

  constructor(config: LocalBlobStoreConfig) {
    this.dir = config.dir;
    this.maxBlobBytes = config.maxBlobBytes ?? 256 * 1024 * 1024;
    this.fsync = config.fsync ?? true;
  }

  private pathOf(id: Hex): string {
    const h = id.slice(2);
    return join(this.dir, h.slice(0, 2), h.slice(2, 4), h);
  }

  private parseRef(ref: string): Hex {
    const id = normalizeHex(ref);
    if (!id || !isContentId(id)) {
      throw invalid(`"${ref}" is not a blob id`, {
        param: 'id',
        code: 'invalid_blob_id',
        hint: 'a local blob id is 0x followed by the 64 hex digits of the sha256 of its bytes',
      });
    }
    return id;
  }

  async put(bytes: Uint8Array): Promise<BlobRef> {
    if (bytes.byteLength > this.maxBlobBytes) throw blobTooLarge(bytes.byteLength, this.maxBlobBytes);
    const id = contentId(bytes);
    const path = this.pathOf(id);
    const ref: BlobRef = { id, commitment: id, size: bytes.byteLength };
    if (await exists(path)) return ref;
    const shard = join(path, '..');
    await mkdir(shard, { recursive: true });
    // The temp file sits in the same directory as the target so that rename is atomic (same filesystem).
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      if (this.fsync) {
        const fh = await open(tmp, 'wx', 0o644);
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else {
        await writeFile(tmp, bytes, { flag: 'wx' });
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return ref;
  }

  async get(idOrCommitment: Hex): Promise<Uint8Array> {
    const id = this.parseRef(idOrCommitment);
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(id, 'no blob with this id in the local blob store');
      throw err;
    }
    const got = contentId(bytes);
    if (got !== id) throw daIntegrity(id, got);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async has(idOrCommitment: Hex): Promise<boolean> {
    const id = normalizeHex(idOrCommitment);
    if (!id || !isContentId(id)) return false;
    return exists(this.pathOf(id));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
