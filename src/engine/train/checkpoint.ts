/**
 * Training checkpoints: LoRA factors plus AdamW state, one file, written atomically.
 *
 * Layout (little-endian):  "OLTC" | u32 header bytes | header JSON (padded to 4) | f32 data
 * The header names each tensor and where its value, m and v lie in the data. The file is
 * written to `<path>.tmp`, fsynced, then renamed over `<path>`, so a crash or a full disk while
 * saving leaves the previous checkpoint intact.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { OpenLedgerError } from '../../util/errors.ts';

const MAGIC = 0x43544c4f; // "OLTC"

export interface CheckpointTensor {
  name: string;
  value: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

export interface CheckpointMeta {
  /** Optimizer steps completed. */
  step: number;
  /** Adam's t (bias correction). */
  adamT: number;
  /** Hash of everything that must match for an exact resume (model, LoRA config, hyperparameters, data). */
  runHash: string;
  /** Loss of the last step (display). */
  loss: number;
  [k: string]: unknown;
}

interface Header {
  format: 'openledger-train-checkpoint';
  version: 1;
  meta: CheckpointMeta;
  tensors: Array<{ name: string; length: number; offset: number }>; // offset in f32 units; value, m, v follow each other
}

export function saveCheckpoint(path: string, meta: CheckpointMeta, tensors: readonly CheckpointTensor[]): void {
  let offset = 0;
  const entries = tensors.map((t) => {
    const e = { name: t.name, length: t.value.length, offset };
    offset += 3 * t.value.length;
    return e;
  });
  const header: Header = { format: 'openledger-train-checkpoint', version: 1, meta, tensors: entries };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((8 + json.length) % 4)) % 4;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const pre = Buffer.alloc(8);
  pre.writeUInt32LE(MAGIC, 0);
  pre.writeUInt32LE(json.length, 4);
  const tmp = `${path}.tmp`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    writeAll(fd, pre);
    writeAll(fd, json);
    for (const t of tensors) for (const a of [t.value, t.m, t.v]) writeAll(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) try { closeSync(fd); } catch { /* already failing */ }
    try { rmSync(tmp, { force: true, recursive: true }); } catch { /* leave it */ }
    const err = e as NodeJS.ErrnoException;
    throw new OpenLedgerError(`could not save the training checkpoint ${path}: ${err.code ?? ''} ${err.message}`.trim(), {
      type: 'internal_error', code: 'checkpoint_write_failed',
      hint: err.code === 'ENOSPC' ? 'the disk is full: free space and resume; the previous checkpoint is intact' : 'check the checkpoint directory is writable; the previous checkpoint is intact',
      cause: e,
    });
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  let o = 0;
  while (o < b.length) o += writeSync(fd, b, o, b.length - o);
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  tensors: Map<string, { value: Float32Array; m: Float32Array; v: Float32Array }>;
}

export function loadCheckpoint(path: string): LoadedCheckpoint | null {
  if (!existsSync(path)) return null;
  const buf = readFileSync(path);
  const bad = (why: string) => new OpenLedgerError(`${path} is not a valid training checkpoint: ${why}`, {
    code: 'invalid_checkpoint', hint: 'delete it to start the run from scratch',
  });
  if (buf.length < 8 || buf.readUInt32LE(0) !== MAGIC) throw bad('bad magic');
  const hl = buf.readUInt32LE(4);
  if (8 + hl > buf.length) throw bad('truncated header');
  let h: Header;
  try { h = JSON.parse(buf.subarray(8, 8 + hl).toString('utf8')); } catch { throw bad('header is not JSON'); }
  if (h.format !== 'openledger-train-checkpoint' || h.version !== 1) throw bad('unknown format');
  const base = 8 + hl;
  const total = h.tensors.reduce((s, t) => s + 3 * t.length, 0);
  if (base + total * 4 !== buf.length) throw bad(`expected ${base + total * 4} bytes, found ${buf.length}`);
  const data = new Float32Array(total);
  new Uint8Array(data.buffer).set(buf.subarray(base));
  const tensors = new Map<string, { value: Float32Array; m: Float32Array; v: Float32Array }>();
  for (const t of h.tensors) {
    const o = t.offset, n = t.length;
    tensors.set(t.name, { value: data.subarray(o, o + n), m: data.subarray(o + n, o + 2 * n), v: data.subarray(o + 2 * n, o + 3 * n) });
  }
  return { meta: h.meta, tensors };
}
