/**
 * A fine-tuning job, live: the SSE stream of its events (replayed from the start, then live)
 * drives the loss and learning-rate charts, tokens/s and ETA; when it ends, the evaluation (base
 * vs tuned), the on-chain registration and the way to chat with the model.
 */
import { useEffect, useState } from 'react';
import { ApiError, get, post, send, sseFrames, type Job } from '../api';
import { Link } from '../router';
import { useSession } from '../session';
import { LineChart } from '../chart';
import { Badge, ErrorBox, Hash, Loading, NeedsSignIn, statusTone, useAsync, when } from '../ui';

interface Metrics {
  step: number;
  total_steps: number;
  train_loss: number;
  learning_rate: number;
  tokens_per_s?: number;
  eta_s?: number;
}

const FINAL = ['succeeded', 'failed', 'cancelled'];

export function JobList() {
  const { session } = useSession();
  const jobs = useAsync(() => (session ? get<{ data: Job[] }>('/v1/fine_tuning/jobs?limit=50') : Promise.resolve({ data: [] })), [session?.token]);
  if (!session) return <NeedsSignIn what="see your jobs" />;
  return (
    <section>
      <div className="title-row">
        <h1>Your fine-tuning jobs</h1>
        <Link to="/factory" className="button">New job</Link>
      </div>
      <ErrorBox error={jobs.error} />
      {jobs.loading && <Loading what="Loading jobs" />}
      {jobs.data && jobs.data.data.length === 0 && <p className="muted">No job yet.</p>}
      <ul className="plain">
        {jobs.data?.data.map((j) => (
          <li key={j.id} className="card">
            <Link to={`/factory/jobs/${j.id}`}>{j.fine_tuned_model ?? j.id}</Link> <Badge tone={statusTone(j.status)}>{j.status}</Badge>{' '}
            <span className="small muted">base {j.model} · {when(j.created_at)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function JobPage({ id }: { id: string }) {
  const { session } = useSession();
  const [job, setJob] = useState<Job | null>(null);
  const [metrics, setMetrics] = useState<Metrics[]>([]);
  const [log, setLog] = useState<{ id: string; message: string; level: string }[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [streamError, setStreamError] = useState<unknown>(null);
  const [live, setLive] = useState(false);

  useEffect(() => {
    if (!session) return;
    const ac = new AbortController();
    const path = `/v1/fine_tuning/jobs/${encodeURIComponent(id)}`;
    let lastId = '';
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      try {
        setJob(await get<Job>(path, { signal: ac.signal }));
      } catch (e) {
        if ((e as Error).name !== 'AbortError') setError(e);
        return;
      }
      // Follow the events; when the stream ends without `done` (the node stopped or restarted),
      // reconnect from the last event seen, with a growing pause, and say so meanwhile.
      for (let attempt = 0; attempt < 30 && !ac.signal.aborted; attempt++) {
        try {
          setLive(true);
          const res = await send('GET', `${path}/events?stream=true${lastId ? `&after=${lastId}` : ''}`, undefined, { signal: ac.signal, headers: { accept: 'text/event-stream' } });
          setStreamError(null);
          let done = false;
          for await (const f of sseFrames(res)) {
            if (f.event === 'done') {
              done = true;
              break;
            }
            const e = JSON.parse(f.data);
            lastId = e.id;
            if (e.type === 'metrics' && e.data) setMetrics((m) => [...m, e.data as Metrics]);
            setLog((l) => [...l.slice(-200), { id: e.id, message: e.message, level: e.level }]);
          }
          if (done) {
            setLive(false);
            setJob(await get<Job>(path, { signal: ac.signal }));
            return;
          }
          throw new ApiError({ message: 'The event stream from the node ended before the job did.', type: 'network_error', param: null, code: 'stream_interrupted', hint: 'The node may be restarting: reconnecting…' }, 0);
        } catch (e) {
          if ((e as Error).name === 'AbortError') return;
          setLive(false);
          setStreamError(e);
          await pause(Math.min(1000 * 2 ** Math.min(attempt, 3), 8000));
        }
      }
    })();
    return () => ac.abort();
  }, [id, session?.token]); // eslint-disable-line react-hooks/exhaustive-deps

  if (!session) return <NeedsSignIn what="follow a job" />;
  if (error) return <ErrorBox error={error} />;
  if (!job) return <Loading what="Loading the job" />;
  const last = metrics[metrics.length - 1];
  const total = last?.total_steps ?? job.total_steps ?? 0;
  const done = last?.step ?? job.trained_steps ?? 0;
  const r = job.result;
  const jobError = typeof job.error === 'string' ? { message: job.error } : job.error;
  return (
    <section>
      <p className="small"><Link to="/factory/jobs">Jobs</Link> / {job.id}</p>
      <h1>{job.fine_tuned_model ?? `Fine-tuning ${job.model}`}</h1>
      <p>
        <Badge tone={statusTone(job.status)}>{live && !FINAL.includes(job.status) ? 'running' : job.status}</Badge>{' '}
        <span className="muted small">base {job.model} · data {job.datanets?.map((d) => `datanet ${d.id} v${d.version}`).join(', ') || 'uploaded file'} · created {when(job.created_at)}</span>
      </p>
      {jobError && <ErrorBox error={jobError} />}
      <ErrorBox error={streamError}>
        <p className="small">Reconnecting automatically; the chart picks up where it stopped.</p>
      </ErrorBox>
      <div className="card">
        <div className="progress-line">
          <progress max={total || 1} value={done} aria-label="training progress" /> <span data-testid="job-progress">{done}/{total || '?'} steps</span>
          {last?.tokens_per_s !== undefined && <span> · {Math.round(last.tokens_per_s)} tokens/s</span>}
          {last?.eta_s !== undefined && <span> · ETA {Math.round(last.eta_s)} s</span>}
        </div>
        <div className="cols">
          <LineChart title="Training loss" points={metrics.map((m) => [m.step, m.train_loss])} />
          <LineChart title="Learning rate" points={metrics.map((m) => [m.step, m.learning_rate])} format={(v) => v.toExponential(2)} color="var(--accent-2)" />
        </div>
      </div>
      {job.status === 'succeeded' && r && <Outcome job={job} />}
      {!FINAL.includes(job.status) && (
        <button type="button" className="danger" onClick={() => post(`/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}/cancel`).then(setJob, setError)}>Cancel job</button>
      )}
      <details className="card">
        <summary>Event log ({log.length})</summary>
        <ol className="log small">
          {log.map((l) => <li key={l.id} className={l.level}>{l.message}</li>)}
        </ol>
      </details>
    </section>
  );
}

function Outcome({ job }: { job: Job }) {
  const r = job.result;
  const ev = r.evaluation;
  const rows: [string, string, (v: any) => string][] = [
    ['loss', 'Loss (lower is better)', (v) => v?.toFixed(4) ?? '—'],
    ['perplexity', 'Perplexity', (v) => v?.toFixed(2) ?? '—'],
    ['exact_match', 'Exact match', (v) => (v === undefined ? '—' : `${(v * 100).toFixed(1)}%`)],
    ['rouge_l', 'ROUGE-L', (v) => v?.toFixed(3) ?? '—'],
    ['accuracy', 'Accuracy', (v) => (v === undefined ? '—' : `${(v * 100).toFixed(1)}%`)],
  ];
  const model = job.fine_tuned_model!;
  return (
    <div className="cols">
      <div className="card">
        <h2>Evaluation on {ev?.rows ?? 0} held-out rows</h2>
        {ev ? (
          <div className="scroll">
          <table>
            <thead><tr><th scope="col">Metric</th><th scope="col">Base</th><th scope="col">Tuned</th></tr></thead>
            <tbody>
              {rows.filter(([k]) => ev.base?.[k] !== undefined).map(([k, label, f]) => (
                <tr key={k}><th scope="row">{label}</th><td>{f(ev.base[k])}</td><td>{f(ev.tuned[k])}</td></tr>
              ))}
            </tbody>
          </table>
          </div>
        ) : <p className="muted">No held-out rows: no evaluation.</p>}
        {ev?.samples?.length > 0 && (
          <details>
            <summary>Sample answers</summary>
            {ev.samples.slice(0, 5).map((s: any, i: number) => (
              <dl key={i} className="facts small">
                <dt>Prompt</dt><dd><code>{s.prompt}</code></dd>
                <dt>Reference</dt><dd>{s.reference}</dd>
                <dt>Base</dt><dd>{s.base}</dd>
                <dt>Tuned</dt><dd>{s.tuned}</dd>
              </dl>
            ))}
          </details>
        )}
      </div>
      <div className="card">
        <h2>Deployed</h2>
        <dl className="facts">
          <dt>Model</dt><dd><code>{model}</code></dd>
          {r.registration ? (
            <>
              <dt>On chain</dt><dd>ModelRegistry id {r.registration.modelId} · tx <Hash value={r.registration.txHash} label="registration transaction" /></dd>
              <dt>Model card</dt><dd><code className="small">{r.registration.metadataURI}</code></dd>
            </>
          ) : (<><dt>On chain</dt><dd>not registered</dd></>)}
          {r.exports && (<><dt>Adapter hash</dt><dd><Hash value={r.exports.adapterHash} label="adapter hash" /></dd></>)}
          {r.training && (<><dt>Training</dt><dd>{r.training.steps} steps in {Number(r.training.seconds).toFixed(1)} s, loss {Number(r.training.first_loss).toFixed(3)} → {Number(r.training.final_loss).toFixed(3)}</dd></>)}
        </dl>
        <p><Link to={`/playground?model=${encodeURIComponent(model)}`} className="button">Chat with this model</Link></p>
        <Downloads job={job} />
      </div>
    </div>
  );
}

const DOWNLOADS: [string, string][] = [
  ['adapter.gguf', 'GGUF LoRA (llama.cpp)'],
  ['adapter_model.safetensors', 'PEFT weights'],
  ['adapter_config.json', 'PEFT config'],
];

/** Downloads go through fetch (they need the bearer token), then a blob link the browser saves. */
function Downloads({ job }: { job: Job }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  async function download(file: string) {
    setError(null);
    setBusy(file);
    try {
      const res = await send('GET', `/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}/adapter/${file}`);
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? file;
      const href = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = href;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }
  return (
    <div>
      <h3 className="small">Download the adapter</h3>
      <div className="actions wrap">
        {DOWNLOADS.map(([file, label]) => (
          <button key={file} type="button" className="secondary small" disabled={busy === file} onClick={() => void download(file)}>
            {label}
          </button>
        ))}
      </div>
      <ErrorBox error={error} />
    </div>
  );
}
