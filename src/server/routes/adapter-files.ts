/**
 * GET /v1/fine_tuning/jobs/:id/adapter/:file — the trained adapter of one of your succeeded jobs,
 * for download (the studio's job page, scripts): `adapter.gguf` (GGUF LoRA, llama.cpp),
 * `adapter_model.safetensors` and `adapter_config.json` (the PEFT folder, Hugging Face).
 *
 * The file name is checked against that fixed list and the folder comes from the job's own
 * record (its export step wrote the paths), so no request text becomes a path. Owner only: other
 * callers get the same 404 as for a job that does not exist.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { notFound, OpenLedgerError } from '../../util/errors.ts';
import { requireCaller, type NodeServices } from '../context.ts';
import { factoryService } from './fine-tuning.ts';

const FILES = {
  'adapter.gguf': { type: 'application/octet-stream', where: (e: Exports) => e.ggufPath },
  'adapter_model.safetensors': { type: 'application/octet-stream', where: (e: Exports) => e.peftDir && join(e.peftDir, 'adapter_model.safetensors') },
  'adapter_config.json': { type: 'application/json', where: (e: Exports) => e.peftDir && join(e.peftDir, 'adapter_config.json') },
} as const;
type Exports = { peftDir?: string; ggufPath?: string };

export async function adapterFileRoutes(app: FastifyInstance, s: NodeServices) {
  const { svc } = factoryService(s);
  app.get<{ Params: { id: string; file: string } }>(
    '/v1/fine_tuning/jobs/:id/adapter/:file',
    {
      schema: {
        tags: ['fine-tuning'],
        summary: "Download your job's adapter: adapter.gguf (GGUF LoRA) or the PEFT files adapter_model.safetensors / adapter_config.json",
        security: [{ bearer: [] }],
        params: {
          type: 'object',
          required: ['id', 'file'],
          properties: { id: { type: 'string', maxLength: 100 }, file: { type: 'string', enum: Object.keys(FILES) } },
        },
        response: { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } },
      },
    },
    async (request, reply) => {
      const job = svc.job(requireCaller(request), request.params.id);
      if (job.status !== 'succeeded') {
        throw new OpenLedgerError(`job ${job.id} is ${job.status}: it has no adapter to download yet`, { type: 'conflict_error', code: 'job_not_succeeded', hint: 'wait until the job has succeeded (GET /v1/fine_tuning/jobs/:id)' });
      }
      const f = FILES[request.params.file as keyof typeof FILES];
      const path = f.where(((job.result as { exports?: Exports } | null)?.exports ?? {}) as Exports);
      if (!path || !existsSync(path)) throw notFound(`job ${job.id} has no ${request.params.file} on this node`, { param: 'file', code: 'adapter_file_missing', hint: 'the export was removed from the data dir; train again to recreate it' });
      const name = `${(job.fineTunedModel ?? job.id).replace(/[^A-Za-z0-9._-]+/g, '_')}-${request.params.file}`;
      reply
        .type(f.type)
        .header('content-length', statSync(path).size)
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'private, no-store');
      return reply.send(createReadStream(path));
    },
  );
}
