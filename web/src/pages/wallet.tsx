/**
 * Wallet and rewards: what the API offers today (OPEN and gas balance, API keys for apps); the
 * escrow, earnings-by-epoch and claim panels fill in as those routes land (payable inference).
 */
import { useState } from 'react';
import { api, get, post } from '../api';
import { useSession } from '../session';
import { ErrorBox, Hash, Loading, NeedsSignIn, eth, open, useAsync, when } from '../ui';

interface ApiKey { id: string; name: string; prefix: string; createdAt: number; lastUsedAt: number | null; revokedAt: number | null }

export function Wallet() {
  const { session } = useSession();
  const bal = useAsync(() => (session ? get(`/v1/accounts/${session.address}`) : Promise.resolve(null)), [session?.address]);
  const keys = useAsync(() => (session ? get<{ data: ApiKey[] }>('/v1/api-keys') : Promise.resolve({ data: [] as ApiKey[] })), [session?.token]);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!session) return <NeedsSignIn what="see your wallet" />;
  async function issue() {
    setError(null);
    try {
      const r = await post('/v1/api-keys', name.trim() ? { name: name.trim() } : {});
      setFresh(r.key);
      setName('');
      keys.reload();
    } catch (e) {
      setError(e);
    }
  }
  async function revoke(id: string) {
    setError(null);
    try {
      await api('DELETE', `/v1/api-keys/${encodeURIComponent(id)}`);
      keys.reload();
    } catch (e) {
      setError(e);
    }
  }
  return (
    <section>
      <h1>Wallet</h1>
      <div className="cols">
        <div className="card">
          <h2>Balance</h2>
          <p><Hash value={session.address} label="address" /></p>
          <ErrorBox error={bal.error} />
          {bal.loading && <Loading what="Reading balances" />}
          {bal.data && (
            <dl className="facts">
              <dt>OPEN</dt><dd data-testid="open-balance">{open(bal.data.open)}</dd>
              <dt>Gas (native)</dt><dd>{eth(bal.data.native)}</dd>
            </dl>
          )}
        </div>
        <div className="card">
          <h2>Inference escrow</h2>
          <p className="muted">Deposit and withdraw OPEN for paid inference: arrives with payable inference (not on this node yet).</p>
        </div>
        <div className="card">
          <h2>Earnings and claims</h2>
          <p className="muted">Your earnings by epoch and claims with their transactions: arrive with the rewards API (not on this node yet).</p>
        </div>
      </div>
      <div className="card">
        <h2>API keys</h2>
        <p className="small muted">For apps calling the OpenAI-compatible API as you (Authorization: Bearer olk_…).</p>
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void issue(); }}>
          <label>
            Key name
            <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} placeholder="my app" />
          </label>
          <button type="submit">Create key</button>
        </form>
        {fresh && (
          <p role="status" className="ok">
            New key (shown once, copy it now): <code className="break">{fresh}</code>
          </p>
        )}
        <ErrorBox error={error ?? keys.error} />
        <ul className="plain">
          {keys.data?.data.map((k) => (
            <li key={k.id}>
              <strong>{k.name}</strong> <code>{k.prefix}…</code> <span className="small muted">created {when(Math.floor(k.createdAt / 1000))}{k.revokedAt ? ' · revoked' : ''}</span>{' '}
              {!k.revokedAt && <button type="button" className="secondary small" onClick={() => void revoke(k.id)}>Revoke</button>}
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}
