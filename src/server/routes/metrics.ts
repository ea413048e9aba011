/**
 * Prometheus metrics of the model server (public, counters only, like GET /v1/serving/stats):
 *
 *   GET /metrics    text exposition format 0.0.4 — queue depth, running sequences, batch size and
 *                   adapters per step, token counters (rate() = tokens/s), TTFT / TPOT histograms,
 *                   adapter cache hits / misses / evictions / load time, memory per tier
 *
 * The names and what they count: src/serving/metrics.ts (renderServingMetrics).
 */
import type { FastifyInstance } from 'fastify';
import { renderServingMetrics } from '../../serving/index.ts';
import type { NodeServices } from '../context.ts';
import { servingModule } from './inference.ts';

export async function metricsRoutes(app: FastifyInstance, s: NodeServices) {
  const server = servingModule(s);
  app.get('/metrics', {
    schema: { tags: ['inference'], summary: 'Serving metrics in the Prometheus text format (scrape target)', response: { 200: { type: 'string' } } },
  }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return renderServingMetrics(server.stats());
  });
}
