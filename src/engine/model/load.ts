/**
 * loadModel(path): an HF folder (config.json + *.safetensors + tokenizer.json +
 * tokenizer_config.json) or a .gguf file → a LoadedModel whose tensors carry canonical GGUF names
 * and identical layouts whichever format they came from (see names.ts for the transforms).
 *
 * Order of work, so bad input fails fast and cheaply:
 *   openModel (also behind inspectModel) — headers and JSON only:
 *     1. parse headers and config → ModelConfig (architectures.ts)
 *     2. plan every tensor (names.ts) and check each planned shape against what the config implies
 *        (missing tensor, wrong shape → error naming the tensor, expected and actual shape)
 *     3. build the tokenizer (so a broken tokenizer.json fails before 1 GB is read)
 *   loadModel then:
 *     4. hashes the weight file(s) (streamed sha256, on a worker thread, overlapping step 5)
 *     5. reads tensor bytes straight into the heap: 2-D weights keep their file dtype (the kernels
 *        dequantize on the fly), 1-D tensors (norms, biases) become f32. Only tensors that need a
 *        row permutation or transpose (HF q/k, Conv1D, fused qkv) pass through a temporary buffer.
 *
 * Measured on 2 cores shared with other jobs (load average ~10, so ±50%): a Qwen2.5-0.5B-shaped
 * GGUF loads in 1.6–2.7 s (Q8_0, 0.5 GB) and 3.2–5.9 s (F16, 1 GB) including the hash (sha256
 * alone: 1.7–2.2 s per GB); resident memory is the heap plus ~120–150 MB (no double buffering).
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { invalid, modelError, notFound } from '../../util/errors.ts';
import { Heap } from '../heap.ts';
import { BLOCK, type DType, type WeightTensor } from '../kernels/types.ts';
import { readGgufHeader, unsupportedTypeError, type GgufFile } from '../formats/gguf.ts';
import { dequantize, quantize } from '../formats/quantize.ts';
import { openSafetensors, type SafetensorsModel } from '../formats/safetensors.ts';
import { pickChatTemplate } from '../chat-template.ts';
import { createTokenizer, tokenizerJsonFromGguf, tokenizerJsonFromSentencePiece } from '../tokenizer/index.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { configFromGguf, configFromHf, expectedTensors, type HfConfig } from './architectures.ts';
import type { ModelConfig } from './config.ts';
import { llama3RopeFreqs, planGguf, planHf, type TensorPlan } from './names.ts';

export interface LoadedModel {
  config: ModelConfig;
  heap: Heap;
  /** 2-D weights stay in their file dtype (fused dequant in kernels); 1-D tensors (norms, biases) are f32 on the heap. */
  tensors: Map<string, WeightTensor | Float32Array>;
  tokenizer: Tokenizer; // src/engine/tokenizer
  chatTemplate: string | null; // jinja source
  source: { format: 'gguf' | 'safetensors'; path: string; sha256: string };
}

export interface LoadOptions {
  /** Heap to allocate on (default: a new one). */
  heap?: Heap;
  /**
   * Requantize every 2-D weight to this dtype at load (e.g. 'q8_0' for a BF16 HF checkpoint).
   * Default: keep the file's dtype.
   */
  dtype?: DType;
}

/** One tensor as stored in a file, format-neutral. */
export interface SourceTensor {
  name: string;
  /** Storage type: one of ours, or the file's name for a type we cannot use (for the error). */
  dtype: DType | string;
  /** PyTorch order: [rows, cols] for a matrix, [n] for a vector. */
  shape: number[];
  nbytes: number;
  file: string;
  offset: number;
}

/** A planned canonical tensor: where it comes from and its final shape. */
export interface Part {
  name: string;
  shape: number[];
  plan: TensorPlan;
  /** First row within the (transformed) source. */
  row0: number;
}

const ST_DTYPE: Record<string, DType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (opts.dtype !== undefined && !(opts.dtype in BLOCK)) {
    throw invalid(`unknown weight dtype '${String(opts.dtype)}'`, { param: 'dtype', code: 'invalid_dtype', hint: `use one of ${Object.keys(BLOCK).join(', ')}` });
  }
  const m = openModel(path);
  const heap = heapFor(m, opts, path);
  // Hash on a worker thread while this thread reads the tensors: the two overlap on two cores.
  const hashing = sha256Files(m.files, { thread: true });
  hashing.catch(() => {}); // awaited below; never an unhandled rejection if reading fails first
  const tensors = materialize(m.plans, m.parts, m.sources, heap, opts, path);
  const sha256 = await hashing;
  const config = m.config;
  if (config.rope?.scaling?.type === 'llama3') {
    const freqs = tensors.get('rope_freqs.weight');
    if (freqs instanceof Float32Array) {
      // GGUF keeps only the per-pair divisors; the largest is the scaling factor.
      if (m.format === 'gguf') config.rope.scaling.factor = freqs.reduce((a, b) => Math.max(a, b), 1);
    } else {
      // HF: computed from config.json exactly as llama.cpp's converter does.
      tensors.set('rope_freqs.weight', heap.copyIn(llama3RopeFreqs(config)));
    }
  }
  return { config, heap, tensors, tokenizer: m.tokenizer, chatTemplate: m.chatTemplate, source: { format: m.format, path, sha256 } };
}

/**
 * A model whose headers, config, tensor plan and tokenizer have been read and checked, but whose
 * tensor data has not: what `loadModel` reads next, and what `inspectModel` reports.
 */
export interface OpenedModel {
  format: 'gguf' | 'safetensors';
  config: ModelConfig;
  tokenizer: Tokenizer;
  chatTemplate: string | null;
  /** Weight files, in hashing order. */
  files: string[];
  /** Bytes of tensor data the model will read. */
  weightBytes: number;
  sources: Map<string, SourceTensor>;
  plans: TensorPlan[];
  parts: Map<string, Part>;
}

/** Parse and check everything except tensor data (cheap: headers and JSON only). */
export function openModel(path: string): OpenedModel {
  if (!existsSync(path)) {
    throw notFound(`model path ${path} does not exist`, { code: 'model_not_found', param: 'model', hint: 'pass a Hugging Face model folder or a .gguf file' });
  }
  return statSync(path).isDirectory() ? openHfFolder(path) : openGgufFile(path);
}

// ------------------------------------------------------------------ HF folder

function openHfFolder(dir: string): OpenedModel {
  const configPath = join(dir, 'config.json');
  const raw = readJson(configPath, 'config.json', true) as HfConfig;
  let config = configFromHf(raw, configPath);
  const st: SafetensorsModel = openSafetensors(dir);
  const sources = new Map<string, SourceTensor>();
  for (const t of st.tensors.values()) {
    sources.set(t.name, { name: t.name, dtype: ST_DTYPE[t.dtype] ?? t.dtype, shape: t.shape, nbytes: t.nbytes, file: t.file, offset: t.offset });
  }
  // llama.cpp uses token_embd for the logits when the checkpoint has no lm_head.
  const hasHead = [...sources.keys()].some((n) => /(^|\.)lm_head\.weight$|(^|\.)output_layer\.weight$/.test(n));
  if (!config.tiedEmbeddings && !hasHead) config = { ...config, tiedEmbeddings: true };
  const plans = planHf(config, [...sources.keys()], dir);
  const parts = planParts(config, plans, sources, dir);

  // Tokenizer: tokenizer.json, or else a SentencePiece tokenizer.model.
  let tokPath = join(dir, 'tokenizer.json');
  const spmPath = join(dir, 'tokenizer.model');
  let tokConfig = (readJson(join(dir, 'tokenizer_config.json'), 'tokenizer_config.json', false) ?? {}) as Record<string, unknown>;
  let tokJson: unknown;
  if (existsSync(tokPath)) tokJson = readJson(tokPath, 'tokenizer.json', true);
  else if (existsSync(spmPath)) {
    ({ tokenizerJson: tokJson, tokenizerConfig: tokConfig } = tokenizerJsonFromSentencePiece(readFileSync(spmPath), tokConfig, spmPath));
    tokPath = spmPath;
  } else {
    throw modelError(`${dir}: no tokenizer.json (or SentencePiece tokenizer.model)`, {
      code: 'missing_tokenizer', param: 'model', hint: 'the folder needs the fast tokenizer file tokenizer.json (save it with transformers AutoTokenizer.save_pretrained)',
    });
  }
  const gen = (readJson(join(dir, 'generation_config.json'), 'generation_config.json', false) ?? {}) as Record<string, unknown>;
  let chatTemplate = pickChatTemplate(tokConfig.chat_template);
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (!chatTemplate && existsSync(jinjaPath)) chatTemplate = readFileSync(jinjaPath, 'utf8');
  // EOS: config.json, generation_config.json (instruct models list their end-of-turn ids there)
  // and tokenizer_config.json together.
  const eos = new Set<number>(config.eosTokenIds);
  const genEos = gen.eos_token_id;
  for (const id of Array.isArray(genEos) ? genEos : [genEos]) if (typeof id === 'number') eos.add(id);
  const probe = createTokenizer(tokJson, tokConfig, { source: tokPath });
  for (const id of probe.eosTokenIds) eos.add(id);
  const bos = config.bosTokenId ?? (typeof gen.bos_token_id === 'number' ? gen.bos_token_id : probe.bosTokenId);
  const tokenizer = createTokenizer(tokJson, tokConfig, { source: tokPath, bosTokenId: bos, eosTokenIds: [...eos], chatTemplate });
  config = { ...config, bosTokenId: bos, eosTokenIds: [...eos] };
  checkVocab(config, tokenizer, dir);
  if (config.family === 'gemma3' && tokenizer.vocabSize < config.vocabSize) {
    // Gemma 3 pads its embedding past the tokenizer (262208 rows for 262144 tokens); llama.cpp's
    // converter drops the padding rows, so the logits have one entry per real token. Same here.
    const emb = parts.get('token_embd.weight')!;
    emb.shape = [tokenizer.vocabSize, emb.shape[1]];
    config = { ...config, vocabSize: tokenizer.vocabSize };
  }
  const files = st.files.map((f) => f.path);
  return { format: 'safetensors', config, tokenizer, chatTemplate, files, weightBytes: dataBytes(parts, sources), sources, plans, parts };
}

function readJson(path: string, what: string, required: boolean): unknown {
  if (!existsSync(path)) {
    if (!required) return null;
    throw modelError(`${path} is missing`, { code: 'missing_file', param: 'model', hint: `a Hugging Face model folder needs ${what}` });
  }
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw modelError(`${path} is not valid JSON: ${(e as Error).message}`, { code: 'invalid_json', param: 'model', hint: `${what} is corrupt` });
  }
}

// ------------------------------------------------------------------ GGUF

function openGgufFile(path: string): OpenedModel {
  const f: GgufFile = readGgufHeader(path);
  const config = configFromGguf(f);
  const sources = new Map<string, SourceTensor>();
  for (const t of f.tensors) {
    if (t.dtype === null) throw unsupportedTypeError(path, t);
    if (t.ne.length > 2) {
      throw modelError(`${path}: tensor ${t.name} has ${t.ne.length} dimensions; this engine loads 1-D and 2-D tensors only`, { code: 'unsupported_tensor', param: 'file' });
    }
    sources.set(t.name, { name: t.name, dtype: t.dtype, shape: [...t.ne].reverse(), nbytes: t.nbytes, file: path, offset: t.offset });
  }
  const plans = planGguf(config, [...sources.keys()]);
  const parts = planParts(config, plans, sources, path);
  const { tokenizerJson, tokenizerConfig } = tokenizerJsonFromGguf(f);
  const chatTemplate = typeof tokenizerConfig.chat_template === 'string' ? tokenizerConfig.chat_template : null;
  const tokenizer = createTokenizer(tokenizerJson, tokenizerConfig, {
    source: `${path} (embedded vocab)`, bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, chatTemplate,
  });
  checkVocab(config, tokenizer, path);
  return { format: 'gguf', config, tokenizer, chatTemplate, files: [path], weightBytes: dataBytes(parts, sources), sources, plans, parts };
}

function dataBytes(parts: Map<string, Part>, sources: Map<string, SourceTensor>): number {
  const used = new Set([...parts.values()].map((p) => p.plan.source));
  let n = 0;
  for (const s of used) n += sources.get(s)!.nbytes;
  return n;
}

// ------------------------------------------------------------------ shared

/** Heap bytes the loaded tensors will take: 2-D in their stored (or requantized) dtype, 1-D as f32. */
export function loadedBytes(m: OpenedModel, opts: LoadOptions): number {
  let bytes = 0;
  for (const src of new Set([...m.parts.values()].map((p) => p.plan.source))) {
    const t = m.sources.get(src)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length === 1) bytes += n * 4;
    else if (opts.dtype && t.shape[1] % BLOCK[opts.dtype].elems === 0) bytes += (n / BLOCK[opts.dtype].elems) * BLOCK[opts.dtype].bytes;
    else bytes += t.nbytes;
    bytes += 64; // alignment
  }
  return bytes;
}

/** The heap to load into: the caller's, or a new one sized for the model. Refuses up front if it cannot fit. */
function heapFor(m: OpenedModel, opts: LoadOptions, path: string): Heap {
  const need = loadedBytes(m, opts);
  const heap = opts.heap ?? (() => {
    // Reserve the weights up front (the heap still grows on demand for activations and KV cache).
    const initialBytes = Math.min(need * 1.02 + (32 << 20), 2 ** 32 - 65536);
    try {
      return new Heap({ initialBytes });
    } catch {
      return new Heap(); // the OS refused one big reservation: start small and grow
    }
  })();
  const room = heap.maxBytes - heap.allocatedBytes - (1 << 20);
  if (need > room) {
    throw modelError(`${path}: the model needs ${(need / 2 ** 20).toFixed(0)} MiB of engine memory but only ${(room / 2 ** 20).toFixed(0)} MiB are available (the WebAssembly heap is limited to 4 GiB)`, {
      code: 'heap_exhausted', param: 'model',
      hint: 'load a smaller model, or a quantized one (a Q8_0/Q4_K GGUF, or loadModel(path, { dtype: "q8_0" }))',
      details: { needBytes: need, availableBytes: room },
    });
  }
  return heap;
}

function checkVocab(cfg: ModelConfig, tok: Tokenizer, path: string) {
  if (tok.vocabSize > cfg.vocabSize) {
    throw modelError(`${path}: the tokenizer has ${tok.vocabSize} tokens but the model's embedding has only ${cfg.vocabSize} rows`, {
      code: 'tokenizer_mismatch', param: 'tokenizer', hint: 'the tokenizer belongs to a different model',
    });
  }
}

const fmtShape = (s: number[]) => `(${s.join(', ')})`;

/**
 * Resolve each plan into its canonical parts with final shapes, and check them all against the
 * config before any data is read.
 */
function planParts(cfg: ModelConfig, plans: TensorPlan[], sources: Map<string, SourceTensor>, path: string): Map<string, Part> {
  const parts = new Map<string, Part>();
  for (const plan of plans) {
    const src = sources.get(plan.source)!;
    let shape = [...src.shape];
    if (plan.transpose) {
      if (shape.length !== 2) throw modelError(`${path}: tensor ${plan.source} should be 2-D to transpose, has shape ${fmtShape(shape)}`, { code: 'shape_mismatch', param: 'file' });
      shape = [shape[1], shape[0]];
    }
    if (plan.perm && plan.perm.length !== shape[0]) {
      throw modelError(`${path}: tensor ${plan.source} has ${shape[0]} rows but the config implies ${plan.perm.length} (shape ${fmtShape(shape)})`, {
        code: 'shape_mismatch', param: 'file', hint: 'config.json does not match the weights (heads, head size or hidden size)', details: { tensor: plan.source },
      });
    }
    if (plan.split) {
      const total = plan.split.reduce((a, p) => a + p.rows, 0);
      if (total !== shape[0]) {
        throw modelError(`${path}: fused tensor ${plan.source} has ${shape[0]} rows but the config implies ${plan.split.map((p) => `${p.name.split('.').slice(-2, -1)[0]} ${p.rows}`).join(' + ')} = ${total}`, {
          code: 'shape_mismatch', param: 'file', hint: 'config.json does not match the weights (heads, kv heads, head size or ffn size)', details: { tensor: plan.source },
        });
      }
      let row0 = 0;
      for (const p of plan.split) {
        parts.set(p.name, { name: p.name, shape: shape.length === 2 ? [p.rows, shape[1]] : [p.rows], plan, row0 });
        row0 += p.rows;
      }
    } else {
      parts.set(plan.target, { name: plan.target, shape, plan, row0: 0 });
    }
  }
  const expected = expectedTensors(cfg);
  const known = new Set(expected.map((e) => e.name));
  for (const e of expected) {
    const p = parts.get(e.name);
    if (!p) {
      if (e.optional || (e.name === 'rope_freqs.weight')) continue;
      throw modelError(`${path}: missing tensor ${e.name} (expected shape ${fmtShape(e.shape)} for this ${cfg.family} config)`, {
        code: 'missing_tensor', param: 'file', hint: 'the weights are incomplete or the config does not match them', details: { tensor: e.name, expected: e.shape },
      });
    }
    if (p.shape.length !== e.shape.length || p.shape.some((d, i) => d !== e.shape[i])) {
      throw modelError(`${path}: tensor ${e.name}${p.plan.source !== e.name ? ` (from ${p.plan.source})` : ''} has shape ${fmtShape(p.shape)} but the config implies ${fmtShape(e.shape)}`, {
        code: 'shape_mismatch', param: 'file', hint: 'the config does not match the weights (wrong config.json or a different model size)',
        details: { tensor: e.name, expected: e.shape, actual: p.shape },
      });
    }
  }
  // Tensors the config does not use (e.g. extra GGUF tensors) are not loaded.
  for (const name of [...parts.keys()]) if (!known.has(name)) parts.delete(name);
  for (const p of parts.values()) {
    const src = sources.get(p.plan.source)!;
    if (!(typeof src.dtype === 'string' && src.dtype in BLOCK)) {
      throw modelError(`${path}: tensor ${src.name} has dtype ${src.dtype}, which this engine cannot load (F32, F16 and BF16 are supported in safetensors)`, {
        code: 'unsupported_dtype', param: 'file', hint: 'convert the checkpoint to BF16/F16/F32 safetensors', details: { tensor: src.name },
      });
    }
    if (p.shape.length === 2 && p.shape[1] % BLOCK[src.dtype as DType].elems !== 0) {
      throw modelError(`${path}: tensor ${src.name} has ${p.shape[1]} columns, not a multiple of the ${src.dtype} block size`, { code: 'shape_mismatch', param: 'file' });
    }
  }
  return parts;
}

function rowBytesOf(dtype: DType, cols: number): number {
  const b = BLOCK[dtype];
  return (cols / b.elems) * b.bytes;
}

/** Read every needed source tensor once, apply its transforms, and register its parts. */
function materialize(
  plans: TensorPlan[], parts: Map<string, Part>, sources: Map<string, SourceTensor>,
  heap: Heap, opts: LoadOptions, path: string,
): Map<string, WeightTensor | Float32Array> {
  const out = new Map<string, WeightTensor | Float32Array>();
  const bySource = new Map<string, Part[]>();
  for (const p of parts.values()) {
    const list = bySource.get(p.plan.source) ?? [];
    list.push(p);
    bySource.set(p.plan.source, list);
  }
  // Every heap block taken here, so a failure part-way leaves the caller's heap as it was.
  const blocks: ArrayBufferView[] = [];
  const take = <T extends ArrayBufferView>(v: T): T => {
    blocks.push(v);
    return v;
  };
  const fds = new Map<string, number>();
  const fdOf = (file: string) => {
    let fd = fds.get(file);
    if (fd === undefined) {
      fd = openSync(file, 'r');
      fds.set(file, fd);
    }
    return fd;
  };
  try {
    for (const plan of plans) {
      const ps = bySource.get(plan.source);
      if (!ps) continue;
      const src = sources.get(plan.source)!;
      const dtype = src.dtype as DType;
      const matrix = ps[0].shape.length === 2;
      if (!matrix) {
        // Vector: to f32, then +1 / permutation, then split into views.
        const raw = Buffer.allocUnsafe(src.nbytes);
        readExact(fdOf(src.file), raw, src.offset, path, src.name);
        const n = src.shape.reduce((a, b) => a * b, 1);
        const f32 = take(heap.f32(n));
        dequantize(raw, dtype, n, f32 as Float32Array<ArrayBuffer>);
        if (plan.addOne) for (let i = 0; i < n; i++) f32[i] += 1;
        if (plan.perm) {
          const tmp = Float32Array.from(f32);
          for (let r = 0; r < n; r++) f32[r] = tmp[plan.perm[r]];
        }
        for (const p of ps) out.set(p.name, f32.subarray(p.row0, p.row0 + p.shape[0]));
        continue;
      }
      const [rows, cols] = plan.transpose ? [src.shape[1], src.shape[0]] : [src.shape[0], src.shape[1]];
      const rb = rowBytesOf(dtype, cols);
      let data: Uint8Array;
      if (!plan.transpose && !plan.perm) {
        data = take(heap.u8(src.nbytes));
        readExact(fdOf(src.file), data, src.offset, path, src.name);
      } else {
        if (BLOCK[dtype].elems !== 1) throw new Error(`internal: cannot permute/transpose quantized tensor ${src.name}`);
        const es = BLOCK[dtype].bytes;
        const raw = Buffer.allocUnsafe(src.nbytes);
        readExact(fdOf(src.file), raw, src.offset, path, src.name);
        let cur: Uint8Array = raw;
        if (plan.transpose) {
          // Stored (cols, rows) — Conv1D (in, out) — → (rows, cols).
          const t = Buffer.allocUnsafe(src.nbytes);
          for (let i = 0; i < cols; i++) {
            for (let j = 0; j < rows; j++) {
              const from = (i * rows + j) * es;
              const to = (j * cols + i) * es;
              for (let b = 0; b < es; b++) t[to + b] = cur[from + b];
            }
          }
          cur = t;
        }
        data = take(heap.u8(src.nbytes));
        if (plan.perm) {
          for (let r = 0; r < rows; r++) data.set(cur.subarray(plan.perm[r] * rb, (plan.perm[r] + 1) * rb), r * rb);
        } else data.set(cur);
      }
      let wdtype = dtype;
      if (opts.dtype && opts.dtype !== dtype && cols % BLOCK[opts.dtype].elems === 0) {
        // Requantize: per row block of the whole matrix (rows are independent).
        const f32 = dequantize(data, dtype, rows * cols) as Float32Array<ArrayBuffer>;
        heap.free(data);
        blocks.splice(blocks.indexOf(data), 1);
        data = take(heap.u8(rows * rowBytesOf(opts.dtype, cols)));
        quantize(f32, opts.dtype, data);
        wdtype = opts.dtype;
      }
      const wrb = rowBytesOf(wdtype, cols);
      for (const p of ps) {
        out.set(p.name, { dtype: wdtype, rows: p.shape[0], cols, data: data.subarray(p.row0 * wrb, (p.row0 + p.shape[0]) * wrb) });
      }
    }
  } catch (e) {
    for (const b of blocks) heap.free(b);
    throw e;
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
  return out;
}

function readExact(fd: number, dest: Uint8Array, offset: number, path: string, name: string): void {
  let done = 0;
  const step = 16 << 20;
  while (done < dest.byteLength) {
    const got = readSync(fd, dest, done, Math.min(step, dest.byteLength - done), offset + done);
    if (got === 0) {
      throw modelError(`${path}: unexpected end of file while reading tensor ${name}`, {
        code: 'truncated_file', param: 'file', hint: 'the file is incomplete or corrupt', details: { tensor: name },
      });
    }
    done += got;
  }
}

/**
 * sha256 of the concatenated bytes of `files` (one file: that file's sha256), streamed in 4 MiB
 * chunks. With `thread`, on a worker thread, so the caller can read tensors meanwhile.
 */
export async function sha256Files(files: string[], opts: { thread?: boolean } = {}): Promise<string> {
  if (opts.thread) {
    return new Promise<string>((resolve, reject) => {
      const w = new Worker(HASH_WORKER, { eval: true, workerData: files });
      w.once('message', (m: { hex?: string; error?: string }) => (m.hex ? resolve(m.hex) : reject(new Error(m.error))));
      w.once('error', reject);
      w.once('exit', (code) => code !== 0 && reject(new Error(`hash worker exited with ${code}`)));
    }).catch((e: Error) => {
      throw modelError(`cannot hash ${files.join(', ')}: ${e.message}`, { code: 'read_error', param: 'file', cause: e });
    });
  }
  const h = createHash('sha256');
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      const s = createReadStream(f, { highWaterMark: 4 << 20 });
      s.on('data', (c) => h.update(c));
      s.on('end', resolve);
      s.on('error', reject);
    });
  }
  return h.digest('hex');
}

const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
try {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const f of workerData) {
    const fd = openSync(f, 'r');
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally { closeSync(fd); }
  }
  parentPort.postMessage({ hex: h.digest('hex') });
} catch (e) { parentPort.postMessage({ error: String(e && e.message || e) }); }
`;
