/**
 * Model Factory wizard: base model → datanet versions (access inline) → hyperparameters with
 * defaults and a line each → advanced (LoRA targets, rank, alpha, dropout, schedule) → start.
 */
import { cloneElement, useId, useMemo, useState, type FormEvent, type ReactElement } from 'react';
import { parseUnits } from 'viem';
import { ApiError, get, post, type Datanet, type Job, type ModelView } from '../api';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import { Badge, ErrorBox, Loading, NeedsSignIn, open, useAsync } from '../ui';
import { accessLabel } from './datanets';
import { buyAccess } from '../purchase';

const TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

/** A labelled control with its one-line explanation outside the label (read once, as a description). */
function Field({ label, help, children }: { label: string; help: ReactElement<{ id: string }>; children: ReactElement<{ id?: string; 'aria-describedby'?: string }> }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-describedby': help.props.id })}
      {help}
    </div>
  );
}

/** Hyperparameters the wizard shows: [key, label, default, one-line explanation, input attrs]. */
const BASIC: [string, string, string, string, { min?: number; max?: number; step?: string }][] = [
  ['n_epochs', 'Epochs', '3', 'How many times training goes over the data. More fits tighter; too many memorises.', { min: 1, max: 100 }],
  ['batch_size', 'Batch size', '4', 'Rows per step. Larger is smoother but slower per step.', { min: 1, max: 256 }],
  ['learning_rate', 'Learning rate', '0.0002', 'Step size of each update. LoRA usually likes 1e-4 to 1e-3.', { step: 'any' }],
  ['max_steps', 'Max steps (optional)', '', 'Stop after this many updates, whatever the epochs say.', { min: 1 }],
];

export function Factory() {
  const { session, status } = useSession();
  const models = useAsync(() => get<{ data: ModelView[] }>('/v1/models'), []);
  const datanets = useAsync(() => get<{ data: Datanet[] }>('/v1/datanets?limit=200'), []);
  const [base, setBase] = useState('');
  const [picked, setPicked] = useState<Record<number, number>>({});
  const [hp, setHp] = useState<Record<string, string>>(() => Object.fromEntries(BASIC.map(([k, , v]) => [k, v])));
  const [adv, setAdv] = useState({ lora_rank: '8', lora_alpha: '16', lora_dropout: '0', lr_scheduler: 'cosine', warmup_steps: '', weight_decay: '0', gradient_accumulation_steps: '1', seed: '42' });
  const [targets, setTargets] = useState<string[]>(TARGETS);
  const [suffix, setSuffix] = useState('');
  const [split, setSplit] = useState('0.1');
  const [price, setPrice] = useState('0');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [accessBusy, setAccessBusy] = useState<number | null>(null);
  const [accessError, setAccessError] = useState<unknown>(null);

  const bases = useMemo(() => (models.data?.data ?? []).filter((m) => m.kind === 'base'), [models.data]);
  const usable = useMemo(() => (datanets.data?.data ?? []).filter((d) => d.latestVersion), [datanets.data]);
  if (!session) return <NeedsSignIn what="fine-tune a model" />;
  const chosenBase = base || bases[0]?.id || '';

  async function buy(d: Datanet) {
    setAccessBusy(d.id);
    setAccessError(null);
    try {
      await buyAccess(d, session!, status!);
      datanets.reload();
    } catch (e) {
      setAccessError(e);
    } finally {
      setAccessBusy(null);
    }
  }

  async function start(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const chosen = Object.entries(picked).map(([id, version]) => ({ id: Number(id), version }));
    if (!chosen.length) {
      setError(new ApiError({ message: 'Pick at least one datanet version to train on.', type: 'invalid_request_error', param: 'datanets', code: 'no_data', hint: 'Tick a datanet in step 2; only published versions can be used.' }, 400));
      return;
    }
    const num = (v: string) => (v.trim() === '' ? undefined : Number(v));
    const hyperparameters: Record<string, unknown> = {};
    for (const [k] of BASIC) if (num(hp[k]) !== undefined) hyperparameters[k] = num(hp[k]);
    for (const [k, v] of Object.entries(adv)) {
      if (k === 'lr_scheduler') hyperparameters[k] = v;
      else if (num(v) !== undefined) hyperparameters[k] = num(v);
    }
    hyperparameters.lora_target_modules = targets.length === TARGETS.length ? 'all-linear' : targets;
    let priceWei: string;
    try {
      priceWei = parseUnits(price || '0', 18).toString();
    } catch {
      setError(new ApiError({ message: `"${price}" is not an amount of OPEN`, type: 'invalid_request_error', param: 'price', code: 'invalid_amount', hint: 'e.g. 0.001' }, 400));
      return;
    }
    setBusy(true);
    try {
      const job = await post<Job>('/v1/fine_tuning/jobs', {
        model: chosenBase,
        datanets: chosen,
        hyperparameters,
        ...(suffix ? { suffix } : {}),
        validation_split: Number(split),
        price_per_1k_input: priceWei,
        price_per_1k_output: priceWei,
      });
      navigate(`/factory/jobs/${job.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <div className="title-row">
        <h1>Model Factory</h1>
        <Link to="/factory/jobs">Your jobs</Link>
      </div>
      <form className="form wizard" onSubmit={start}>
        <fieldset className="card">
          <legend>1. Base model</legend>
          <ErrorBox error={models.error} />
          {models.loading && <Loading what="Loading models" />}
          {bases.map((m) => (
            <label key={m.id} className="inline">
              <input type="radio" name="base" value={m.id} checked={chosenBase === m.id} onChange={() => setBase(m.id)} /> <strong>{m.id}</strong>{' '}
              <span className="muted small">{m.family ?? 'family ?'} · context {m.context_length ?? '?'} tokens · served by {m.owned_by}</span>
            </label>
          ))}
        </fieldset>
        <fieldset className="card">
          <legend>2. Data: datanet versions</legend>
          <ErrorBox error={datanets.error} />
          {datanets.data && usable.length === 0 && (
            <p className="muted">No datanet has a published version yet. <Link to="/datanets">Publish one first.</Link></p>
          )}
          <ul className="plain">
            {usable.map((d) => {
              const a = d.policies.access;
              return (
                <li key={d.id}>
                  <label className="inline">
                    <input
                      type="checkbox"
                      checked={picked[d.id] !== undefined}
                      onChange={(e) => { const p = { ...picked }; if (e.target.checked) p[d.id] = d.latestVersion!; else delete p[d.id]; setPicked(p); setError(null); }}
                    />{' '}
                    <strong>{d.name}</strong> <Badge>{d.format}</Badge> <Badge tone="info">{accessLabel(d)}</Badge>
                  </label>{' '}
                  {picked[d.id] !== undefined && (
                    <label className="inline small">
                      version{' '}
                      <select value={picked[d.id]} onChange={(e) => setPicked({ ...picked, [d.id]: Number(e.target.value) })}>
                        {Array.from({ length: d.latestVersion! }, (_, i) => d.latestVersion! - i).map((v) => <option key={v} value={v}>{v}</option>)}
                      </select>
                    </label>
                  )}{' '}
                  {a.kind === 'paid' && d.owner.toLowerCase() !== session.address.toLowerCase() && (
                    <button type="button" className="secondary small" disabled={accessBusy === d.id} onClick={() => void buy(d)}>Buy access ({open(a.priceWei)})</button>
                  )}
                  {a.kind === 'approval' && d.owner.toLowerCase() !== session.address.toLowerCase() && <span className="small muted"> needs the owner's grant</span>}
                </li>
              );
            })}
          </ul>
          <ErrorBox error={accessError} />
        </fieldset>
        <fieldset className="card">
          <legend>3. Training</legend>
          <div className="fieldgrid">
          {BASIC.map(([k, label, , help, attrs]) => (
            <Field key={k} label={label} help={<span id={`help-${k}`} className="help">{help}</span>}>
              <input type="number" name={k} value={hp[k]} onChange={(e) => setHp({ ...hp, [k]: e.target.value })} {...attrs} />
            </Field>
          ))}
          <Field label="Held-out fraction" help={<span id="help-split" className="help">Rows kept aside to compare the tuned model with the base.</span>}>
            <input type="number" step="any" min={0} max={0.5} value={split} onChange={(e) => setSplit(e.target.value)} />
          </Field>
          <Field label="Name suffix" help={<span id="help-suffix" className="help">Ends up in the model's name: ft:{chosenBase}:<em>suffix</em>:…</span>}>
            <input value={suffix} maxLength={40} onChange={(e) => setSuffix(e.target.value)} />
          </Field>
          <Field label="Price per 1k tokens (OPEN)" help={<span id="help-price" className="help">What callers pay you per 1000 tokens once the model is registered and served.</span>}>
            <input inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} />
          </Field>
          </div>
          <details>
            <summary>Advanced: LoRA and schedule</summary>
            <div className="fieldgrid">
            <Field label="LoRA rank" help={<span id="help-rank" className="help">Size of the adapter. Higher learns more, costs more memory.</span>}>
              <input type="number" min={1} max={256} value={adv.lora_rank} onChange={(e) => setAdv({ ...adv, lora_rank: e.target.value })} />
            </Field>
            <Field label="LoRA alpha" help={<span id="help-alpha" className="help">Scale of the adapter's update (alpha / rank); twice the rank is a good start.</span>}>
              <input type="number" step="any" value={adv.lora_alpha} onChange={(e) => setAdv({ ...adv, lora_alpha: e.target.value })} />
            </Field>
            <Field label="LoRA dropout" help={<span id="help-dropout" className="help">Randomly drops adapter inputs while training, against overfitting.</span>}>
              <input type="number" step="any" min={0} max={0.9} value={adv.lora_dropout} onChange={(e) => setAdv({ ...adv, lora_dropout: e.target.value })} />
            </Field>
            </div>
            <fieldset>
              <legend>Target modules</legend>
              {TARGETS.map((t) => (
                <label key={t} className="inline">
                  <input type="checkbox" checked={targets.includes(t)} onChange={(e) => setTargets(e.target.checked ? [...targets, t] : targets.filter((x) => x !== t))} /> {t}
                </label>
              ))}
            </fieldset>
            <div className="fieldgrid">
            <Field label="Schedule" help={<span id="help-sched" className="help">How the learning rate falls over the run.</span>}>
              <select value={adv.lr_scheduler} onChange={(e) => setAdv({ ...adv, lr_scheduler: e.target.value })}>
                <option value="cosine">cosine</option>
                <option value="linear">linear</option>
                <option value="constant">constant</option>
              </select>
            </Field>
            <Field label="Warmup steps" help={<span id="help-warm" className="help">Steps over which the learning rate ramps up from zero.</span>}>
              <input type="number" min={0} value={adv.warmup_steps} onChange={(e) => setAdv({ ...adv, warmup_steps: e.target.value })} />
            </Field>
            <label>
              Weight decay
              <input type="number" step="any" min={0} value={adv.weight_decay} onChange={(e) => setAdv({ ...adv, weight_decay: e.target.value })} />
            </label>
            <label>
              Gradient accumulation
              <input type="number" min={1} value={adv.gradient_accumulation_steps} onChange={(e) => setAdv({ ...adv, gradient_accumulation_steps: e.target.value })} />
            </label>
            <label>
              Seed
              <input type="number" value={adv.seed} onChange={(e) => setAdv({ ...adv, seed: e.target.value })} />
            </label>
            </div>
          </details>
        </fieldset>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>{busy ? 'Starting…' : 'Start fine-tuning'}</button>
      </form>
    </section>
  );
}
