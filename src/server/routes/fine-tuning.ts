/**
 * Model Factory over HTTP, OpenAI-compatible where OpenAI has the route:
 *
 *   POST /v1/files                              upload a JSONL training file (purpose fine-tune):
 *                                               multipart (file, purpose), raw body (?filename=&purpose=)
 *                                               or JSON {filename, content}; per-caller count and byte quotas
 *   GET  /v1/files                              your files (?purpose&limit&after&order, newest first)
 *   GET  /v1/files/:id, /v1/files/:id/content   one file, its bytes
 *   DELETE /v1/files/:id                        (409 while an unfinished job uses it)
 *   POST /v1/fine_tuning/jobs                   { model, training_file? | datanets: [{id, version}], validation_file,
 *                                                 seed, hyperparameters, suffix, validation_split, price_per_1k_* }
 *   GET  /v1/fine_tuning/jobs                   ?limit&after (newest first)
 *   GET  /v1/fine_tuning/jobs/:id
 *   POST /v1/fine_tuning/jobs/:id/cancel
 *   GET  /v1/fine_tuning/jobs/:id/events        JSON list newest first (?after=<event id>: older ones, ?limit);
 *                                               SSE (oldest first, ?after = resume point) with Accept: text/event-stream or ?stream=true
 *   GET  /v1/fine_tuning/jobs/:id/checkpoints
 *   GET  /v1/fine_tuning/jobs/:id/rows          the exact rows the job used (ids, hashes, split)
 *   POST /v1/fine_tuning/models/import          add a PEFT folder / GGUF LoRA trained elsewhere
 *
 * The service and its queue (one worker) live in `services.modules.factory`; the queue starts
 * with the routes, so a node restarted after a crash resumes its interrupted job.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { OpenLedgerError } from '../../util/errors.ts';
import { quotasOf } from '../quotas.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FactoryService, JobQueue, fileView, importAdapter, jobView, type EventRecord } from '../../factory/index.ts';
import { LocalBlobStore, type BlobStore } from '../../da/index.ts';
import type { DatanetService } from '../../datanets/service.ts';
import { checkUint256, invalid } from '../../util/errors.ts';
import { readFile } from 'node:fs/promises';
import { boundaryOf, parseMultipart, type FormPart } from '../../factory/multipart.ts';
import { requireCaller, type NodeServices } from '../context.ts';

const tags = ['fine-tuning'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 403: err, 404: err, 409: err, 413: err };
const obj = { type: 'object', additionalProperties: true } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 100 } } } as const;
const FILE_TYPES = ['application/octet-stream', 'application/jsonl', 'application/x-ndjson', 'text/plain'];

/** The node's factory (service + queue), created once and kept in `services.modules.factory`. */
export function factoryService(s: NodeServices): { svc: FactoryService; queue: JobQueue } {
  let f = s.modules.factory as { svc: FactoryService; queue: JobQueue } | undefined;
  if (!f) {
    const blobs = (s.modules.da as BlobStore | undefined) ?? new LocalBlobStore({ dir: join(s.config.dataDir, 'blobs') });
    s.modules.da ??= blobs;
    const svc = new FactoryService({
      db: s.store.db, dataDir: s.config.dataDir, chain: s.chain, blobs, keyring: s.keyring,
      datanets: () => (s.modules.datanets as DatanetService | undefined) ?? null,
    });
    f = { svc, queue: new JobQueue(svc) };
    s.modules.factory = f;
  }
  return f;
}

/** An event in OpenAI's fine_tuning.job.event shape. */
const eventView = (e: EventRecord) => ({ id: `ftevent-${e.id}`, object: 'fine_tuning.job.event', created_at: e.createdAt, level: e.level, message: e.message, type: e.type, data: e.data });

export async function fineTuningRoutes(app: FastifyInstance, s: NodeServices) {
  const { svc, queue } = factoryService(s);
  queue.start();
  // Open SSE streams would keep the server from closing: end them first (the client reconnects
  // with ?after= to the node's next run).
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    await queue.stop();
    if ((s.modules.factory as { svc: FactoryService } | undefined)?.svc === svc) delete s.modules.factory;
  });

  await app.register(async (r) => {
    r.addContentTypeParser(FILE_TYPES, { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));
    // OpenAI SDKs upload files as multipart/form-data (file + purpose).
    r.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (req, body, done) => {
      try {
        done(null, { multipart: parseMultipart(body as Buffer, boundaryOf(req.headers['content-type'])) });
      } catch (e) {
        done(e as Error, undefined);
      }
    });

    r.post<{ Querystring: { filename?: string; purpose?: string } }>('/v1/files', {
      schema: {
        tags, summary: 'Upload a JSONL training file (purpose fine-tune): multipart/form-data (file, purpose) as OpenAI clients send it, the raw body with ?filename=, or JSON {filename, purpose, content}', security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { filename: { type: 'string' }, purpose: { type: 'string' } } },
        response: { 201: obj, ...errors },
      },
    }, async (request, reply) => {
      const caller = requireCaller(request);
      const body = request.body as unknown;
      let bytes: Uint8Array, filename: string | undefined, purpose: string | undefined;
      const form = (body as { multipart?: FormPart[] } | null)?.multipart;
      if (form) {
        const file = form.find((p) => p.name === 'file');
        if (!file) throw invalid('the form has no `file` part', { param: 'file', code: 'file_missing', hint: 'send the JSONL as the form field `file`' });
        bytes = new Uint8Array(file.data.buffer, file.data.byteOffset, file.data.byteLength);
        filename = file.filename ?? undefined;
        purpose = form.find((p) => p.name === 'purpose')?.data.toString('utf8');
      } else if (Buffer.isBuffer(body)) {
        bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
        ({ filename, purpose } = request.query);
      } else if (body && typeof body === 'object' && typeof (body as { content?: unknown }).content === 'string') {
        const b = body as { content: string; filename?: string; purpose?: string };
        bytes = new TextEncoder().encode(b.content);
        filename = b.filename;
        purpose = b.purpose;
      } else {
        throw invalid('send the file as the raw request body (?filename=train.jsonl&purpose=fine-tune), or JSON {"filename", "purpose", "content"}', { param: 'file', code: 'file_missing' });
      }
      if (purpose !== 'adapter') checkUtf8(bytes); // adapters are binary GGUF (checked by magic in uploadFile)
      // A client may send a path: only its last part is the name (and it never becomes a path here).
      if (filename !== undefined) filename = filename.split(/[\\/]/).pop() ?? '';
      if (filename !== undefined && !/^[^\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]{1,255}$/.test(filename)) {
        throw invalid('filename must be 1–255 characters without control or bidi-override characters', { param: 'filename', code: 'invalid_filename', hint: 'e.g. train.jsonl' });
      }
      const used = s.store.db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM factory_files WHERE owner = ?').get(caller) as { n: number; b: number };
      quotasOf(s).checkFile({ count: used.n, bytes: used.b }, bytes.length);
      reply.status(201);
      return svc.uploadFile(caller, filename ?? 'training.jsonl', bytes, purpose ?? 'fine-tune');
    });

    r.get<{ Querystring: { purpose?: string; limit?: number; after?: string; order?: 'asc' | 'desc' } }>('/v1/files', {
      schema: {
        tags, summary: 'Your uploaded files (newest first; ?order=asc for oldest first; ?after=<file id> for the next page)', security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { purpose: { type: 'string', maxLength: 40 }, limit: { type: 'integer', minimum: 1, maximum: 10000 }, after: { type: 'string', maxLength: 100 }, order: { type: 'string', enum: ['asc', 'desc'] } } },
        response: { 200: obj, ...errors },
      },
    }, async (request) => {
      const caller = requireCaller(request);
      const { purpose, after } = request.query;
      const limit = request.query.limit ?? 10000;
      const asc = request.query.order === 'asc';
      let cursor: { created_at: number; id: string } | undefined;
      if (after) {
        const f = svc.repo.file(after);
        if (!f || f.owner.toLowerCase() !== caller.toLowerCase()) throw invalid(`after: no file ${after} of yours`, { param: 'after', code: 'invalid_cursor', hint: 'pass the id of the last file of the previous page' });
        cursor = { created_at: f.createdAt, id: f.id };
      }
      const cmp = asc ? '>' : '<';
      const rows = s.store.db.prepare(
        `SELECT id FROM factory_files WHERE owner = ? AND (? IS NULL OR purpose = ?) AND (? IS NULL OR (created_at, id) ${cmp} (?, ?))
         ORDER BY created_at ${asc ? 'ASC' : 'DESC'}, id ${asc ? 'ASC' : 'DESC'} LIMIT ?`,
      ).all(caller, purpose ?? null, purpose ?? null, cursor ? 1 : null, cursor?.created_at ?? 0, cursor?.id ?? '', limit + 1) as Array<{ id: string }>;
      const data = rows.slice(0, limit).map((x) => fileView(svc.repo.file(x.id)!));
      return { object: 'list', data, has_more: rows.length > limit, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
    });

    r.get<{ Params: { id: string } }>('/v1/files/:id/content', {
      schema: { tags, summary: 'The bytes of a file you uploaded', security: [{ bearer: [] }], params: idParams, response: { ...errors } },
    }, async (request, reply) => {
      const f = svc.file(requireCaller(request), request.params.id, 'file_id');
      reply.header('content-type', 'application/octet-stream');
      reply.header('content-disposition', `attachment; filename="${f.id}.jsonl"`);
      return readFile(f.path);
    });

    r.delete<{ Params: { id: string } }>('/v1/files/:id', {
      schema: { tags, summary: 'Delete a file you uploaded (refused while an unfinished job uses it)', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => {
      const f = svc.file(requireCaller(request), request.params.id, 'file_id');
      const users = svc.repo.jobsIn(['validating_files', 'queued', 'running']).filter((j) => j.request.trainingFile === f.id || j.request.validationFile === f.id);
      if (users.length) {
        throw new OpenLedgerError(`file ${f.id} is used by the unfinished job ${users[0].id}`, { type: 'conflict_error', param: 'file_id', code: 'file_in_use', hint: 'cancel the job or wait until it ends' });
      }
      s.store.db.prepare('DELETE FROM factory_files WHERE id = ?').run(f.id);
      rmSync(f.path, { force: true });
      return { id: f.id, object: 'file', deleted: true };
    });

    r.get<{ Params: { id: string } }>('/v1/files/:id', {
      schema: { tags, summary: 'A training file you uploaded', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => fileView(svc.file(requireCaller(request), request.params.id, 'file_id')));

    r.post<{ Body: Record<string, unknown> }>('/v1/fine_tuning/jobs', {
      schema: {
        tags, summary: 'Create a fine-tuning job (LoRA) on datanet versions or an uploaded file', security: [{ bearer: [] }],
        body: {
          type: 'object',
          properties: {
            model: { type: 'string', description: 'base model: a catalog name (openledger models list); default starter, the shipped base model' },
            training_file: { type: 'string', description: 'a file id from POST /v1/files' },
            validation_file: { type: 'string', description: 'a file id: its rows are the held-out set the evaluation scores base vs tuned on (instead of validation_split of the training rows)' },
            seed: { type: 'integer', description: 'seeds the run (data order, LoRA init, dropout) unless hyperparameters.seed is given' },
            datanets: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, version: { type: 'integer' } } }, description: 'exact datanet versions; the caller must hold access (paid ones are charged when the job starts)' },
            hyperparameters: { type: 'object', description: 'n_epochs, batch_size, learning_rate_multiplier | learning_rate, gradient_accumulation_steps, max_steps, warmup_steps | warmup_ratio, lr_scheduler (cosine|linear|constant), weight_decay, max_grad_norm, seed, lora_rank, lora_alpha, lora_dropout, lora_target_modules (all-linear | [q,k,v,o,gate,up,down]), use_rslora, checkpoint_every' },
            suffix: { type: 'string', maxLength: 40 },
            validation_split: { type: 'number', description: 'held-out fraction (default 0.1), chosen by row hash' },
            price_per_1k_input: { type: 'string', description: 'OPEN wei per 1k input tokens for the registered model' },
            price_per_1k_output: { type: 'string', description: 'OPEN wei per 1k output tokens' },
            register: { type: 'boolean', description: 'register in ModelRegistry when done (default true)' },
          },
        },
        response: { 200: obj, ...errors },
      },
    }, async (request) => {
      const caller = requireCaller(request);
      const unfinished = s.store.db.prepare("SELECT count(*) AS n FROM factory_jobs WHERE owner = ? AND status IN ('validating_files', 'queued', 'running')").get(caller) as { n: number };
      quotasOf(s).checkJobs(unfinished.n);
      return jobView(await svc.createJob(caller, request.body));
    });

    r.get<{ Querystring: { limit?: number; after?: string } }>('/v1/fine_tuning/jobs', {
      schema: {
        tags, summary: 'Your fine-tuning jobs, newest first', security: [{ bearer: [] }],
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, after: { type: 'string' } } },
        response: { 200: obj, ...errors },
      },
    }, async (request) => {
      const page = svc.repo.jobs(requireCaller(request), request.query.limit ?? 20, request.query.after);
      return { object: 'list', data: page.data.map(jobView), has_more: page.hasMore };
    });

    r.get<{ Params: { id: string } }>('/v1/fine_tuning/jobs/:id', {
      schema: { tags, summary: 'A fine-tuning job', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => jobView(svc.job(requireCaller(request), request.params.id)));

    r.post<{ Params: { id: string } }>('/v1/fine_tuning/jobs/:id/cancel', {
      schema: { tags, summary: 'Cancel a queued or running job', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => jobView(svc.cancel(requireCaller(request), request.params.id)));

    r.get<{ Params: { id: string }; Querystring: { limit?: number; after?: string; stream?: boolean } }>('/v1/fine_tuning/jobs/:id/events', {
      schema: {
        tags, summary: 'Job events (loss, learning rate, tokens/s, eta): a JSON list, or a live SSE stream with Accept: text/event-stream or ?stream=true', security: [{ bearer: [] }], params: idParams,
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 }, after: { type: 'string', description: 'an event id (ftevent-N)' }, stream: { type: 'boolean' } } },
        response: { 200: obj, ...errors },
      },
    }, async (request, reply) => {
      const job = svc.job(requireCaller(request), request.params.id);
      const after = request.query.after ? Number(request.query.after.replace(/^ftevent-/, '')) || 0 : 0;
      if (request.query.stream || (request.headers.accept ?? '').includes('text/event-stream')) return stream(request, reply, job.id, after);
      // As OpenAI lists them: newest first; `after` (an event id) pages on to older events.
      const limit = request.query.limit ?? 1000;
      const ev = svc.repo.eventsNewestFirst(job.id, after, limit + 1);
      return { object: 'list', data: ev.slice(0, limit).map(eventView), has_more: ev.length > limit };
    });

    r.get<{ Params: { id: string } }>('/v1/fine_tuning/jobs/:id/checkpoints', {
      schema: { tags, summary: 'Checkpoints the job saved (newest first)', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => {
      const job = svc.job(requireCaller(request), request.params.id);
      return {
        object: 'list', has_more: false,
        data: svc.repo.checkpoints(job.id).map((c) => ({ id: c.id, object: 'fine_tuning.job.checkpoint', created_at: c.createdAt, fine_tuning_job_id: job.id, step_number: c.step, metrics: { step: c.step, train_loss: c.loss } })),
      };
    });

    r.get<{ Params: { id: string } }>('/v1/fine_tuning/jobs/:id/rows', {
      schema: { tags, summary: 'The exact rows the job trained and evaluated on (datanet, version, row id, hash, contributor, split)', security: [{ bearer: [] }], params: idParams, response: { 200: obj, ...errors } },
    }, async (request) => ({ object: 'list', data: svc.repo.rows(svc.job(requireCaller(request), request.params.id).id) }));

    r.post<{ Body: { model: string; file: string; path?: unknown; name?: string; price_per_1k_input?: string; price_per_1k_output?: string; register?: boolean } }>('/v1/fine_tuning/models/import', {
      schema: {
        tags, summary: 'Add an adapter trained elsewhere (a GGUF LoRA uploaded with POST /v1/files purpose=adapter), checked strictly against the base model (a catalog name), and register it', security: [{ bearer: [] }],
        body: { type: 'object', required: ['model'], properties: { model: { type: 'string', maxLength: 200 }, file: { type: 'string', maxLength: 80 }, name: { type: 'string', maxLength: 100 }, price_per_1k_input: { type: 'string' }, price_per_1k_output: { type: 'string' }, register: { type: 'boolean' } } },
        response: { 201: obj, ...errors },
      },
    }, async (request, reply) => {
      const b = request.body;
      if (b.path !== undefined) {
        throw invalid('path is not accepted: the node reads no file a request names', { param: 'path', code: 'path_not_accepted', hint: 'upload the GGUF LoRA with POST /v1/files (purpose=adapter) and pass its id as file' });
      }
      if (b.file === undefined) throw invalid('file is required', { param: 'file', code: 'file_required', hint: 'upload the GGUF LoRA with POST /v1/files (purpose=adapter) and pass its id as file' });
      const wei = (v: string | undefined, p: string) => {
        if (v === undefined) return 0n;
        if (!/^\d{1,100}$/.test(v)) throw invalid(`${p} must be a non-negative integer`, { param: p, code: 'invalid_request' });
        return checkUint256(BigInt(v), p);
      };
      const res = await importAdapter(svc, requireCaller(request), { model: b.model, file: b.file, name: b.name, register: b.register, pricePer1kInput: wei(b.price_per_1k_input, 'price_per_1k_input'), pricePer1kOutput: wei(b.price_per_1k_output, 'price_per_1k_output') });
      reply.status(201);
      return res;
    });
  });

  /** SSE: replay events after `after`, then live ones, until the job ends (or the client goes). */
  function stream(request: FastifyRequest, reply: FastifyReply, jobId: string, after: number) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': request.id });
    streams.add(res);
    res.on('close', () => streams.delete(res));
    let last = after;
    const send = (e: EventRecord) => {
      if (e.id <= last) return;
      last = e.id;
      res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(eventView(e))}\n\n`);
    };
    const finish = () => {
      s_off();
      const j = svc.repo.job(jobId)!;
      res.write(`event: done\ndata: ${JSON.stringify({ status: j.status, fine_tuned_model: j.fineTunedModel, error: j.error })}\n\n`);
      res.end();
    };
    const onEvent = (e: EventRecord) => e.jobId === jobId && send(e);
    const onStatus = (x: { jobId: string; status: string }) => {
      if (x.jobId !== jobId || !['succeeded', 'failed', 'cancelled'].includes(x.status)) return;
      // the final event is written right after the status: flush it on the next tick
      setImmediate(() => {
        for (const e of svc.repo.events(jobId, last)) send(e);
        finish();
      });
    };
    const s_off = () => {
      svc.events.off('event', onEvent);
      svc.events.off('status', onStatus);
    };
    svc.events.on('event', onEvent);
    svc.events.on('status', onStatus);
    request.raw.on('close', s_off);
    for (const e of svc.repo.events(jobId, after, 100_000)) send(e);
    const j = svc.repo.job(jobId)!;
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) finish();
  }
}

/** Invalid UTF-8 is the caller's 400 (naming the first bad byte), not a 500 from the decoder. */
function checkUtf8(bytes: Uint8Array): void {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let ok = 0;
    // find the offset: decode growing prefixes would be quadratic; a stream decoder reports at the boundary
    const d = new TextDecoder('utf-8', { fatal: true });
    for (let i = 0; i < bytes.length; i += 4096) {
      try { d.decode(bytes.subarray(i, i + 4096), { stream: true }); ok = i + 4096; } catch { break; }
    }
    throw invalid(`the file is not valid UTF-8 (first bad byte near offset ${Math.min(ok, bytes.length)})`, { param: 'file', code: 'invalid_encoding', hint: 'save the JSONL as UTF-8' });
  }
}
