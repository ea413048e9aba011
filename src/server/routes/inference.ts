/**
 * Inference over HTTP, OpenAI-compatible (src/serving does the work):
 *
 *   GET    /v1/models               base models, registered fine-tuned models, and the caller's own unregistered ones
 *   GET    /v1/models/:model        one of them
 *   DELETE /v1/models/:model        the owner removes a fine-tuned model from this node (authenticated)
 *   POST   /v1/chat/completions     messages through the model's chat template (authenticated)
 *   POST   /v1/completions          a raw prompt (authenticated)
 *   POST   /v1/embeddings           pooled hidden states, L2-normalised (authenticated)
 *   GET    /v1/serving/stats        running / waiting sequences, steps, tokens, adapter cache per base (public)
 *
 * `model` is a catalog name, a fine-tuned name `ft:<base>:<suffix>:<id>`, or `model:<n>` for the
 * adapter registered on chain as ModelRegistry id n. `stream: true` answers with server-sent
 * events in OpenAI's chunk format ending with `data: [DONE]`; a client that goes away cancels its
 * sequence (its KV blocks and batch slot are freed at the next step).
 *
 * Request path: route → quotas (429 + Retry-After) → ModelServer.start (access, admission,
 * engine thread) → stream. Fine-tuned models answer their owner, and others only when registered
 * and they hold access to every datanet the model was trained on (server.ts).
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Address } from 'viem';
import { ModelCatalog } from '../../models/index.ts';
import { FactoryRepo } from '../../factory/index.ts';
import type { DatanetService } from '../../datanets/service.ts';
import {
  ModelServer, completionId, completionResponse, parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, base64Vector, streamChunk, usageChunk, stopping,
  type Endpoint, type ParsedRequest, type ResponseContext, type ServedModel,
} from '../../serving/index.ts';
import { OpenLedgerError, forbidden, invalid, notFound } from '../../util/errors.ts';
import { callerOf, requireCaller, type NodeServices } from '../context.ts';
import { toErrorBody } from '../errors.ts';
import { quotasOf } from '../quotas.ts';
import { admitCompletion } from '../../rewards/index.ts'; // payable hook
import { enqueueAttribution } from '../../attribution/index.ts'; // attribution hook
import { completionInput } from '../../attribution/hook.ts'; // attribution hook

const tags = ['inference'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 402: err, 403: err, 404: err, 413: err, 422: err, 429: err, 503: err };
const obj = { type: 'object', additionalProperties: true } as const;

/** The node's model server, created once and kept in `services.modules.serving` (tests may put their own there first). */
export function servingModule(s: NodeServices): ModelServer {
  let m = s.modules.serving as ModelServer | undefined;
  if (!m) {
    const repo = new FactoryRepo(s.store.db);
    m = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo, config: s.config.serving, access: datanetAccess(s, repo) });
    s.modules.serving = m;
  }
  return m;
}

/**
 * A registered fine-tuned model answers a caller other than its owner only when the caller holds
 * read access to every datanet version its job trained on (open ones always; approval: granted;
 * paid: bought) — otherwise training once would hand out the datanet's contents to everyone.
 */
export function datanetAccess(s: NodeServices, repo: FactoryRepo) {
  return async (caller: string, served: ServedModel): Promise<void> => {
    if (!served.fineTunedName) return;
    const rec = repo.model(served.fineTunedName);
    const used = (rec && repo.job(rec.jobId)?.request.datanets) ?? [];
    if (!used.length) return;
    const svc = s.modules.datanets as DatanetService | undefined;
    if (!svc) throw forbidden(`${served.id} was trained on datanets this node cannot check access to`, { param: 'model', code: 'no_datanet_access', hint: 'ask the model owner' });
    for (const d of used) {
      try {
        await svc.requireRead(d.id, caller as Address);
      } catch (e) {
        if (e instanceof OpenLedgerError && (e.type === 'permission_error' || e.type === 'not_found_error')) {
          throw forbidden(`${served.id} was trained on datanet ${d.id} (version ${d.version}), which you have no access to`, {
            param: 'model', code: 'no_datanet_access', hint: e.hint ?? `get access to datanet ${d.id} first`, details: { datanet: d.id, version: d.version },
          });
        }
        throw e;
      }
    }
  };
}

// Bodies are checked by serving/openai.ts (each bad field is a 400 naming it), not by a JSON
// schema: the app's ajv coerces types, which would turn "0.5" into a temperature.
const CHAT_FIELDS = 'model, messages, max_tokens | max_completion_tokens, temperature, top_p, top_k, min_p, seed, stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, logprobs, top_logprobs, n (1–16), stream, stream_options.include_usage, ignore_eos, response_format (text | json_object | json_schema), adapters [{model, weight}] (openledger: a dynamic merge; or model "ft:a*0.7+ft:b*0.3")';
const TEXT_FIELDS = 'model, prompt (string or token ids), max_tokens, temperature, top_p, top_k, min_p, seed, stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, logprobs (0–20), n (1–16), stream, stream_options.include_usage, ignore_eos, response_format (text | json_object | json_schema), adapters [{model, weight}] (openledger: a dynamic merge)';

export async function inferenceRoutes(app: FastifyInstance, s: NodeServices) {
  const server = servingModule(s);
  // Open SSE responses would keep the HTTP server from closing: cancel the sequences (each
  // stream then ends with an error event), then end what is left.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    await server.close();
    for (const res of streams) res.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    if (s.modules.serving === server) delete s.modules.serving;
  });

  app.get('/v1/models', {
    schema: { tags, summary: 'Models this node serves: catalog base models and fine-tuned / imported adapters (with their base and on-chain id)', response: { 200: obj } },
  }, async (request) => ({ object: 'list', data: server.models(callerOf(request)) }));

  app.get<{ Params: { model: string } }>('/v1/models/:model', {
    schema: {
      tags, summary: 'One model (a base name, ft:…, or model:<on-chain id>)',
      params: { type: 'object', required: ['model'], properties: { model: { type: 'string', maxLength: 200 } } }, response: { 200: obj, 404: err },
    },
  }, async (request) => {
    const caller = callerOf(request);
    const served = server.directory.resolve(request.params.model, caller);
    const name = served.fineTunedName ?? served.base.name;
    const view = server.models(caller).find((m) => m.id === name);
    if (!view) throw notFound(`no model "${request.params.model}" on this node`, { param: 'model', code: 'model_not_found', hint: 'GET /v1/models lists them' });
    return view;
  });

  app.delete<{ Params: { model: string } }>('/v1/models/:model', {
    schema: {
      tags, summary: 'Delete one of your fine-tuned models from this node (its on-chain registration stays; it is no longer served or listed)', security: [{ bearer: [] }],
      params: { type: 'object', required: ['model'], properties: { model: { type: 'string', maxLength: 200 } } }, response: { 200: obj, ...errors },
    },
  }, async (request) => {
    const caller = requireCaller(request);
    const served = server.directory.resolve(request.params.model, caller);
    if (served.kind !== 'fine-tuned' || !served.fineTunedName) {
      throw forbidden(`${request.params.model} is a base model of this node`, { param: 'model', code: 'base_model_not_deletable', hint: 'only fine-tuned models can be deleted, by their owner; the operator removes base models with `openledger models`' });
    }
    if (!served.owner || served.owner.toLowerCase() !== caller.toLowerCase()) {
      throw forbidden(`only the owner of ${served.fineTunedName} (${served.owner}) can delete it`, { param: 'model', code: 'not_model_owner', hint: 'sign in as the account that trained or imported it' });
    }
    s.store.db.prepare('DELETE FROM factory_models WHERE name = ?').run(served.fineTunedName);
    return { id: served.fineTunedName, object: 'model', deleted: true };
  });

  app.get('/v1/serving/stats', {
    schema: { tags, summary: 'Serving counters per base model: running and waiting sequences, engine steps, tokens, adapters in one step, adapter cache, KV blocks', response: { 200: obj } },
  }, async () => server.stats());

  app.post('/v1/chat/completions', {
    schema: { tags, summary: 'Chat completion (OpenAI-compatible; stream: true for SSE)', description: `Fields: ${CHAT_FIELDS}.`, security: [{ bearer: [] }], body: obj, response: { 200: obj, ...errors } },
  }, (request, reply) => complete('chat', request, reply));

  app.post('/v1/completions', {
    schema: { tags, summary: 'Text completion (OpenAI-compatible legacy completions; stream: true for SSE)', description: `Fields: ${TEXT_FIELDS}.`, security: [{ bearer: [] }], body: obj, response: { 200: obj, ...errors } },
  }, (request, reply) => complete('text', request, reply));

  app.post('/v1/embeddings', {
    schema: { tags, summary: 'Embeddings (OpenAI-compatible): mean-pooled final hidden states, L2-normalised; input = string(s) or token ids (≤ 256 inputs)', security: [{ bearer: [] }], body: obj, response: { 200: obj, ...errors } },
  }, async (request) => {
    const caller = requireCaller(request);
    const quotas = quotasOf(s);
    quotas.request(caller);
    quotas.checkTokens(caller);
    const p = parseEmbeddingRequest(request.body, server.config.maxPromptBytes);
    const { vectors, promptTokens } = await server.embed(p.model, p.inputs, caller);
    quotas.addTokens(caller, promptTokens);
    if (p.dimensions !== null && vectors[0] && p.dimensions > vectors[0].length) {
      throw invalid(`dimensions ${p.dimensions} exceeds the model's ${vectors[0].length}`, { param: 'dimensions', code: 'invalid_parameter', hint: `at most ${vectors[0].length}` });
    }
    const shaped = vectors.map((v) => (p.dimensions !== null ? normalized(v.subarray(0, p.dimensions)) : v));
    return {
      object: 'list', model: p.model,
      data: shaped.map((v, index) => ({ object: 'embedding', index, embedding: p.encodingFormat === 'base64' ? base64Vector(v) : Array.from(v) })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });

  async function complete(endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply) {
    const caller = requireCaller(request);
    const quotas = quotasOf(s);
    quotas.request(caller);
    quotas.checkTokens(caller);
    const lim = server.config;
    const p = endpoint === 'chat' ? parseChatRequest(request.body, lim) : parseCompletionRequest(request.body, lim);
    const res = reply.raw;
    const ac = new AbortController();
    // The response closing before it finished = the client went away: cancel the sequence.
    const onClose = () => { if (!res.writableFinished) ac.abort(); };
    res.on('close', onClose);
    const id = completionId(endpoint);
    try {
      // The completion id is the inference id: the usage event, the charge and the attribution carry it.
      const charge = await admitCompletion(s, server, { id, caller, request: p, authorization: request.headers.authorization }); // payable hook: 402 before any engine work
      const started = await server.start(p, { caller, signal: ac.signal, id }).catch((e) => { charge.cancel(); throw e; }); // payable hook
      const all = Promise.all(started.streams.map((x) => x.result));
      charge.settle(all.then((rs) => ({ promptTokens: rs[0].promptTokens, completionTokens: rs.reduce((n, r) => n + r.completionTokens, 0), finishReason: rs[0].finishReason }))); // payable hook: charge what was generated, cancelled streams included
      all.then((rs) => { if (rs[0].finishReason !== 'abort') enqueueAttribution(completionInput(p, id, started.served, caller, rs[0], started.tokens)); }, () => {}); // attribution hook
      void all.then((rs) => quotas.addTokens(caller, rs[0].promptTokens + rs.reduce((n, r) => n + r.completionTokens, 0)), () => {});
      const ctx: ResponseContext = { id, created: Math.floor(Date.now() / 1000), model: p.model, tokenizer: started.tokens };
      if (p.stream) return await sse(p, ctx, started.streams, request, reply);
      const rs = await all;
      if (rs.some((r) => r.finishReason === 'abort')) {
        if (ac.signal.aborted) { reply.hijack(); return; } // nobody is listening
        throw stopping();
      }
      return completionResponse(p, ctx, rs);
    } finally {
      if (!p.stream) res.off('close', onClose);
    }
  }

  async function sse(p: ParsedRequest, ctx: ResponseContext, choices: Awaited<ReturnType<ModelServer['start']>>['streams'], request: FastifyRequest, reply: FastifyReply) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-request-id': request.id });
    streams.add(res);
    const send = (o: unknown) => { if (!res.destroyed) res.write(`data: ${JSON.stringify(o)}\n\n`); };
    const wantLp = p.logprobs !== null;
    try {
      // Each choice streams its own chunks (with its index), interleaved as they come.
      const results = await Promise.all(choices.map(async (stream, index) => {
        let first = true, offset = 0;
        for await (const c of stream) {
          if (!first && !c.text && !(wantLp && c.logprobs?.length)) continue;
          send(streamChunk(p, ctx, { text: c.text, logprobs: c.logprobs, first, offset, index }));
          first = false;
          if (wantLp) for (const t of c.tokens) offset += ctx.tokenizer.text(t).length;
        }
        const r = await stream.result;
        if (r.finishReason !== 'abort') {
          if (first) send(streamChunk(p, ctx, { text: '', first: true, index }));
          send(streamChunk(p, ctx, { text: '', finish: r.finishReason, index }));
        }
        return r;
      }));
      if (results.some((r) => r.finishReason === 'abort')) send({ error: toErrorBody(stopping()).body.error });
      else if (p.includeUsage) send(usageChunk(p, ctx, results));
    } catch (e) {
      // Headers are gone: the error travels as an event in the one error shape.
      send({ error: toErrorBody(e).body.error });
    } finally {
      if (!res.destroyed) res.end('data: [DONE]\n\n');
      streams.delete(res);
    }
  }
}

/** Unit L2 norm again after truncating to `dimensions` (as OpenAI's text-embedding-3 models do). */
function normalized(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const out = new Float32Array(v.length);
  const k = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let i = 0; i < v.length; i++) out[i] = v[i] * k;
  return out;
}
