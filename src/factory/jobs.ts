/**
 * Fine-tuning jobs (OpenAI's fine_tuning.job): create (validated at once: model, sources,
 * access, hyperparameters), list, retrieve, cancel, events, checkpoints; and `run`, the whole
 * pipeline the queue's worker executes for one job:
 *
 *   validating_files → queued → running → succeeded | failed | cancelled
 *
 *   run   charge paid datanets (the node's dev key for the caller, as the datanets module does)
 *         → rows of each exact version (access checked again) → dataset (tokenized, split, the
 *         rows recorded) → train (checkpoints every N steps in <dataDir>/factory/jobs/<id>/,
 *         resumed from the last one after a crash) → evaluate base vs tuned on the held-out rows
 *         → export PEFT + GGUF LoRA → model card to DA → ModelRegistry.registerModelFor(owner)
 *
 * Train, evaluate and export run on a training thread of their own (training.ts), so the API,
 * SSE streams and serving stay responsive while a job runs; steps come back as messages and are
 * recorded here. With injected kernels (tests) the same work runs in this thread.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { getAddress, type Address } from 'viem';
import type { Chain } from '../chain/index.ts';
import type { BlobStore } from '../da/index.ts';
import type { Keyring } from '../identity/index.ts';
import type { DatanetService } from '../datanets/service.ts';
import { ModelCatalog, STARTER_NAME } from '../models/index.ts';
import { openModel } from '../engine/model/load.ts';
import { loadCheckpoint, type StepMetrics } from '../engine/train/index.ts';
import type { Kernels } from '../engine/index.ts';
import { checkUint256, OpenLedgerError, invalid, notFound } from '../util/errors.ts';
import { buildDataset, parseJsonlFile, sha256Hex, type RowFormat, type SourceRow } from './dataset.ts';
import { parseHyperparameters } from './hyperparameters.ts';
import { runTrainingThread, trainEvaluateExport, type TrainingInput } from './training.ts';
import { registerModel, configHash, modelCardMarkdown, type ModelCard } from './register.ts';
import { FactoryRepo, FINAL, type EventRecord, type JobRecord, type JobRequest } from './repo.ts';

export interface FactoryDeps {
  db: import('../store/index.ts').Db;
  dataDir: string;
  chain: Chain | null;
  blobs: BlobStore;
  keyring: Keyring | null;
  /** The datanet service (lazy: the routes create it). */
  datanets: () => DatanetService | null;
  /** Kernels for training and evaluation (default: the engine's WASM selection). */
  kernels?: Kernels;
}

const MAX_FILE_BYTES = 64 * 1024 * 1024;
const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;

export class FactoryService {
  readonly repo: FactoryRepo;
  readonly catalog: ModelCatalog;
  /** 'event' (EventRecord) and 'status' ({ jobId, status }) for SSE subscribers. */
  readonly events = new EventEmitter();
  /** Set by the queue: wakes the worker when a job is queued, aborts the running one on cancel. */
  onQueued: () => void = () => {};
  onCancel: (jobId: string) => void = () => {};

  constructor(readonly deps: FactoryDeps) {
    this.repo = new FactoryRepo(deps.db);
    this.catalog = new ModelCatalog(deps.dataDir);
    this.events.setMaxListeners(0);
  }

  jobDir(id: string) {
    return join(this.deps.dataDir, 'factory', 'jobs', id);
  }

  // ---- files ----

  uploadFile(owner: Address, filename: string, bytes: Uint8Array, purpose = 'fine-tune') {
    if (purpose !== 'fine-tune' && purpose !== 'adapter') throw invalid(`purpose ${JSON.stringify(String(purpose).slice(0, 40))} is not supported`, { param: 'purpose', code: 'invalid_purpose', hint: 'use purpose=fine-tune (JSONL training data) or purpose=adapter (a GGUF LoRA for POST /v1/fine_tuning/models/import)' });
    if (!bytes.length) throw invalid('the file is empty', { param: 'file', code: 'empty_file', hint: 'upload a JSONL file with at least one row' });
    if (bytes.length > MAX_FILE_BYTES) throw new OpenLedgerError(`the file has ${bytes.length} bytes; the limit is ${MAX_FILE_BYTES}`, { type: 'payload_too_large', param: 'file', code: 'file_too_large' });
    if (purpose === 'adapter') return this.uploadAdapter(owner, filename, bytes);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const id = newId('file');
    const parsed = parseJsonlFile(text, id); // validates the shape now, not when the job runs
    const dir = join(this.deps.dataDir, 'factory', 'files');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${id}.jsonl`);
    writeFileSync(path, bytes);
    const rec = this.repo.insertFile({ id, owner: getAddress(owner), filename, purpose, bytes: bytes.length, sha256: sha256Hex(bytes).slice(2), path });
    return { ...fileView(rec), format: parsed.format, rows: parsed.rows.length };
  }

  /** A GGUF LoRA adapter for import: checked for the GGUF magic now, strictly against its base at import. */
  private uploadAdapter(owner: Address, filename: string, bytes: Uint8Array) {
    if (!(bytes[0] === 0x47 && bytes[1] === 0x47 && bytes[2] === 0x55 && bytes[3] === 0x46)) {
      throw invalid('an adapter upload must be a GGUF LoRA file (it does not start with "GGUF")', { param: 'file', code: 'invalid_adapter_file', hint: 'convert a PEFT adapter to GGUF (llama.cpp convert_lora_to_gguf.py) or use the .gguf a fine-tuning job exported' });
    }
    const id = newId('file');
    const dir = join(this.deps.dataDir, 'factory', 'files');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${id}.gguf`);
    writeFileSync(path, bytes);
    const rec = this.repo.insertFile({ id, owner: getAddress(owner), filename, purpose: 'adapter', bytes: bytes.length, sha256: sha256Hex(bytes).slice(2), path });
    return fileView(rec);
  }

  file(owner: Address, id: string, param = 'training_file') {
    const f = this.repo.file(id);
    if (!f || f.owner.toLowerCase() !== owner.toLowerCase()) throw notFound(`no file ${id}`, { param, code: 'file_not_found', hint: 'upload it with POST /v1/files (purpose fine-tune)' });
    return f;
  }

  // ---- jobs ----

  /** Validate and queue a job (400/403/404 on anything wrong; nothing is stored then). */
  async createJob(owner: Address, body: Record<string, unknown>): Promise<JobRecord> {
    owner = getAddress(owner);
    // Omitted `model` means the shipped starter base model (OpenAI requires the field; naming it still works).
    const model = body.model === undefined || body.model === null ? STARTER_NAME : body.model;
    if (typeof model !== 'string' || !model) throw invalid('model must be a base model name', { param: 'model', code: 'model_required', hint: 'a base model name from `openledger models list`, or omit it for the starter model' });
    try {
      this.catalog.resolveName(model); // catalog names only: no request field becomes a path
    } catch (e) {
      if (e instanceof OpenLedgerError) throw notFound(e.message, { param: 'model', code: 'model_not_found', hint: e.hint });
      throw e;
    }
    // OpenAI's top-level seed seeds the run (shuffling, LoRA init, dropout) unless the hyperparameters name their own.
    const seed = body.seed ?? null;
    if (seed !== null && (!Number.isSafeInteger(seed) || (seed as number) < 0 || (seed as number) > 2 ** 31 - 1)) throw invalid(`seed must be an integer in [0, 2147483647], got ${JSON.stringify(seed)}`, { param: 'seed', code: 'invalid_request' });
    const hpIn = (body.hyperparameters ?? (body.method as any)?.supervised?.hyperparameters) as Record<string, unknown> | undefined;
    const hyperparameters = parseHyperparameters((seed !== null && (hpIn === undefined || (typeof hpIn === 'object' && hpIn !== null && hpIn.seed === undefined)) ? { ...(hpIn ?? {}), seed } : hpIn) as unknown);
    const trainingFile = body.training_file ?? null;
    if (trainingFile !== null && typeof trainingFile !== 'string') throw invalid('training_file must be a file id', { param: 'training_file', code: 'invalid_request' });
    const datanets = parseDatanets(body.datanets);
    if (!trainingFile && !datanets.length) throw invalid('a job needs training data: training_file or datanets', { param: 'training_file', code: 'data_required', hint: 'pass "datanets": [{"id": 1, "version": 1}] or upload a file and pass its id as training_file' });
    if (trainingFile && this.file(owner, trainingFile).purpose !== 'fine-tune') {
      throw invalid(`${trainingFile} was uploaded as an adapter, not as training data`, { param: 'training_file', code: 'invalid_training_file', hint: 'upload the JSONL with purpose=fine-tune' });
    }
    const validationFile = body.validation_file ?? null;
    if (validationFile !== null && typeof validationFile !== 'string') throw invalid('validation_file must be a file id', { param: 'validation_file', code: 'invalid_request' });
    if (validationFile && this.file(owner, validationFile, 'validation_file').purpose !== 'fine-tune') {
      throw invalid(`${validationFile} was uploaded as an adapter, not as validation data`, { param: 'validation_file', code: 'invalid_validation_file', hint: 'upload the JSONL with purpose=fine-tune' });
    }
    const suffix = body.suffix ?? null;
    if (suffix !== null && (typeof suffix !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(suffix))) throw invalid('suffix must be 1–40 letters, digits, _ or -', { param: 'suffix', code: 'invalid_suffix' });
    const split = body.validation_split ?? 0.1;
    if (typeof split !== 'number' || !(split >= 0 && split <= 0.5)) throw invalid(`validation_split must be in [0, 0.5], got ${JSON.stringify(split)}`, { param: 'validation_split', code: 'invalid_request', hint: 'use 0.1' });
    const price = (v: unknown, p: string) => {
      if (v === undefined) return '0';
      if ((typeof v === 'string' && /^\d{1,78}$/.test(v)) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) return checkUint256(BigInt(v), p).toString();
      throw invalid(`${p} must be a non-negative integer (OPEN wei per 1k tokens)`, { param: p, code: 'invalid_request' });
    };
    const request: JobRequest = {
      model, trainingFile, validationFile, datanets, hyperparameters, suffix, validationSplit: split,
      register: body.register !== false,
      pricePer1kInput: price(body.price_per_1k_input ?? body.price_per_1k_tokens, 'price_per_1k_input'),
      pricePer1kOutput: price(body.price_per_1k_output ?? body.price_per_1k_tokens, 'price_per_1k_output'),
    };
    // Access now (a clear 403 before anything is queued); paid datanets are charged when the job starts.
    for (const d of datanets) await this.checkAccess(owner, d.id, d.version, false);
    const id = newId('ftjob');
    const job = this.repo.insertJob({ id, owner, model, status: 'validating_files', request });
    this.event(id, 'info', 'message', `Validating training data for ${model}`);
    this.setStatus(id, 'queued');
    this.event(id, 'info', 'message', 'Job queued');
    this.onQueued();
    return this.repo.job(job.id)!;
  }

  /** Caller may use datanet `id` at `version`; with `charge`, a paid datanet is bought with the caller's dev key. */
  private async checkAccess(owner: Address, id: number, version: number, charge: boolean) {
    const svc = this.deps.datanets();
    if (!svc) throw invalid('datanets are not available on this node', { param: 'datanets', code: 'datanets_unavailable' });
    const d = svc.get(id); // 404 when unknown
    if (version < 1 || version > d.latestVersion) throw notFound(`datanet ${id} has no version ${version}`, { param: 'datanets', code: 'version_not_found', hint: d.latestVersion ? `published versions: 1…${d.latestVersion}` : 'the datanet has no published version yet' });
    try {
      await svc.requireRead(id, owner);
    } catch (e) {
      const paid = d.policies.access.kind === 'paid';
      const key = this.deps.keyring?.find(owner);
      if (!(e instanceof OpenLedgerError) || e.code !== 'no_read_access' || !paid || !key) throw e;
      if (!charge) return; // bought when the job starts
      const p = await svc.purchase(id, owner, { account: key });
      return { charged: p.priceWei, txHash: p.txHash };
    }
    return null;
  }

  job(owner: Address, id: string): JobRecord {
    const j = this.repo.job(id);
    if (!j || j.owner.toLowerCase() !== owner.toLowerCase()) throw notFound(`no fine-tuning job ${id}`, { param: 'fine_tuning_job_id', code: 'job_not_found', hint: 'list your jobs with GET /v1/fine_tuning/jobs' });
    return j;
  }

  cancel(owner: Address, id: string): JobRecord {
    const j = this.job(owner, id);
    if (FINAL.includes(j.status)) throw new OpenLedgerError(`job ${id} is already ${j.status}`, { type: 'conflict_error', code: 'job_finished', hint: 'only queued or running jobs can be cancelled' });
    if (j.status === 'running') this.onCancel(id); // the worker stops at the next step and marks it cancelled
    else {
      this.setStatus(id, 'cancelled');
      this.event(id, 'info', 'message', 'Job cancelled');
    }
    return this.repo.job(id)!;
  }

  event(jobId: string, level: EventRecord['level'], type: EventRecord['type'], message: string, data: Record<string, unknown> | null = null) {
    const e = this.repo.addEvent(jobId, level, type, message, data);
    this.events.emit('event', e);
    return e;
  }

  setStatus(jobId: string, status: JobRecord['status'], extra: Parameters<FactoryRepo['setStatus']>[2] = {}) {
    this.repo.setStatus(jobId, status, extra);
    this.events.emit('status', { jobId, status });
  }

  // ---- the pipeline ----

  /** Run one job to its end. Throws only for `stopping` (the node shuts down; the job stays resumable). */
  async run(jobId: string, signal: AbortSignal): Promise<void> {
    const job = this.repo.job(jobId)!;
    const req = job.request;
    const dir = this.jobDir(jobId);
    mkdirSync(dir, { recursive: true });
    this.setStatus(jobId, 'running');
    try {
      // 1. data: exact versions (paid ones charged now), or the uploaded file
      let format: RowFormat | null = null;
      const source: SourceRow[] = [];
      const datanetInfo: ModelCard['data']['datanets'] = [];
      const fileInfo: ModelCard['data']['files'] = [];
      const owner = job.owner as Address;
      for (const d of req.datanets) {
        const charged = await this.checkAccess(owner, d.id, d.version, true);
        if (charged) this.event(jobId, 'info', 'message', `Charged ${charged.charged} wei OPEN for access to datanet ${d.id}`, { datanet: d.id, price_wei: charged.charged, tx_hash: charged.txHash });
        const t = await this.deps.datanets()!.trainingRows(d.id, d.version, owner);
        if (format && t.format !== format) throw invalid(`datanet ${d.id} holds ${t.format} rows but earlier sources are ${format}`, { param: 'datanets', code: 'mixed_formats', hint: 'train on datanets of one format per job' });
        format = t.format;
        for (const r of t.rows) source.push({ datanetId: d.id, version: d.version, fileId: null, rowId: r.id, hash: r.hash, contributor: r.contributor, data: r.data as unknown as Record<string, unknown> });
        datanetInfo.push({ id: d.id, version: d.version, merkle_root: t.merkleRoot, rows: t.rows.length });
      }
      if (req.trainingFile) {
        const f = this.repo.file(req.trainingFile)!;
        const p = parseJsonlFile(readFileSync(f.path, 'utf8'), f.id);
        if (format && p.format !== format) throw invalid(`the training file holds ${p.format} rows but the datanets hold ${format}`, { param: 'training_file', code: 'mixed_formats' });
        format = p.format;
        source.push(...p.rows);
        fileInfo.push({ id: f.id, sha256: f.sha256, rows: p.rows.length });
      }
      // A validation file: its rows are the held-out set (the evaluation's), the training rows all train.
      let heldOut: number[] | undefined;
      if (req.validationFile) {
        const f = this.repo.file(req.validationFile);
        if (!f) throw notFound(`the validation file ${req.validationFile} is gone`, { param: 'validation_file', code: 'file_not_found', hint: 'upload it again and create a new job' });
        const p = parseJsonlFile(readFileSync(f.path, 'utf8'), f.id);
        if (format && p.format !== format) throw invalid(`the validation file holds ${p.format} rows but the training data holds ${format}`, { param: 'validation_file', code: 'mixed_formats' });
        heldOut = p.rows.map((_, i) => source.length + i);
        source.push(...p.rows);
        fileInfo.push({ id: f.id, sha256: f.sha256, rows: p.rows.length });
      }

      // 2. dataset (the exact rows recorded); the tokenizer comes from the model's files, not its weights
      const resolved = this.catalog.resolve(req.model);
      const opened = openModel(resolved.path);
      const ds = buildDataset(format!, source, { tokenizer: opened.tokenizer, contextLength: opened.config.contextLength, evalFraction: req.validationSplit, ...(heldOut ? { heldOut } : {}) });
      this.repo.setRows(jobId, ds.rows.map((r, ord) => ({ ord, datanetId: r.datanetId, version: r.version, fileId: r.fileId, rowId: r.rowId, rowHash: r.hash, contributor: r.contributor, split: r.split })));
      this.event(jobId, 'info', 'message', `Dataset: ${ds.stats.trainRows} training rows, ${ds.stats.evalRows} held out, ${ds.stats.tokens} tokens (${ds.format})`, { ...ds.stats });

      // 3–5. train (resumable), evaluate base vs tuned on the held-out rows, export — on the training thread
      const ckDir = join(dir, 'checkpoint');
      const prior = existsSync(join(ckDir, 'checkpoint.bin')) ? loadCheckpoint(join(ckDir, 'checkpoint.bin')) : null;
      if (prior) this.event(jobId, 'info', 'message', `Resuming from the checkpoint at step ${prior.meta.step}`, { step: prior.meta.step });
      else this.event(jobId, 'info', 'message', 'Fine-tuning started');
      const every = req.hyperparameters.checkpoint_every;
      const t0 = Date.now();
      const metrics: StepMetrics[] = [];
      const baseName = resolved.entry?.name ?? req.model.split('/').pop()!;
      const name = `ft:${baseName}:${req.suffix ?? 'custom'}:${jobId.slice(6, 14)}`;
      const input: TrainingInput = {
        modelPath: resolved.path, dataset: ds, hyperparameters: req.hyperparameters, checkpointDir: ckDir, checkpointEvery: every,
        exportDir: join(dir, 'adapter'), baseName, name, jobId,
      };
      const onStep = (m: StepMetrics) => {
        metrics.push(m);
        const perStep = (Date.now() - t0) / metrics.length / 1000;
        const eta = Math.round(perStep * (m.totalSteps - m.step));
        this.repo.setProgress(jobId, m.step, m.totalSteps);
        this.event(jobId, 'info', 'metrics', `Step ${m.step}/${m.totalSteps}: training loss=${m.loss.toFixed(4)}`, {
          step: m.step, total_steps: m.totalSteps, epoch: m.epoch, train_loss: m.loss, learning_rate: m.lr, grad_norm: m.gradNorm, tokens: m.tokens, tokens_per_s: m.tokensPerSecond, eta_s: eta,
        });
        if (m.step % every === 0 || m.step === m.totalSteps) {
          this.repo.upsertCheckpoint({ jobId, step: m.step, loss: m.loss, path: join(ckDir, 'checkpoint.bin') });
          this.event(jobId, 'info', 'message', `Checkpoint saved at step ${m.step}`, { step: m.step });
        }
      };
      const out = this.deps.kernels
        ? await trainEvaluateExport(input, { kernels: this.deps.kernels, signal, onStep })
        : await runTrainingThread(input, { signal, onStep });
      const { evaluation, exports: exp } = out;
      if (evaluation) this.event(jobId, 'info', 'message', `Evaluation on ${evaluation.rows} held-out rows: loss ${evaluation.base.loss.toFixed(4)} (base) → ${evaluation.tuned.loss.toFixed(4)} (tuned)`, evaluation as unknown as Record<string, unknown>);
      this.event(jobId, 'info', 'message', 'Adapter exported (PEFT and GGUF LoRA)', { peft_dir: exp.peftDir, gguf_path: exp.ggufPath, adapter_hash: exp.adapterHash });

      // 6. model card + registration
      const config = { base_model: out.base.sha256, hyperparameters: req.hyperparameters, data: { datanets: datanetInfo, files: fileInfo, format: ds.format, rows: ds.rows.map((r) => r.hash) }, validation_split: req.validationSplit };
      const first = metrics[0]?.loss ?? null, last = metrics[metrics.length - 1]?.loss ?? null;
      const card: ModelCard = {
        name, job: jobId, owner: job.owner,
        base_model: { name: baseName, sha256: out.base.sha256, architecture: out.base.arch },
        adapter: { format: ['peft', 'gguf'], sha256: exp.adapterHash, gguf_sha256: exp.ggufHash, rank: req.hyperparameters.lora_rank, alpha: req.hyperparameters.lora_alpha, target_modules: req.hyperparameters.lora_target_modules },
        data: { datanets: datanetInfo, files: fileInfo, format: ds.format, rows: ds.stats.rows, train_rows: ds.stats.trainRows, eval_rows: ds.stats.evalRows, tokens: ds.stats.tokens },
        config, training: { steps: out.steps, first_loss: first, final_loss: last, seconds: (Date.now() - t0) / 1000 }, results: evaluation,
      };
      writeFileSync(join(dir, 'model-card.md'), modelCardMarkdown(card));
      writeFileSync(join(dir, 'model-card.json'), JSON.stringify(card, null, 2));
      let registration: Awaited<ReturnType<typeof registerModel>> | null = null;
      // A job re-run after a crash that followed its registration must not register twice.
      const registered = this.repo.model(jobId);
      if (registered?.modelId && registered.txHash) registration = { modelId: registered.modelId, txHash: registered.txHash as `0x${string}`, metadataURI: registered.metadataUri, configHash: registered.configHash as `0x${string}` };
      else if (req.register && this.deps.chain) {
        registration = await registerModel(this.deps.chain, this.deps.blobs, {
          owner, card, baseModelSha256: out.base.sha256, adapterHash: exp.adapterHash,
          trainedOn: req.datanets.map((d) => ({ datanetId: d.id, version: d.version })), config,
          pricePer1kInput: BigInt(req.pricePer1kInput), pricePer1kOutput: BigInt(req.pricePer1kOutput),
        });
        this.event(jobId, 'info', 'message', `Registered on chain as model ${registration.modelId}`, { ...registration });
      }
      this.repo.insertModel({
        jobId, name, owner: job.owner, baseModel: req.model, modelId: registration?.modelId ?? null, txHash: registration?.txHash ?? null, baseModelHash: out.base.sha256,
        adapterHash: exp.adapterHash, configHash: registration?.configHash ?? configHash(config), metadataUri: registration?.metadataURI ?? '', peftDir: exp.peftDir,
        ggufPath: exp.ggufPath, priceInWei: req.pricePer1kInput, priceOutWei: req.pricePer1kOutput,
      });
      this.setStatus(jobId, 'succeeded', {
        fineTunedModel: name,
        result: { evaluation, exports: exp, registration, training: card.training, data: card.data, model_card: join(dir, 'model-card.md') },
      });
      this.event(jobId, 'info', 'message', 'The job has successfully completed');
    } catch (e) {
      const err = e instanceof OpenLedgerError ? e : new OpenLedgerError((e as Error).message ?? String(e), { type: 'internal_error', code: 'internal_error' });
      if (err.code === 'cancelled' || signal.aborted) {
        if ((signal.reason as { stopping?: boolean } | undefined)?.stopping) {
          this.setStatus(jobId, 'queued'); // node shutting down: resumes from its checkpoint on the next start
          this.event(jobId, 'warn', 'message', 'Node stopping: job paused at its last checkpoint');
          return;
        }
        this.setStatus(jobId, 'cancelled');
        this.event(jobId, 'info', 'message', 'Job cancelled');
        return;
      }
      const error = { message: err.message, code: err.code, param: err.param, hint: err.hint };
      this.setStatus(jobId, 'failed', { error });
      this.event(jobId, 'error', 'message', `Job failed: ${err.message}${err.hint ? ` (${err.hint})` : ''}`, { ...error, details: err.details ?? null });
    }
  }

  /**
   * A fine-tuned (or imported) model by name (`ft:<base>:<suffix>:<id>`) or job id, with where its
   * base and adapter files are — what serving (OpenLoRA) needs to load it: base path + adapter path.
   */
  fineTunedModel(nameOrJob: string) {
    const m = this.repo.model(nameOrJob);
    if (!m) return null;
    return { ...m, baseModelPath: this.catalog.resolve(m.baseModel).path, adapterPath: m.peftDir || m.ggufPath };
  }

  /** Remove a job's files (not its records). */
  purgeFiles(jobId: string) {
    rmSync(this.jobDir(jobId), { recursive: true, force: true });
  }
}

/** Most datanet versions one job may train on (after removing duplicates). */
export const MAX_JOB_DATANET_VERSIONS = 32;

function parseDatanets(v: unknown): Array<{ id: number; version: number }> {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid('datanets must be a list of {id, version}', { param: 'datanets', code: 'invalid_request', hint: 'e.g. [{"id": 1, "version": 2}]' });
  // Checked before anything is read: 10 000 copies of one version must cost nothing but this 400.
  const distinct = new Set(v.map((d) => `${(d as { id?: unknown })?.id}@${(d as { version?: unknown })?.version}`));
  if (distinct.size > MAX_JOB_DATANET_VERSIONS) {
    throw invalid(`a job may train on at most ${MAX_JOB_DATANET_VERSIONS} datanet versions; this one names ${distinct.size}`, {
      param: 'datanets', code: 'too_many_datanet_versions', hint: `split the data over several jobs, or publish a combined version`,
    });
  }
  const seen = new Set<string>();
  return v.flatMap((d, i) => {
    const id = (d as { id?: unknown })?.id, version = (d as { version?: unknown })?.version;
    if (!Number.isSafeInteger(id) || (id as number) < 1) throw invalid(`datanets[${i}].id must be a positive integer`, { param: `datanets[${i}].id`, code: 'invalid_request' });
    if (!Number.isSafeInteger(version) || (version as number) < 1) throw invalid(`datanets[${i}].version must be a positive integer`, { param: `datanets[${i}].version`, code: 'invalid_request', hint: 'name the exact published version to train on' });
    const key = `${id}@${version}`;
    if (seen.has(key)) return []; // a repeated version adds no data: train on it once
    seen.add(key);
    return [{ id: id as number, version: version as number }];
  });
}

export const fileView = (f: { id: string; bytes: number; createdAt: number; filename: string; purpose: string }) => ({
  id: f.id, object: 'file', bytes: f.bytes, created_at: f.createdAt, filename: f.filename, purpose: f.purpose, status: 'processed',
});

/** OpenAI's fine_tuning.job shape (plus our fields). */
export function jobView(j: JobRecord) {
  const hp = j.request.hyperparameters;
  return {
    id: j.id, object: 'fine_tuning.job', created_at: j.createdAt, finished_at: j.finishedAt, started_at: j.startedAt,
    model: j.model, fine_tuned_model: j.fineTunedModel, organization_id: j.owner, status: j.status,
    training_file: j.request.trainingFile, validation_file: j.request.validationFile ?? null, datanets: j.request.datanets,
    hyperparameters: hp, suffix: j.request.suffix, seed: hp.seed, trained_tokens: null,
    trained_steps: j.trainedSteps, total_steps: j.totalSteps, error: j.error, result_files: [], result: j.result,
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: hp.n_epochs, batch_size: hp.batch_size, learning_rate_multiplier: hp.learning_rate / 2e-4 } } },
  };
}
