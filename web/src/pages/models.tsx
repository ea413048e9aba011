/** Registered models: owner, base, on-chain id, price, usage (calls, tokens, revenue from /v1/usage/models); for your own models the datanets and evaluation of the job that made them. */
import { get, type Job, type ModelView } from '../api';
import { Link } from '../router';
import { useSession } from '../session';
import { Badge, ErrorBox, Hash, Loading, open, useAsync, when } from '../ui';

interface UsageRow { model: string; model_id: string | number | null; epoch: number; calls: number; prompt_tokens: number; completion_tokens: number; revenue: string }

/** Calls, tokens and revenue (wei) over every epoch of a model's usage rows. */
function sumUsage(rows: UsageRow[]): { calls: number; tokens: number; revenue: bigint } {
  return rows.reduce((a, r) => ({ calls: a.calls + r.calls, tokens: a.tokens + (r.prompt_tokens ?? 0) + (r.completion_tokens ?? 0), revenue: a.revenue + BigInt(r.revenue) }), { calls: 0, tokens: 0, revenue: 0n });
}

export function Models() {
  const { session } = useSession();
  const models = useAsync(() => get<{ data: ModelView[] }>('/v1/models'), []);
  const jobs = useAsync(() => (session ? get<{ data: Job[] }>('/v1/fine_tuning/jobs?limit=100') : Promise.resolve({ data: [] as Job[] })), [session?.token]);
  const byModel = new Map((jobs.data?.data ?? []).filter((j) => j.fine_tuned_model).map((j) => [j.fine_tuned_model!, j]));
  const usage = useAsync(() => get<{ data: UsageRow[] }>('/v1/usage/models?limit=1000'), []);
  const list = models.data?.data ?? [];
  const usageOf = (m: ModelView) => sumUsage((usage.data?.data ?? []).filter((u) => u.model === m.id || (m.model_id != null && u.model_id != null && String(u.model_id) === String(m.model_id))));
  return (
    <section>
      <h1>Models</h1>
      <ErrorBox error={models.error} />
      <ErrorBox error={usage.error} />
      {models.loading && <Loading what="Loading models" />}
      <div className="scroll">
        <table>
          <caption className="sr-only">Models on this node</caption>
          <thead>
            <tr><th scope="col">Model</th><th scope="col">Kind</th><th scope="col">Owner</th><th scope="col">Base</th><th scope="col">On chain</th><th scope="col">Price / 1k tokens</th><th scope="col">Datanets</th><th scope="col">Evaluation (loss base → tuned)</th><th scope="col">Usage</th></tr>
          </thead>
          <tbody>
            {list.map((m) => {
              const j = byModel.get(m.id);
              const ev = j?.result?.evaluation;
              return (
                <tr key={m.id}>
                  <th scope="row"><Link to={`/playground?model=${encodeURIComponent(m.id)}`}>{m.id}</Link><div className="small muted">{when(m.created)}</div></th>
                  <td><Badge tone={m.kind === 'base' ? 'neutral' : 'info'}>{m.kind}</Badge></td>
                  <td>{m.owned_by.startsWith('0x') ? <Hash value={m.owned_by} label="owner" /> : m.owned_by}</td>
                  <td>{m.parent ?? (m.family ? `${m.family}, ${m.context_length} ctx` : '—')}</td>
                  <td>{m.model_id ? `model ${m.model_id}` : '—'}</td>
                  <td className="small">{m.kind === 'base' ? '—' : `${open(m.price_per_1k_input ?? '0')} in · ${open(m.price_per_1k_output ?? '0')} out`}</td>
                  <td className="small">{j?.datanets?.map((d) => <Link key={d.id} to={`/datanets/${d.id}/versions`}>#{d.id} v{d.version} </Link>) ?? <span className="muted">{m.kind === 'base' ? '—' : 'in its model card'}</span>}</td>
                  <td className="small">{ev ? `${ev.base.loss.toFixed(3)} → ${ev.tuned.loss.toFixed(3)}` : '—'}</td>
                  <td className="small" data-testid="model-usage">{(() => { const u = usageOf(m); return u.calls === 0 ? <span className="muted">no paid calls yet</span> : <>{u.calls} call{u.calls === 1 ? '' : 's'} · {u.tokens} tokens · {open(u.revenue)}</>; })()}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
