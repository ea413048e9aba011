// loadModel on real files: tiny random models of every family written both as an HF folder and
// as the GGUF llama.cpp's converter would produce (testing/tiny-models.ts), loaded and compared
// tensor by tensor; then the bad inputs the issue lists, each a named error.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OpenLedgerError } from '../../util/errors.ts';
import { dequantize, quantize } from '../formats/quantize.ts';
import { Heap } from '../heap.ts';
import { writeSafetensors } from '../formats/safetensors-write.ts';
import type { WeightTensor } from '../kernels/types.ts';
import { buildTinyModel, TINY_FAMILIES, type TinyFamily } from '../testing/tiny-models.ts';
import { inspectModel } from './inspect.ts';
import { loadModel, openModel, type LoadedModel } from './load.ts';
import { writeSentencePieceModel } from '../tokenizer/spm-proto.test-helper.ts';

const root = mkdtempSync(join(tmpdir(), 'load-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, String(n++));

const asF32 = (t: WeightTensor | Float32Array): Float32Array =>
  t instanceof Float32Array ? t : dequantize(t.data, t.dtype, t.rows * t.cols);

async function expectError(p: Promise<unknown>, code: string, ...fragments: string[]) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof OpenLedgerError, `expected OpenLedgerError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention "${f}"`);
    return true;
  });
}

function compareTensors(a: LoadedModel, b: LoadedModel, tol = 0) {
  assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
  for (const [name, x] of a.tensors) {
    const y = b.tensors.get(name)!;
    if (!(x instanceof Float32Array) && !(y instanceof Float32Array)) {
      assert.equal(x.rows, y.rows, `${name} rows`);
      assert.equal(x.cols, y.cols, `${name} cols`);
    }
    const fx = asF32(x);
    const fy = asF32(y);
    assert.equal(fx.length, fy.length, name);
    // rope_freqs: llama.cpp's converter computes them in float32; the tiny writer in double.
    const t = name === 'rope_freqs.weight' ? 1e-6 : tol;
    for (let i = 0; i < fx.length; i++) {
      if (Math.abs(fx[i] - fy[i]) > t) assert.fail(`${name}[${i}]: ${fx[i]} (${a.source.format}) vs ${fy[i]} (${b.source.format})`);
    }
  }
}

describe('loadModel: HF folder and GGUF give the same model', () => {
  for (const family of TINY_FAMILIES) {
    it(family, async () => {
      const tm = buildTinyModel(family as TinyFamily, fresh(), { format: 'both' });
      const hf = await loadModel(tm.hfDir!);
      const gguf = await loadModel(tm.ggufPath!);
      assert.equal(hf.source.format, 'safetensors');
      assert.equal(gguf.source.format, 'gguf');
      compareTensors(hf, gguf);
      // Every tensor lives on the heap, where kernels address it by offset.
      for (const [name, t] of hf.tensors) assert.ok(hf.heap.contains(t instanceof Float32Array ? t : t.data), name);
      // Configs agree on everything the forward pass reads (context length and the mistral label
      // are metadata that llama.cpp's converter itself does not carry over).
      const skip = new Set(['family', 'contextLength', 'rope']);
      for (const k of Object.keys(hf.config) as Array<keyof typeof hf.config>) {
        if (!skip.has(k)) assert.deepEqual(gguf.config[k], hf.config[k], `config.${k}`);
      }
      assert.deepEqual(
        gguf.config.rope && { ...gguf.config.rope, scaling: gguf.config.rope.scaling?.type ?? null },
        hf.config.rope && { ...hf.config.rope, scaling: hf.config.rope.scaling?.type ?? null },
      );
      assert.equal(hf.config.vocabSize, tm.vocabSize);
      assert.equal(hf.config.nLayers, tm.dims.nLayers);
      // Both tokenizers are the same tokenizer.
      for (const text of ['Hello world, this is 42!', ' leading space and ünïcödé', '<|im_start|>user\nhi<|im_end|>']) {
        assert.deepEqual(gguf.tokenizer.encode(text), hf.tokenizer.encode(text), text);
        assert.equal(hf.tokenizer.decode(hf.tokenizer.encode(text, { addSpecial: false })), text);
      }
      assert.equal(gguf.tokenizer.bosTokenId, hf.tokenizer.bosTokenId);
      assert.ok(hf.config.eosTokenIds.includes(tm.eosTokenId) && gguf.config.eosTokenIds.includes(tm.eosTokenId));
      // The chat template comes through both ways and renders.
      assert.ok(hf.chatTemplate && gguf.chatTemplate);
      const msgs = [{ role: 'user', content: 'hi' }];
      assert.equal(gguf.tokenizer.applyChatTemplate(msgs), hf.tokenizer.applyChatTemplate(msgs));
    });
  }
});

describe('loadModel: layout variants', () => {
  it('Falcon with grouped kv heads (the 40B qkv layout) loads identically from both formats', async () => {
    const tm = buildTinyModel('falcon', fresh(), { format: 'both', dims: { nKvHeads: 2 } });
    const hf = await loadModel(tm.hfDir!);
    const gguf = await loadModel(tm.ggufPath!);
    assert.equal(hf.config.nKvHeads, 2);
    assert.equal(gguf.config.nKvHeads, 2);
    compareTensors(hf, gguf);
  });
});

describe('loadModel: Gemma 3 embedding padding', () => {
  it('rows past the tokenizer are dropped, as llama.cpp converts it', async () => {
    const tm = buildTinyModel('gemma3', fresh(), { format: 'hf' });
    const cfgPath = join(tm.hfDir!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    const V = tm.vocabSize;
    const C = tm.dims.dModel;
    const emb = tm.hf.get('model.embed_tokens.weight')!;
    const padded = new Float32Array((V + 64) * C);
    padded.set(emb.data);
    padded.fill(9, V * C); // padding rows that must not survive
    writeSafetensors(join(tm.hfDir!, 'model.safetensors'), Object.fromEntries([...tm.hf].map(([k, t]) =>
      [k, k === 'model.embed_tokens.weight' ? { dtype: 'F32' as const, shape: [V + 64, C], data: padded } : { dtype: 'F32' as const, shape: t.shape, data: t.data }])));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, vocab_size: V + 64 }));
    const m = await loadModel(tm.hfDir!);
    assert.equal(m.config.vocabSize, V);
    const t = m.tensors.get('token_embd.weight') as WeightTensor;
    assert.equal(t.rows, V);
    assert.deepEqual(asF32(t), emb.data);
  });
});

describe('loadModel: storage types', () => {
  it('quantized GGUF weights stay quantized, exactly as written', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'both', dtype: 'q8_0' });
    const g = await loadModel(tm.ggufPath!);
    const hf = await loadModel(tm.hfDir!);
    const w = g.tensors.get('blk.0.attn_q.weight') as WeightTensor;
    assert.equal(w.dtype, 'q8_0');
    assert.equal(w.data.byteLength, w.rows * (w.cols / 32) * 34);
    // GGUF bytes = quantize(HF values after the same transforms).
    for (const name of ['blk.0.attn_q.weight', 'blk.1.ffn_down.weight', 'token_embd.weight']) {
      const h = asF32(hf.tensors.get(name)!);
      assert.deepEqual(asF32(g.tensors.get(name)!), dequantize(quantize(h, 'q8_0'), 'q8_0', h.length), name);
    }
    assert.ok(g.tensors.get('blk.0.attn_norm.weight') instanceof Float32Array);
  });

  it('K-quants load with 256-wide rows', async () => {
    const tm = buildTinyModel('qwen2', fresh(), { format: 'gguf', dtype: 'q4_K', dims: { dModel: 256, ffnDim: 512, nHeads: 4, nKvHeads: 2, headDim: 64 } });
    const g = await loadModel(tm.ggufPath!);
    const q = g.tensors.get('blk.0.attn_q.weight') as WeightTensor;
    assert.equal(q.dtype, tm.ggufDtypes['blk.0.attn_q.weight']);
    assert.equal(q.dtype, 'q4_K');
    assert.equal(q.data.byteLength, q.rows * (q.cols / 256) * 144);
  });

  it('BF16 safetensors stay BF16, or are requantized on request', async () => {
    const tm = buildTinyModel('gemma2', fresh(), { format: 'hf', hfDtype: 'BF16' });
    const bf = await loadModel(tm.hfDir!);
    assert.equal((bf.tensors.get('blk.0.ffn_up.weight') as WeightTensor).dtype, 'bf16');
    const q = await loadModel(tm.hfDir!, { dtype: 'q8_0' });
    const up = q.tensors.get('blk.0.ffn_up.weight') as WeightTensor;
    assert.equal(up.dtype, 'q8_0');
    const a = asF32(bf.tensors.get('blk.0.ffn_up.weight')!);
    const b = asF32(up);
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
    assert.ok(err < 0.02, `q8_0 requantization error ${err}`);
    assert.ok(q.tensors.get('blk.0.attn_norm.weight') instanceof Float32Array, 'vectors stay f32');
  });

  it('sha256 is the weights file hash', async () => {
    const tm = buildTinyModel('gpt2', fresh(), { format: 'both' });
    const g = await loadModel(tm.ggufPath!);
    assert.equal(g.source.sha256, createHash('sha256').update(readFileSync(tm.ggufPath!)).digest('hex'));
    const h = await loadModel(tm.hfDir!);
    assert.equal(h.source.sha256, createHash('sha256').update(readFileSync(join(tm.hfDir!, 'model.safetensors'))).digest('hex'));
  });
});

describe('loadModel: bad input is a named error', () => {
  it('a config that does not match the weights names the tensor and both shapes', async () => {
    const tm = buildTinyModel('qwen2', fresh(), { format: 'hf' });
    const cfgPath = join(tm.hfDir!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, intermediate_size: cfg.intermediate_size * 2 }));
    await expectError(loadModel(tm.hfDir!), 'shape_mismatch', 'blk.0.ffn_gate.weight', `(${cfg.intermediate_size}, ${cfg.hidden_size})`, `(${cfg.intermediate_size * 2}, ${cfg.hidden_size})`);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, num_hidden_layers: cfg.num_hidden_layers + 1 }));
    await expectError(loadModel(tm.hfDir!), 'missing_tensor', `blk.${cfg.num_hidden_layers}.attn_norm.weight`);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, num_key_value_heads: cfg.num_attention_heads }));
    await expectError(loadModel(tm.hfDir!), 'shape_mismatch', 'attn_k');
  });

  it('a fused tensor that does not split as the config says is named', async () => {
    const tm = buildTinyModel('falcon', fresh(), { format: 'hf' });
    const cfgPath = join(tm.hfDir!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, num_kv_heads: cfg.num_attention_heads }));
    await expectError(loadModel(tm.hfDir!), 'shape_mismatch', 'query_key_value');
  });

  it('a missing tensor is named', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'hf' });
    const drop = 'model.layers.1.mlp.down_proj.weight';
    writeSafetensors(join(tm.hfDir!, 'model.safetensors'),
      Object.fromEntries([...tm.hf].filter(([k]) => k !== drop).map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }])));
    await expectError(loadModel(tm.hfDir!), 'missing_tensor', 'blk.1.ffn_down.weight', `(${tm.dims.dModel}, ${tm.dims.ffnDim})`);
  });

  it('an unknown architecture lists the supported ones', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'both' });
    const cfgPath = join(tm.hfDir!, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, architectures: ['MambaForCausalLM'], model_type: 'mamba' }));
    await expectError(loadModel(tm.hfDir!), 'unsupported_architecture', 'MambaForCausalLM');
    await assert.rejects(loadModel(tm.hfDir!), (e: OpenLedgerError) => /LlamaForCausalLM/.test(e.hint ?? '') && /gpt2/.test(e.hint ?? ''));
    const buf = readFileSync(tm.ggufPath!);
    const at = buf.indexOf(Buffer.from('general.architecture')) + 'general.architecture'.length + 4 + 8;
    assert.equal(buf.toString('utf8', at, at + 5), 'llama');
    buf.write('mamba', at);
    writeFileSync(tm.ggufPath!, buf);
    await expectError(loadModel(tm.ggufPath!), 'unsupported_architecture', '"mamba"');
  });

  it('a GGUF with an unsupported quant type names the tensor and the type', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'gguf', dtype: 'q8_0' });
    const buf = readFileSync(tm.ggufPath!);
    const name = Buffer.from('blk.0.ffn_up.weight');
    const at = buf.indexOf(name) + name.length + 4 + 16;
    assert.equal(buf.readUInt32LE(at), 8);
    buf.writeUInt32LE(7, at);
    writeFileSync(tm.ggufPath!, buf);
    await expectError(loadModel(tm.ggufPath!), 'unsupported_quant_type', 'blk.0.ffn_up.weight', 'ggml type 7 (Q5_1)', 'supported: F32');
  });

  it('a truncated weights file fails before reading data', async () => {
    const tm = buildTinyModel('gemma', fresh(), { format: 'both' });
    truncateSync(tm.ggufPath!, readFileSync(tm.ggufPath!).length - 4096);
    await expectError(loadModel(tm.ggufPath!), 'truncated_file', tm.ggufPath!);
    const st = join(tm.hfDir!, 'model.safetensors');
    truncateSync(st, readFileSync(st).length - 100);
    await expectError(loadModel(tm.hfDir!), 'truncated_file', st);
  });

  it('a folder with a SentencePiece tokenizer.model instead of tokenizer.json loads', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'hf' });
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const words = ['▁', 't', 'h', 'e', 'c', 'a', '▁t', 'he', '▁the', '▁c', 'at', '▁cat'];
    const pieces = ['<unk>', '<s>', '</s>', ...bytes, ...words];
    assert.ok(pieces.length <= tm.vocabSize);
    const types = [2, 3, 3, ...bytes.map(() => 6), ...words.map(() => 1)];
    const scores = pieces.map((_, i) => (i < 259 ? 0 : -i));
    writeFileSync(join(tm.hfDir!, 'tokenizer.model'), writeSentencePieceModel({ pieces, scores, types }));
    rmSync(join(tm.hfDir!, 'tokenizer.json'));
    const cfgPath = join(tm.hfDir!, 'tokenizer_config.json');
    writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), bos_token: '<s>', eos_token: '</s>', add_bos_token: true }));
    const m = await loadModel(tm.hfDir!);
    const ids = m.tokenizer.encode('the cat');
    assert.deepEqual(ids, [1, pieces.indexOf('▁the'), pieces.indexOf('▁cat')]);
    assert.equal(m.tokenizer.decode(ids, { skipSpecial: true }), 'the cat');
    assert.deepEqual(m.tokenizer.encode('ü', { addSpecial: false }), [pieces.indexOf('▁'), 3 + 0xc3, 3 + 0xbc], 'the ▁ prefix, then byte fallback');
  });

  it('a tokenizer.json that is not one is named', async () => {
    const tm = buildTinyModel('qwen2', fresh(), { format: 'hf' });
    const p = join(tm.hfDir!, 'tokenizer.json');
    writeFileSync(p, JSON.stringify({ hello: 'world' }));
    await expectError(loadModel(tm.hfDir!), 'invalid_tokenizer', p, 'is not a tokenizer.json');
    writeFileSync(p, '{"model": {"type": "BPE"');
    await expectError(loadModel(tm.hfDir!), 'invalid_json', p);
    rmSync(p);
    await expectError(loadModel(tm.hfDir!), 'missing_tokenizer', 'tokenizer.json');
  });

  it('a model that cannot fit the engine heap is refused before reading', async () => {
    const tm = buildTinyModel('llama', fresh(), { format: 'gguf', dims: { dModel: 256, ffnDim: 512, nHeads: 4, nKvHeads: 2, headDim: 64 } });
    const heap = new Heap({ maxBytes: 3 << 20 });
    await expectError(loadModel(tm.ggufPath!, { heap }), 'heap_exhausted', 'MiB of engine memory');
    assert.equal(heap.allocatedBytes, 0);
  });

  it('a path that does not exist, or is not a model', async () => {
    await expectError(loadModel(join(root, 'nope')), 'model_not_found');
    await expectError(loadModel(join(root, 'nope'), { dtype: 'q5_1' as never }), 'invalid_dtype', "'q5_1'");
    const p = join(fresh() + '.bin');
    writeFileSync(p, 'PK\x03\x04 a zip, not a model');
    await expectError(loadModel(p), 'not_gguf', p);
  });
});

describe('loadModel: sharded checkpoints and inspection', () => {
  it('a sharded HF checkpoint loads like the single file', async () => {
    const tm = buildTinyModel('qwen3', fresh(), { format: 'hf' });
    const single = await loadModel(tm.hfDir!);
    const names = [...tm.hf.keys()];
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(tm.hfDir!, file), Object.fromEntries(list.map((k) => [k, { dtype: 'F32' as const, shape: tm.hf.get(k)!.shape, data: tm.hf.get(k)!.data }])));
      for (const k of list) weightMap[k] = file;
    });
    rmSync(join(tm.hfDir!, 'model.safetensors'));
    writeFileSync(join(tm.hfDir!, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const sharded = await loadModel(tm.hfDir!);
    compareTensors(single, sharded);
    const both = Buffer.concat([1, 2].map((i) => readFileSync(join(tm.hfDir!, `model-0000${i}-of-00002.safetensors`))));
    assert.equal(sharded.source.sha256, createHash('sha256').update(both).digest('hex'));
  });

  it('inspectModel reports config, hash and sizes without loading', async () => {
    const tm = buildTinyModel('bloom', fresh(), { format: 'both', dtype: 'q8_0' });
    const info = await inspectModel(tm.ggufPath!);
    const loaded = await loadModel(tm.ggufPath!);
    assert.equal(info.family, 'bloom');
    assert.equal(info.format, 'gguf');
    assert.equal(info.sha256, loaded.source.sha256);
    assert.deepEqual(info.config, loaded.config);
    assert.equal(info.tensorCount, loaded.tensors.size);
    assert.ok((info.dtypes.q8_0 ?? 0) > 0 && (info.dtypes.f32 ?? 0) > 0);
    assert.ok(info.weightBytes > 0 && info.weightBytes < readFileSync(tm.ggufPath!).length);
    assert.ok(info.heapBytes >= info.weightBytes && info.heapBytes <= loaded.heap.allocatedBytes + 64 * info.tensorCount);
    assert.equal(info.chatTemplate, true);
    const hf = await inspectModel(tm.hfDir!);
    assert.equal(hf.format, 'safetensors');
    assert.equal(hf.family, 'bloom');
  });
});

describe('loadModel: corrupted headers', () => {
  it('random byte corruption of GGUF and safetensors headers is always a named error or a valid model, never a crash or hang', () => {
    const tm = buildTinyModel('qwen2', fresh(), { format: 'both', dtype: 'q8_0' });
    const st = join(tm.hfDir!, 'model.safetensors');
    const orig = { gguf: readFileSync(tm.ggufPath!), st: readFileSync(st) };
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const codes = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const gguf = i % 2 === 0;
      const buf = Buffer.from(gguf ? orig.gguf : orig.st);
      // Corrupt within the header (GGUF: metadata + tensor infos; safetensors: the JSON).
      const end = gguf ? buf.length - 1 : Number(buf.readBigUInt64LE(0)) + 8;
      for (let k = 0, n = 1 + Math.floor(rnd() * 4); k < n; k++) buf[Math.floor(rnd() * end)] = Math.floor(rnd() * 256);
      writeFileSync(gguf ? tm.ggufPath! : st, buf);
      const t0 = performance.now();
      try {
        openModel(gguf ? tm.ggufPath! : tm.hfDir!);
      } catch (e) {
        assert.ok(e instanceof OpenLedgerError, `iteration ${i}: ${(e as Error).stack}`);
        codes.set(e.code!, (codes.get(e.code!) ?? 0) + 1);
      }
      assert.ok(performance.now() - t0 < 10_000, `iteration ${i} took too long`);
    }
    assert.ok((codes.get('corrupt_header') ?? 0) > 10, JSON.stringify([...codes]));
  });
});
