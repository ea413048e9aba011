/** Create a datanet: metadata, format and the policy choices. */
import { useState, type FormEvent } from 'react';
import { parseUnits } from 'viem';
import { ApiError, post, type Datanet } from '../api';
import { navigate } from '../router';
import { useSession } from '../session';
import { ErrorBox, NeedsSignIn } from '../ui';

export function CreateDatanet() {
  const { session } = useSession();
  const [f, setF] = useState({ name: '', summary: '', description: '', tags: '', license: 'CC-BY-4.0', format: 'alpaca', labels: '', access: 'open', price: '1', validation: 'automatic', approvals: '1' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!session) return <NeedsSignIn what="create a datanet" />;
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let priceWei: string;
    try {
      priceWei = parseUnits(f.price || '0', 18).toString();
    } catch {
      setError(new ApiError({ message: `"${f.price}" is not an amount of OPEN`, type: 'invalid_request_error', param: 'price', code: 'invalid_amount', hint: 'e.g. 10 or 0.5' }, 400));
      return;
    }
    setBusy(true);
    try {
      const access = f.access === 'paid' ? { kind: 'paid', priceWei } : { kind: f.access };
      const validation = f.validation === 'validators' ? { kind: 'validators', approvals: Number(f.approvals) } : { kind: 'automatic' };
      const d = await post<Datanet>('/v1/datanets', {
        name: f.name,
        summary: f.summary,
        description: f.description,
        tags: list(f.tags),
        license: f.license,
        format: f.format,
        ...(f.format === 'labelled' ? { labels: list(f.labels) } : {}),
        policies: { access, validation },
      });
      navigate(`/datanets/${d.id}/contribute`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="narrow">
      <h1>Create a datanet</h1>
      <form onSubmit={submit} className="form">
        <label>
          Name
          <input required maxLength={100} value={f.name} onChange={set('name')} />
        </label>
        <label>
          Summary
          <input maxLength={500} value={f.summary} onChange={set('summary')} placeholder="one line: what the data is for" />
        </label>
        <label>
          Description (markdown)
          <textarea rows={4} value={f.description} onChange={set('description')} />
        </label>
        <div className="row2">
          <label>
            Tags (comma separated)
            <input value={f.tags} onChange={set('tags')} placeholder="medicine, qa" />
          </label>
          <label>
            Licence (SPDX)
            <input value={f.license} onChange={set('license')} />
          </label>
        </div>
        <label>
          Row format
          <select value={f.format} onChange={set('format')}>
            <option value="alpaca">alpaca — instruction, optional input, output</option>
            <option value="sharegpt">sharegpt — conversations</option>
            <option value="text">text — free text (also .txt, .md, .pdf, .docx)</option>
            <option value="labelled">labelled — text with a label</option>
          </select>
        </label>
        {f.format === 'labelled' && (
          <label>
            Labels (comma separated)
            <input required value={f.labels} onChange={set('labels')} placeholder="positive, negative" />
          </label>
        )}
        <fieldset>
          <legend>Who may read and train on it</legend>
          <label className="inline">
            <input type="radio" name="access" value="open" checked={f.access === 'open'} onChange={set('access')} /> Open — anyone
          </label>
          <label className="inline">
            <input type="radio" name="access" value="approval" checked={f.access === 'approval'} onChange={set('access')} /> Approval — accounts you grant
          </label>
          <label className="inline">
            <input type="radio" name="access" value="paid" checked={f.access === 'paid'} onChange={set('access')} /> Paid — a one-time price, shared by contributors
          </label>
          {f.access === 'paid' && (
            <label>
              Price (OPEN)
              <input inputMode="decimal" value={f.price} onChange={set('price')} />
            </label>
          )}
        </fieldset>
        <fieldset>
          <legend>How rows are accepted</legend>
          <label className="inline">
            <input type="radio" name="validation" value="automatic" checked={f.validation === 'automatic'} onChange={set('validation')} /> Automatically, when they pass the checks
          </label>
          <label className="inline">
            <input type="radio" name="validation" value="validators" checked={f.validation === 'validators'} onChange={set('validation')} /> By staked validators' votes
          </label>
          {f.validation === 'validators' && (
            <label>
              Approvals needed
              <input type="number" min={1} max={100} value={f.approvals} onChange={set('approvals')} />
            </label>
          )}
        </fieldset>
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating (on chain)…' : 'Create datanet'}
        </button>
      </form>
    </section>
  );
}
