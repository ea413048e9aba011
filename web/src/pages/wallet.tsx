/**
 * Wallet and rewards: OPEN and gas balance; the inference escrow (balance, spend authorization,
 * pending withdrawal; deposit with a permit, authorize spending, request and complete a
 * withdrawal — each signed by the user); earnings by epoch, claimable with its Merkle proof, and
 * the claim with its transaction; API keys for apps.
 */
import { useState } from 'react';
import { api, get, post } from '../api';
import { authorize, completeWithdrawal, deposit, parseOpen, requestWithdrawal } from '../escrow';
import { useSession } from '../session';
import { Badge, ErrorBox, Hash, Loading, NeedsSignIn, eth, open, statusTone, useAsync, when } from '../ui';

interface ApiKey { id: string; name: string; prefix: string; createdAt: number; lastUsedAt: number | null; revokedAt: number | null }

export function Wallet() {
  const { session, signer, status } = useSession();
  const esc = useAsync(() => (session ? get(`/v1/escrow/${session.address}`) : Promise.resolve(null)), [session?.address]);
  const rew = useAsync(() => (session ? get(`/v1/rewards/${session.address}`) : Promise.resolve(null)), [session?.address]);
  const [amount, setAmount] = useState('');
  const [cap, setCap] = useState('');
  const [outAmount, setOutAmount] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<{ what: string; tx: string } | null>(null);
  const [escError, setEscError] = useState<unknown>(null);
  const [claimError, setClaimError] = useState<unknown>(null);
  const [claimed, setClaimed] = useState<{ amount: string; tx_hash: string; block_number: string } | null>(null);
  const bal = useAsync(() => (session ? get(`/v1/accounts/${session.address}`) : Promise.resolve(null)), [session?.address]);
  const keys = useAsync(() => (session ? get<{ data: ApiKey[] }>('/v1/api-keys') : Promise.resolve({ data: [] as ApiKey[] })), [session?.token]);
  const [name, setName] = useState('');
  const [fresh, setFresh] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!session) return <NeedsSignIn what="see your wallet" />;
  async function act(what: string, f: () => Promise<string>) {
    setEscError(null);
    setDone(null);
    setBusy(what);
    try {
      if (!signer || !status) throw new Error('The session has no signer: sign in again.');
      const tx = await f();
      setDone({ what, tx });
      esc.reload();
      bal.reload();
    } catch (e) {
      setEscError(e);
    } finally {
      setBusy(null);
    }
  }
  async function claim() {
    setClaimError(null);
    setBusy('claim');
    try {
      setClaimed(await post(`/v1/rewards/${session!.address}/claim`));
      rew.reload();
      bal.reload();
    } catch (e) {
      setClaimError(e);
    } finally {
      setBusy(null);
    }
  }
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
          <p className="small muted">OPEN that paid models may charge: a deposit, and an authorization that caps what the node may spend.</p>
          <ErrorBox error={esc.error} />
          {esc.loading && <Loading what="Reading the escrow" />}
          {esc.data && (
            <dl className="facts" data-testid="escrow">
              <dt>In escrow</dt><dd data-testid="escrow-balance">{open(esc.data.balance)}</dd>
              <dt>Available for calls</dt><dd data-testid="escrow-available">{open(esc.data.available)}</dd>
              <dt>Held / unsettled</dt><dd>{open(esc.data.held)} / {open(esc.data.unsettled)}</dd>
              <dt>Spending authorized</dt>
              <dd data-testid="escrow-authorization">{esc.data.authorization ? <>{open(esc.data.authorization.remaining)} left of {open(esc.data.authorization.cap)}, until {when(esc.data.authorization.expiry)}</> : 'none: paid calls are refused until you authorize'}</dd>
              <dt>Pending withdrawal</dt>
              <dd data-testid="escrow-pending">{esc.data.pending_withdrawal ? <>{open(esc.data.pending_withdrawal.amount)}, ready {when(esc.data.pending_withdrawal.available_at)}</> : 'none'}</dd>
            </dl>
          )}
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void act('deposit', async () => { const wei = parseOpen(amount); const tx = await deposit(signer!, status!, wei); setAmount(''); return tx; }); }}>
            <label>
              Deposit (OPEN)
              <input value={amount} inputMode="decimal" maxLength={50} onChange={(e) => setAmount(e.target.value)} placeholder="5" />
            </label>
            <button type="submit" disabled={busy !== null}>Deposit</button>
          </form>
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void act('authorization', async () => { const r = await authorize(signer!, status!, parseOpen(cap, 'cap')); setCap(''); return r.tx_hash; }); }}>
            <label>
              Authorize spending up to (OPEN, 30 days)
              <input value={cap} inputMode="decimal" maxLength={50} onChange={(e) => setCap(e.target.value)} placeholder="5" />
            </label>
            <button type="submit" disabled={busy !== null}>Authorize</button>
          </form>
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void act('withdrawal request', async () => { const tx = await requestWithdrawal(signer!, status!, parseOpen(outAmount)); setOutAmount(''); return tx; }); }}>
            <label>
              Withdraw (OPEN)
              <input value={outAmount} inputMode="decimal" maxLength={50} onChange={(e) => setOutAmount(e.target.value)} placeholder="1" />
            </label>
            <button type="submit" disabled={busy !== null}>Request withdrawal</button>
          </form>
          {esc.data?.pending_withdrawal && (
            <button type="button" className="secondary" disabled={busy !== null} onClick={() => void act('withdrawal', () => completeWithdrawal(signer!, status!))}>Complete withdrawal</button>
          )}
          {busy && busy !== 'claim' && <Loading what={`Sending the ${busy} (sign it if your wallet asks)`} />}
          {done && <p role="status" className="ok" data-testid="escrow-done">The {done.what} is on chain: <Hash value={done.tx} label="transaction" /></p>}
          <ErrorBox error={escError} />
        </div>
        <div className="card">
          <h2>Earnings and claims</h2>
          <ErrorBox error={rew.error} />
          {rew.loading && <Loading what="Reading your rewards" />}
          {rew.data && (
            <>
              <dl className="facts">
                <dt>Earned</dt><dd data-testid="rewards-earned">{open(rew.data.earned)}</dd>
                <dt>Pending</dt><dd>{open(rew.data.pending)}</dd>
                <dt>Claimable</dt><dd data-testid="rewards-claimable">{open(rew.data.claimable)}</dd>
                <dt>Claimed</dt><dd data-testid="rewards-claimed">{open(rew.data.claimed)}</dd>
              </dl>
              {rew.data.by_epoch.length > 0 ? (
                <div className="scroll">
                  <table>
                    <caption className="small muted">Earnings by epoch</caption>
                    <thead><tr><th scope="col">Epoch</th><th scope="col">Role</th><th scope="col">Earned</th><th scope="col">Status</th></tr></thead>
                    <tbody>
                      {rew.data.by_epoch.slice(0, 200).map((r: { epoch: number; role: string; amount: string; status: string | null }) => (
                        <tr key={`${r.epoch}-${r.role}`}><td>{r.epoch}</td><td>{r.role}</td><td>{open(r.amount)}</td><td><Badge tone={statusTone(r.status ?? '')}>{r.status ?? '—'}</Badge></td></tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ) : <p className="muted">No earnings yet: they come from paid calls to models trained on your data, models you own, and validating.</p>}
              {rew.data.claim && (
                <details>
                  <summary>Merkle proof (epoch {rew.data.claim.epoch})</summary>
                  <p className="small">Root <Hash value={rew.data.claim.root} label="root" />, cumulative {open(rew.data.claim.cumulative_amount)}, DA <Hash value={rew.data.claim.da_commitment} label="DA commitment" /></p>
                  <ol className="small">{rew.data.claim.proof.map((h: string) => <li key={h}><code className="break">{h}</code></li>)}</ol>
                </details>
              )}
              {rew.data.next && <p className="small muted">Epoch {rew.data.next.epoch}'s root is posted and becomes claimable after the distributor's activation delay.</p>}
              <button type="button" disabled={busy !== null || BigInt(rew.data.claimable) === 0n} onClick={() => void claim()}>Claim {open(rew.data.claimable)}</button>
              <button type="button" className="secondary" onClick={() => rew.reload()}>Refresh</button>
            </>
          )}
          {busy === 'claim' && <Loading what="Claiming" />}
          {claimed && <p role="status" className="ok" data-testid="claim-done">Claimed {open(claimed.amount)} in block {claimed.block_number}: <Hash value={claimed.tx_hash} label="transaction" /></p>}
          <ErrorBox error={claimError} />
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
          <p role="status" className="ok" data-testid="new-key">
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
