/** Runs `trainEvaluateExport` for the job in workerData and reports steps, the result or the error to the parent. */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, trainEvaluateExport, type TrainingInput } from './training.ts';

const port = parentPort!;
const ac = new AbortController();
port.on('message', (m: { type: string }) => { if (m.type === 'abort') ac.abort(); });
try {
  const output = await trainEvaluateExport(workerData as TrainingInput, { signal: ac.signal, onStep: (metrics) => port.postMessage({ type: 'step', metrics }) });
  port.postMessage({ type: 'done', output });
} catch (e) {
  port.postMessage({ type: 'error', error: serializeError(e) });
}
