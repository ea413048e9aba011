import { parentPort } from 'node:worker_threads';
import { OpenLedgerError } from '../../util/errors.ts';
import { prepareFile, prepareRows } from '../upload.ts';
import type { ParseJob, ParseReply } from './pool.ts';

/** Parses uploads for the main thread (see pool.ts): one job at a time, results posted back. */
parentPort!.on('message', async (job: ParseJob) => {
  let reply: ParseReply;
  try {
    const prepared = job.rows !== undefined ? prepareRows(job.rows, job.format, job.limits) : await prepareFile(job.bytes, job.filename, job.format, job.limits);
    reply = { id: job.id, ok: true, prepared };
  } catch (err) {
    const e = err as OpenLedgerError;
    reply = {
      id: job.id,
      ok: false,
      error: {
        message: e.message,
        known: err instanceof OpenLedgerError,
        type: e.type,
        param: e.param,
        code: e.code,
        hint: e.hint,
        details: e.details ? JSON.parse(JSON.stringify(e.details)) : undefined,
      },
    };
  }
  parentPort!.postMessage(reply);
});
