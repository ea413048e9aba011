/**
 * Serving (the first piece of OpenLoRA): OpenAI-compatible completions on the node's base and
 * fine-tuned models, with one engine and one continuous-batching loop per base model, in which
 * requests for different adapters share every forward step. See README.md.
 *
 *   const server = new ModelServer({ catalog, repo, config: { maxAdapters: 16 } });
 *   const { stream } = await server.start(parseChatRequest(body, server.config.defaultMaxTokens), { caller, signal });
 *   for await (const c of stream) …; await stream.result;
 */
export { ModelServer, type ModelServerDeps, type UsageRecord, type ServingStats, type Started } from './server.ts';
export { type TokenTexts } from './scheduler.ts';
export { compileSchema, JsonConstraint, VocabTrie } from './json-grammar.ts';
export { ModelDirectory, usageAdapters, mergeSpelling, MAX_MERGE, type ServedModel, type ModelView, type MergePart } from './models.ts';
export { parseServingConfig, type ServingConfig, type ServingConfigInput } from './config.ts';
export { AdapterCache, type AdapterLease, type AdapterCacheStats } from './adapter-cache.ts';
export { stopping, type BaseStats } from './scheduler.ts';
export {
  parseChatRequest, parseCompletionRequest, parseEmbeddingRequest, base64Vector, completionResponse, streamChunk, usageChunk, completionId,
  type ParsedRequest, type ParsedEmbedding, type ParseLimits, type Endpoint, type OpenAiFinish, type ResponseContext,
} from './openai.ts';
export { renderServingMetrics, Exposition, histogram, observe, type Histogram } from './metrics.ts';
