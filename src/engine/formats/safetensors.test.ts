// safetensors reader: files written by formats/safetensors-write.ts (single and sharded), then
// corrupted: truncated, lying offsets, wrong lengths, unknown dtypes, garbage headers.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OpenLedgerError } from '../../util/errors.ts';
import { Heap } from '../heap.ts';
import { writeSafetensors } from './safetensors-write.ts';
import { openSafetensors, readSafetensorsHeader, readSafetensorsTensor } from './safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'st-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const seq = (n: number, k = 1) => Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.125 * k);

function expectModelError(fn: () => unknown, code: string, ...fragments: string[]) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OpenLedgerError, `expected OpenLedgerError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.type, 'model_error');
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention "${f}"`);
    return true;
  });
}

/** Rewrite a file's JSON header (keeping the data section) — the way a lying header is made. */
function rewriteHeader(path: string, edit: (h: Record<string, any>) => void) {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  edit(header);
  let json = JSON.stringify(header);
  json += ' '.repeat(Math.max(0, n - Buffer.byteLength(json)));
  assert.equal(Buffer.byteLength(json), n, 'edited header must keep its length');
  const out = Buffer.concat([buf.subarray(0, 8), Buffer.from(json), buf.subarray(8 + n)]);
  writeFileSync(path, out);
}

describe('safetensors reader', () => {
  it('reads header, dtypes and tensor bytes straight into the heap', () => {
    const p = join(dir, 'one.safetensors');
    writeSafetensors(p, {
      'a.weight': { dtype: 'F32', shape: [4, 8], data: seq(32) },
      'b.weight': { dtype: 'F16', shape: [8], data: seq(8) },
      'c.weight': { dtype: 'BF16', shape: [2, 4], data: seq(8, 2) },
    }, { format: 'pt' });
    const f = readSafetensorsHeader(p);
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.deepEqual([...f.tensors.values()].map((t) => [t.name, t.dtype, t.shape, t.nbytes]), [
      ['a.weight', 'F32', [4, 8], 128], ['b.weight', 'F16', [8], 16], ['c.weight', 'BF16', [2, 4], 16],
    ]);
    const heap = new Heap();
    const a = f.tensors.get('a.weight')!;
    const dest = heap.u8(a.nbytes);
    readSafetensorsTensor(a, dest);
    assert.ok(heap.contains(dest));
    assert.deepEqual(new Float32Array(dest.buffer, dest.byteOffset, 32), seq(32));
  });

  it('opens a sharded checkpoint through model.safetensors.index.json', () => {
    const d = join(dir, 'sharded');
    mkdirSync(d);
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), { x: { dtype: 'F32', shape: [2], data: seq(2) } });
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), { y: { dtype: 'F32', shape: [3], data: seq(3) } });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({
      metadata: { total_size: 20 }, weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' },
    }));
    const m = openSafetensors(d);
    assert.equal(m.files.length, 2);
    assert.equal(m.tensors.get('y')!.file, join(d, 'model-00002-of-00002.safetensors'));
    const dest = new Uint8Array(12);
    readSafetensorsTensor(m.tensors.get('y')!, dest);
    assert.deepEqual(new Float32Array(dest.buffer), seq(3));
    // An index that names a tensor its shard lacks.
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00002-of-00002.safetensors' } }));
    expectModelError(() => openSafetensors(d), 'missing_tensor', 'x', 'model-00002-of-00002.safetensors');
    // An index that names a missing shard.
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00009.safetensors' } }));
    expectModelError(() => openSafetensors(d), 'missing_weights', 'model-00009.safetensors');
  });

  it('a truncated file names the file and the tensor', () => {
    const p = join(dir, 'trunc.safetensors');
    writeSafetensors(p, { first: { dtype: 'F32', shape: [16], data: seq(16) }, last: { dtype: 'F32', shape: [64], data: seq(64) } });
    const size = readFileSync(p).length;
    truncateSync(p, size - 4);
    expectModelError(() => readSafetensorsHeader(p), 'truncated_file', p, 'tensor last', 'truncated');
    truncateSync(p, 20); // inside the header
    expectModelError(() => readSafetensorsHeader(p), 'truncated_file', p, 'header length');
  });

  it('a header that lies about offsets is rejected', () => {
    const p = join(dir, 'lie.safetensors');
    const write = () => writeSafetensors(p, { a: { dtype: 'F32', shape: [8], data: seq(8) }, b: { dtype: 'F32', shape: [8], data: seq(8) } });
    write();
    rewriteHeader(p, (h) => { h.b.data_offsets = [0, 32]; }); // aliases a
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', p, 'overlap');
    write();
    rewriteHeader(p, (h) => { h.b.data_offsets = [32, 40]; }); // 8 bytes for 8 floats
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', 'tensor b', 'should span 32 bytes');
    write();
    rewriteHeader(p, (h) => { h.b.data_offsets = [96, 128]; }); // beyond the data
    expectModelError(() => readSafetensorsHeader(p), 'truncated_file', 'tensor b', 'lies about offsets');
    write();
    rewriteHeader(p, (h) => { h.b.data_offsets = [40, 32]; });
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', 'tensor b', 'invalid data_offsets');
  });

  it('unknown dtypes, bad shapes and non-JSON headers are named', () => {
    const p = join(dir, 'bad.safetensors');
    writeSafetensors(p, { w: { dtype: 'F32', shape: [4], data: seq(4) } });
    rewriteHeader(p, (h) => { h.w.dtype = 'F99'; });
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', 'tensor w', 'unknown dtype "F99"');
    writeSafetensors(p, { w: { dtype: 'F32', shape: [4], data: seq(4) } });
    rewriteHeader(p, (h) => { h.w.shape = [-4]; });
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', 'tensor w', 'invalid shape');
    const junk = Buffer.alloc(40);
    junk.writeBigUInt64LE(16n, 0);
    junk.write('{not json at all', 8);
    writeFileSync(p, junk);
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', p, 'not JSON');
    writeFileSync(p, Buffer.from([1, 2, 3]));
    expectModelError(() => readSafetensorsHeader(p), 'corrupt_header', 'only 3 bytes');
  });
});
