/**
 * Chat with any model on the node: streaming (SSE in OpenAI's chunk format), model picker,
 * sampling controls, token usage and cost per answer, and per answer its charge, split and Proof
 * of Attribution (attribution-panel.tsx).
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, get, send, sseFrames, type ModelView } from '../api';
import { useLocation } from '../router';
import { useSession } from '../session';
import { ErrorBox, Loading, NeedsSignIn, open, useAsync } from '../ui';
import { costWei } from '../cost';
import { AttributionPanel } from './attribution-panel';

interface Turn {
  role: 'user' | 'assistant';
  content: string;
  id?: string;
  model?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  costWei?: bigint;
  finish?: string;
  error?: unknown;
  streaming?: boolean;
  /** The attribution panel is open (it polls only then). */
  open?: boolean;
}

export function Playground() {
  const { session } = useSession();
  const { query } = useLocation();
  const models = useAsync(() => get<{ data: ModelView[] }>('/v1/models'), []);
  const [model, setModel] = useState(query.get('model') ?? '');
  // A weighted merge of two adapters of one base (serving: `ft:a*0.7+ft:b*0.3`); '' = no merge.
  const [mixWith, setMixWith] = useState('');
  const [weightA, setWeightA] = useState('0.5');
  const [weightB, setWeightB] = useState('0.5');
  const [system, setSystem] = useState('');
  const [temperature, setTemperature] = useState('0.7');
  const [topP, setTopP] = useState('1');
  const [maxTokens, setMaxTokens] = useState('128');
  const [ignoreEos, setIgnoreEos] = useState(false);
  const [input, setInput] = useState('');
  const [turns, setTurns] = useState<Turn[]>([]);
  const [error, setError] = useState<unknown>(null);
  const ac = useRef<AbortController | null>(null);
  useEffect(() => () => ac.current?.abort(), []);

  if (!session) return <NeedsSignIn what="chat with models" />;
  const list = models.data?.data ?? [];
  const chosen = model || list.find((m) => m.kind !== 'base')?.id || list[0]?.id || '';
  const view = list.find((m) => m.id === chosen);
  const mixCandidates = view && view.kind !== 'base' ? list.filter((m) => m.kind !== 'base' && m.parent === view.parent && m.id !== chosen) : [];
  const mixView = mixCandidates.find((m) => m.id === mixWith);
  const mixing = !!mixView && Number(weightA) + Number(weightB) > 0;
  // What the request names: one model, or the merge; a merge pays the sum of its parts' prices.
  const requested = mixing ? `${chosen}*${Number(weightA)}+${mixView!.id}*${Number(weightB)}` : chosen;
  const priced = mixing
    ? { price_per_1k_input: (BigInt(view?.price_per_1k_input ?? '0') + BigInt(mixView!.price_per_1k_input ?? '0')).toString(), price_per_1k_output: (BigInt(view?.price_per_1k_output ?? '0') + BigInt(mixView!.price_per_1k_output ?? '0')).toString() }
    : view;
  const streaming = turns.some((t) => t.streaming);

  async function ask(e: FormEvent) {
    e.preventDefault();
    if (!input.trim() || streaming) return;
    setError(null);
    const history = [...turns.filter((t) => !t.error), { role: 'user' as const, content: input }];
    setTurns([...history, { role: 'assistant', content: '', streaming: true, model: requested }]);
    setInput('');
    const update = (f: (t: Turn) => Turn) => setTurns((ts) => [...ts.slice(0, -1), f(ts[ts.length - 1])]);
    ac.current = new AbortController();
    try {
      const res = await send(
        'POST',
        '/v1/chat/completions',
        {
          model: requested,
          messages: [...(system.trim() ? [{ role: 'system', content: system }] : []), ...history.map((t) => ({ role: t.role, content: t.content }))],
          temperature: Number(temperature),
          top_p: Number(topP),
          max_tokens: Number(maxTokens),
          ...(ignoreEos ? { ignore_eos: true } : {}),
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal: ac.current.signal },
      );
      let finished = false;
      for await (const f of sseFrames(res)) {
        if (f.data === '[DONE]') {
          finished = true;
          break;
        }
        const c = JSON.parse(f.data);
        if (c.error) throw new ApiError(c.error, 500);
        const delta = c.choices?.[0]?.delta?.content ?? '';
        const finish = c.choices?.[0]?.finish_reason ?? undefined;
        update((t) => ({ ...t, id: c.id, content: t.content + delta, finish: finish ?? t.finish, ...(c.usage ? { usage: c.usage, costWei: costWei(priced, c.usage) } : {}) }));
      }
      if (!finished) {
        throw new ApiError({ message: 'The answer stopped before it was complete: the connection to the node closed.', type: 'network_error', param: null, code: 'stream_interrupted', hint: 'The node may have stopped: check that it is running, then ask again.' }, 0);
      }
      update((t) => ({ ...t, streaming: false }));
    } catch (err) {
      if ((err as Error).name === 'AbortError') update((t) => ({ ...t, streaming: false, finish: 'stopped by you' }));
      else update((t) => ({ ...t, streaming: false, error: err }));
    }
  }

  return (
    <section className="playground">
      <h1>Playground</h1>
      <div className="play-grid">
        <aside className="card settings" aria-label="Settings">
          <ErrorBox error={models.error} />
          {models.loading && <Loading what="Loading models" />}
          <div className="field">
            <label htmlFor="play-model">Model</label>
            <select id="play-model" value={chosen} onChange={(e) => { setModel(e.target.value); setMixWith(''); }}>
              {list.map((m) => (
                <option key={m.id} value={m.id}>{m.id}{m.kind === 'base' ? ' (base)' : ''}</option>
              ))}
            </select>
          </div>
          {view && view.kind !== 'base' && (
            <p className="small muted">Adapter on {view.parent}; {open(view.price_per_1k_input ?? '0')} / 1k input, {open(view.price_per_1k_output ?? '0')} / 1k output.</p>
          )}
          {mixCandidates.length > 0 && (
            <fieldset className="field">
              <legend>Merge with another adapter</legend>
              <label htmlFor="play-mix">Second adapter</label>
              <select id="play-mix" value={mixWith} onChange={(e) => setMixWith(e.target.value)}>
                <option value="">none (this adapter alone)</option>
                {mixCandidates.map((m) => (
                  <option key={m.id} value={m.id}>{m.id}</option>
                ))}
              </select>
              {mixView && (
                <>
                  <label>
                    Weight of {chosen} <output>{weightA}</output>
                    <input type="range" min={0} max={1} step={0.05} value={weightA} onChange={(e) => setWeightA(e.target.value)} />
                  </label>
                  <label>
                    Weight of {mixView.id} <output>{weightB}</output>
                    <input type="range" min={0} max={1} step={0.05} value={weightB} onChange={(e) => setWeightB(e.target.value)} />
                  </label>
                  <p className="small muted">The node applies W·x + Σ wᵢ·Bᵢ(Aᵢ·x) per request; the call pays both adapters' prices and their owners and contributors share it.</p>
                </>
              )}
            </fieldset>
          )}
          <label>
            System prompt
            <textarea rows={2} value={system} onChange={(e) => setSystem(e.target.value)} />
          </label>
          <label>
            Temperature <output>{temperature}</output>
            <input type="range" min={0} max={2} step={0.05} value={temperature} onChange={(e) => setTemperature(e.target.value)} />
          </label>
          <label>
            Top p <output>{topP}</output>
            <input type="range" min={0.05} max={1} step={0.05} value={topP} onChange={(e) => setTopP(e.target.value)} />
          </label>
          <label>
            Max tokens
            <input type="number" min={1} max={4096} value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
          </label>
          <label className="inline">
            <input type="checkbox" checked={ignoreEos} onChange={(e) => setIgnoreEos(e.target.checked)} /> Ignore end of text (write until the token limit)
          </label>
        </aside>
        <div className="chat">
          <ol className="turns" aria-live="polite">
            {turns.map((t, i) => (
              <li key={i} className={`turn ${t.role}`}>
                <span className="who small muted">{t.role === 'user' ? 'You' : t.model}</span>
                <div className="bubble" data-testid={t.role === 'assistant' ? 'answer' : undefined}>{t.content || (t.streaming ? '…' : '')}</div>
                {t.role === 'assistant' && (
                  <>
                    {t.usage && (
                      <p className="small muted" data-testid="usage">
                        {t.usage.prompt_tokens} prompt + {t.usage.completion_tokens} completion tokens · cost {open(t.costWei ?? 0n)}{t.finish ? ` · ${t.finish}` : ''}
                      </p>
                    )}
                    {t.error != null && <ErrorBox error={t.error} />}
                    {!t.streaming && !t.error && (
                      <details className="attribution" onToggle={(e) => { const open = (e.currentTarget as HTMLDetailsElement).open; if (open !== t.open) setTurns((ts) => ts.map((x, j) => (j === i ? { ...x, open } : x))); }}>
                        <summary>Charge and attribution</summary>
                        {t.id && t.open ? <AttributionPanel id={t.id} /> : !t.id ? <p className="small muted">The node gave this answer no id.</p> : null}
                      </details>
                    )}
                  </>
                )}
              </li>
            ))}
          </ol>
          <form className="ask" onSubmit={ask}>
            <label className="grow">
              <span className="sr-only">Message</span>
              <textarea rows={2} value={input} placeholder="Ask something…" onChange={(e) => setInput(e.target.value)} onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit(); } }} />
            </label>
            {streaming ? (
              <button type="button" className="secondary" onClick={() => ac.current?.abort()}>Stop</button>
            ) : (
              <button type="submit" disabled={!input.trim() || !chosen}>Send</button>
            )}
          </form>
          <ErrorBox error={error} />
        </div>
      </div>
    </section>
  );
}
