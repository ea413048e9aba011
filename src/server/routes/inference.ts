/**
 * Inference over HTTP, OpenAI-compatible (src/serving does the work):
 *
 *   GET  /v1/models                 base models (catalog) and fine-tuned / imported ones (public)
 *   GET  /v1/models/:model          one of them (public)
 *   POST /v1/chat/completions       messages through the model's chat template (authenticated)
 *   POST /v1/completions            a raw prompt (authenticated)
 *   GET  /v1/serving/stats          running / waiting sequences, steps, tokens, adapter cache per base (public)
 *
 * `model` is a catalog name, a fine-tuned name `ft:<base>:<suffix>:<id>`, or `model:<n>` for the
 * adapter registered on chain as ModelRegistry id n. `stream: true` answers with server-sent
 * events in OpenAI's chunk format ending with `data: [DONE]`; a client that goes away cancels its
 * sequence (its KV blocks and batch slot are freed at the next step).
 *
 * Auth: completions need a caller (session token or API key, like the fine-tuning routes): the
 * caller is who InferenceEscrow will charge (a later issue). The model list and stats are public:
 * they show what the catalog and ModelRegistry show anyway.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelCatalog } from '../../models/index.ts';
import { FactoryRepo } from '../../factory/index.ts';
import {
  ModelServer, completionId, completionResponse, parseChatRequest, parseCompletionRequest, streamChunk, usageChunk, stopping,
  type Endpoint, type ParsedRequest, type ResponseContext,
} from '../../serving/index.ts';
import { notFound } from '../../util/errors.ts';
import { requireCaller, type NodeServices } from '../context.ts';
import { toErrorBody } from '../errors.ts';
import { admitCompletion } from '../../rewards/index.ts'; // payable hook
import { enqueueAttribution } from '../../attribution/index.ts'; // attribution hook
import { completionInput } from '../../attribution/hook.ts'; // attribution hook

const tags = ['inference'];
const err = { $ref: 'Error#' };
const errors = { 400: err, 401: err, 402: err, 404: err, 422: err, 429: err };
const obj = { type: 'object', additionalProperties: true } as const;

/** The node's model server, created once and kept in `services.modules.serving` (tests may put their own there first). */
export function servingModule(s: NodeServices): ModelServer {
  let m = s.modules.serving as ModelServer | undefined;
  if (!m) {
    m = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo: new FactoryRepo(s.store.db), config: s.config.serving });
    s.modules.serving = m;
  }
  return m;
}

// Bodies are checked by serving/openai.ts (each bad field is a 400 naming it), not by a JSON
// schema: the app's ajv coerces types, which would turn "0.5" into a temperature.
const CHAT_FIELDS = 'model, messages, max_tokens | max_completion_tokens, temperature, top_p, top_k, min_p, seed, stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, logprobs, top_logprobs, n (1), stream, stream_options.include_usage, ignore_eos';
const TEXT_FIELDS = 'model, prompt (string or token ids), max_tokens, temperature, top_p, top_k, min_p, seed, stop, frequency_penalty, presence_penalty, repetition_penalty, logit_bias, logprobs (0–20), n (1), stream, stream_options.include_usage, ignore_eos';

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
  }, async () => ({ object: 'list', data: server.models() }));

  app.get<{ Params: { model: string } }>('/v1/models/:model', {
    schema: {
      tags, summary: 'One model (a base name, ft:…, or model:<on-chain id>)',
      params: { type: 'object', required: ['model'], properties: { model: { type: 'string', maxLength: 200 } } }, response: { 200: obj, 404: err },
    },
  }, async (request) => {
    const served = server.directory.resolve(request.params.model);
    const name = served.fineTunedName ?? served.base.name;
    const view = server.models().find((m) => m.id === name);
    if (!view) throw notFound(`no model "${request.params.model}" on this node`, { param: 'model', code: 'model_not_found', hint: 'GET /v1/models lists them' });
    return view;
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

  async function complete(endpoint: Endpoint, request: FastifyRequest, reply: FastifyReply) {
    const caller = requireCaller(request);
    const max = server.config.defaultMaxTokens;
    const p = endpoint === 'chat' ? parseChatRequest(request.body, max) : parseCompletionRequest(request.body, max);
    const res = reply.raw;
    const ac = new AbortController();
    // The response closing before it finished = the client went away: cancel the sequence.
    const onClose = () => { if (!res.writableFinished) ac.abort(); };
    res.on('close', onClose);
    const id = completionId(endpoint);
    try {
      const charge = await admitCompletion(s, server, { id, caller, request: p, authorization: request.headers.authorization }); // payable hook: 402 before any engine work
      const { stream, engine, served } = await server.start(p, { caller, signal: ac.signal }).catch((e) => { charge.cancel(); throw e; }); // payable hook
      charge.settle(stream.result); // payable hook: charge what was generated, cancelled streams included
      const ctx: ResponseContext = { id, created: Math.floor(Date.now() / 1000), model: p.model, tokenizer: engine.tokenizer };
      stream.result.then((r) => { if (r.finishReason !== 'abort') enqueueAttribution(completionInput(p, id, served, caller, r, engine.tokenizer)); }, () => {}); // attribution hook
      if (p.stream) return await sse(p, ctx, stream, reply);
      const r = await stream.result;
      if (r.finishReason === 'abort') {
        if (ac.signal.aborted) { reply.hijack(); return; } // nobody is listening
        throw stopping();
      }
      return completionResponse(p, ctx, r, r.finishReason);
    } finally {
      if (!p.stream) res.off('close', onClose);
    }
  }

  async function sse(p: ParsedRequest, ctx: ResponseContext, stream: Awaited<ReturnType<ModelServer['start']>>['stream'], reply: FastifyReply) {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.add(res);
    const send = (o: unknown) => { if (!res.destroyed) res.write(`data: ${JSON.stringify(o)}\n\n`); };
    const wantLp = p.logprobs !== null;
    let first = true, offset = 0;
    try {
      for await (const c of stream) {
        if (!first && !c.text && !(wantLp && c.logprobs?.length)) continue;
        send(streamChunk(p, ctx, { text: c.text, logprobs: c.logprobs, first, offset }));
        first = false;
        if (wantLp) for (const t of c.tokens) offset += ctx.tokenizer.decode([t]).length;
      }
      const r = await stream.result;
      if (r.finishReason === 'abort') send({ error: toErrorBody(stopping()).body.error });
      else {
        if (first) send(streamChunk(p, ctx, { text: '', first: true }));
        send(streamChunk(p, ctx, { text: '', finish: r.finishReason }));
        if (p.includeUsage) send(usageChunk(p, ctx, r));
      }
    } catch (e) {
      // Headers are gone: the error travels as an event in the one error shape.
      send({ error: toErrorBody(e).body.error });
    } finally {
      if (!res.destroyed) res.end('data: [DONE]\n\n');
      streams.delete(res);
    }
  }
}

