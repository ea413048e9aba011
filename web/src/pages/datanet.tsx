/** One datanet: overview and access, rows with proofs, contribute, review queue, versions, leaderboard. */
import { useState } from 'react';
import { get, post, type Datanet, type Row, type Version } from '../api';
import { Link } from '../router';
import { useSession } from '../session';
import { Badge, ErrorBox, Hash, Loading, NeedsSignIn, Tabs, open, statusTone, useAsync, when } from '../ui';
import { verifyRowProof } from '../merkle';
import { accessLabel } from './datanets';
import { Contribute } from './contribute';
import { buyAccess } from '../purchase';

const TABS: [string, string][] = [
  ['', 'Overview'],
  ['rows', 'Rows'],
  ['contribute', 'Contribute'],
  ['review', 'Review'],
  ['versions', 'Versions'],
  ['leaderboard', 'Leaderboard'],
];

export function DatanetPage({ id, tab }: { id: number; tab: string }) {
  const d = useAsync(() => get<Datanet>(`/v1/datanets/${id}`), [id]);
  if (!Number.isSafeInteger(id) || id < 1) return <ErrorBox error={{ message: 'That is not a datanet id.', hint: 'Pick a datanet from the list.' }} />;
  if (d.error) return <ErrorBox error={d.error} />;
  if (!d.data) return <Loading what="Loading the datanet" />;
  const dn = d.data;
  return (
    <section>
      <p className="small">
        <Link to="/datanets">Datanets</Link> / {dn.name}
      </p>
      <h1>{dn.name}</h1>
      <Tabs tabs={TABS} current={tab} base={`/datanets/${id}`} />
      {tab === '' && <Overview d={dn} reload={d.reload} />}
      {tab === 'rows' && <Rows d={dn} />}
      {tab === 'contribute' && <Contribute d={dn} onDone={d.reload} />}
      {tab === 'review' && <Review d={dn} />}
      {tab === 'versions' && <Versions d={dn} reload={d.reload} />}
      {tab === 'leaderboard' && <Leaderboard d={dn} />}
    </section>
  );
}

function Overview({ d, reload }: { d: Datanet; reload: () => void }) {
  const { session, status } = useSession();
  const [grantee, setGrantee] = useState('');
  const [validator, setValidator] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const isOwner = session?.address.toLowerCase() === d.owner.toLowerCase();
  const a = d.policies.access;
  const v = d.policies.validation;
  async function act(f: () => Promise<string>) {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      setDone(await f());
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div className="cols">
      <div className="card">
        <h2>Summary</h2>
        <p>{d.summary || <span className="muted">No summary.</span>}</p>
        {d.description && <pre className="prose">{d.description}</pre>}
        <dl className="facts">
          <dt>Format</dt>
          <dd>{d.format}{d.labels ? ` (labels: ${d.labels.join(', ')})` : ''}</dd>
          <dt>Licence</dt>
          <dd>{d.license}</dd>
          <dt>Owner</dt>
          <dd><Hash value={d.owner} label="owner" /></dd>
          <dt>Created</dt>
          <dd>{when(d.createdAt)} · tx <Hash value={d.txHash} label="creation transaction" /></dd>
          <dt>Metadata</dt>
          <dd><code className="small">{d.metadataURI}</code></dd>
          <dt>Rows</dt>
          <dd>{d.counts.accepted} accepted · {d.counts.pending} pending · {d.counts.rejected} rejected</dd>
          <dt>Latest version</dt>
          <dd>{d.latestVersion ? d.latestVersion : 'none yet'}</dd>
        </dl>
      </div>
      <div className="card">
        <h2>Policy and price</h2>
        <dl className="facts">
          <dt>Access</dt>
          <dd><Badge tone="info">{accessLabel(d)}</Badge></dd>
          <dt>Acceptance</dt>
          <dd>{v.kind === 'automatic' ? 'automatic (rows that pass the checks)' : `${v.approvals} validator approval(s)`}</dd>
          {d.policies.quota && (
            <>
              <dt>Quota</dt>
              <dd>{(d.policies.quota.userBytesPerDay / 1048576).toFixed(1)} MiB and {d.policies.quota.userUploadsPerDay} uploads per contributor per day</dd>
            </>
          )}
        </dl>
        {a.kind === 'paid' && !isOwner && (
          session ? (
            <button type="button" disabled={busy} onClick={() => act(async () => { const r = await buyAccess(d, session, status!, setDone); return `Access bought for ${open(a.priceWei)} (tx ${r.txHash.slice(0, 10)}…).`; })}>
              Buy access for {open(a.priceWei)}
            </button>
          ) : <NeedsSignIn what="buy access" />
        )}
        {a.kind === 'approval' && !isOwner && (
          <p>
            Reading and training need the owner's approval: ask <Hash value={d.owner} label="owner" /> to grant your address access.
          </p>
        )}
        {isOwner && a.kind !== 'open' && (
          <form className="form" onSubmit={(e) => { e.preventDefault(); void act(async () => { await post(`/v1/datanets/${d.id}/access`, { address: grantee.trim() }); return `Access granted to ${grantee.trim()}.`; }); }}>
            <label>
              Grant access to an address
              <input value={grantee} onChange={(e) => setGrantee(e.target.value)} placeholder="0x…" />
            </label>
            <button type="submit" disabled={busy}>Grant (on chain)</button>
          </form>
        )}
        {isOwner && v.kind === 'validators' && (
          <form className="form" onSubmit={(e) => { e.preventDefault(); void act(async () => { await post(`/v1/datanets/${d.id}/validators`, { address: validator.trim() }); return `${validator.trim()} is now a validator (it must stake OPEN to review).`; }); }}>
            <label>
              Add a validator (address)
              <input value={validator} onChange={(e) => setValidator(e.target.value)} placeholder="0x…" />
            </label>
            <button type="submit" disabled={busy}>Add validator (on chain)</button>
          </form>
        )}
        {done && <p role="status" className="ok">{done}</p>}
        <ErrorBox error={error} />
      </div>
    </div>
  );
}

interface Proof {
  leaf: { rowHash: `0x${string}`; contributor: `0x${string}` };
  proof: `0x${string}`[];
  root: `0x${string}`;
  onChainRoot: `0x${string}`;
}

function Rows({ d }: { d: Datanet }) {
  const [status, setStatus] = useState<'accepted' | 'pending' | 'rejected'>('accepted');
  const [after, setAfter] = useState<number[]>([0]);
  const cursor = after[after.length - 1];
  const rows = useAsync(() => get<{ data: Row[] }>(`/v1/datanets/${d.id}/rows?status=${status}&limit=50&after=${cursor}`), [d.id, status, cursor]);
  const [proofs, setProofs] = useState<Record<number, { ok: boolean; p: Proof } | { error: unknown }>>({});
  async function check(r: Row) {
    try {
      const p = await get<Proof>(`/v1/datanets/${d.id}/versions/${d.latestVersion}/rows/${r.id}/proof`);
      // checked here, in the browser, against the root the node read from the chain
      const ok = verifyRowProof({ rowHash: p.leaf.rowHash, contributor: p.leaf.contributor, proof: p.proof, root: p.onChainRoot }) && p.leaf.rowHash.toLowerCase() === r.hash.toLowerCase();
      setProofs((x) => ({ ...x, [r.id]: { ok, p } }));
    } catch (e) {
      setProofs((x) => ({ ...x, [r.id]: { error: e } }));
    }
  }
  const data = rows.data?.data ?? [];
  return (
    <div>
      <div className="filters">
        <label>
          Status
          <select value={status} onChange={(e) => { setStatus(e.target.value as typeof status); setAfter([0]); }}>
            <option value="accepted">accepted</option>
            <option value="pending">pending</option>
            <option value="rejected">rejected</option>
          </select>
        </label>
      </div>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading rows" />}
      {!rows.loading && !rows.error && data.length === 0 && <p className="muted">No {status} rows.</p>}
      <ul className="rows">
        {data.map((r) => {
          const pr = proofs[r.id];
          return (
            <li key={r.id} className="card">
              <p className="small muted">
                row {r.id} · line {r.line ?? '—'} · by <Hash value={r.contributor} label="contributor" /> · hash <Hash value={r.hash} label="row hash" /> <Badge tone={statusTone(r.status)}>{r.status}</Badge>
              </p>
              <pre className="data">{JSON.stringify(r.data, null, 1)}</pre>
              {r.reason && <p className="small">Reason: {r.reason}</p>}
              {r.status === 'accepted' && !!d.latestVersion && (
                <p>
                  <button type="button" className="secondary" onClick={() => void check(r)}>Check Merkle proof (version {d.latestVersion})</button>{' '}
                  {pr && 'ok' in pr && (
                    <span role="status" className={pr.ok ? 'ok' : 'bad'}>
                      {pr.ok ? `✓ proof verified in your browser: ${pr.p.proof.length} steps to on-chain root ${pr.p.onChainRoot.slice(0, 10)}…` : '✗ the proof does not lead to the on-chain root'}
                    </span>
                  )}
                </p>
              )}
              {pr && 'error' in pr && <ErrorBox error={pr.error} />}
            </li>
          );
        })}
      </ul>
      <div className="pager">
        <button type="button" className="secondary" disabled={after.length < 2} onClick={() => setAfter(after.slice(0, -1))}>Previous</button>
        <button type="button" className="secondary" disabled={data.length < 50} onClick={() => setAfter([...after, data[data.length - 1].id])}>Next</button>
      </div>
    </div>
  );
}

function Review({ d }: { d: Datanet }) {
  const { session } = useSession();
  const rows = useAsync(() => get<{ data: Row[] }>(`/v1/datanets/${d.id}/rows?status=pending&limit=200`), [d.id]);
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  if (!session) return <NeedsSignIn what="review rows" />;
  async function decide(decision: 'approve' | 'reject') {
    setError(null);
    setDone(null);
    try {
      await post(`/v1/datanets/${d.id}/reviews`, { rows: [...picked], decision, ...(reason ? { reason } : {}) });
      setDone(`${decision === 'approve' ? 'Approved' : 'Rejected'} ${picked.size} row(s).`);
      setPicked(new Set());
      rows.reload();
    } catch (e) {
      setError(e);
    }
  }
  const data = rows.data?.data ?? [];
  return (
    <div>
      <p className="muted">Validators of this datanet (listed on chain, with OPEN staked) approve or reject pending rows.</p>
      <ErrorBox error={rows.error} />
      {rows.loading && <Loading what="Loading the queue" />}
      {!rows.loading && data.length === 0 && <p>The review queue is empty.</p>}
      {data.length > 0 && (
        <>
          <div className="scroll">
          <table>
            <caption className="sr-only">Pending rows</caption>
            <thead>
              <tr><th scope="col">Pick</th><th scope="col">Row</th><th scope="col">Contributor</th><th scope="col">Data</th></tr>
            </thead>
            <tbody>
              {data.map((r) => (
                <tr key={r.id}>
                  <td>
                    <input type="checkbox" aria-label={`pick row ${r.id}`} checked={picked.has(r.id)} onChange={(e) => { const s = new Set(picked); if (e.target.checked) s.add(r.id); else s.delete(r.id); setPicked(s); }} />
                  </td>
                  <td>{r.id}</td>
                  <td><Hash value={r.contributor} label="contributor" /></td>
                  <td><code className="small">{JSON.stringify(r.data).slice(0, 160)}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <label>
            Reason (needed to reject)
            <input value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <div className="actions">
            <button type="button" disabled={!picked.size} onClick={() => void decide('approve')}>Approve {picked.size || ''}</button>
            <button type="button" className="danger" disabled={!picked.size} onClick={() => void decide('reject')}>Reject {picked.size || ''}</button>
          </div>
        </>
      )}
      {done && <p role="status" className="ok">{done}</p>}
      <ErrorBox error={error} />
    </div>
  );
}

function Versions({ d, reload }: { d: Datanet; reload: () => void }) {
  const { session } = useSession();
  const versions = useAsync(() => get<{ data: Version[] }>(`/v1/datanets/${d.id}/versions`), [d.id]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const isOwner = session?.address.toLowerCase() === d.owner.toLowerCase();
  async function publish() {
    setBusy(true);
    setError(null);
    try {
      await post(`/v1/datanets/${d.id}/versions`);
      versions.reload();
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div>
      {isOwner && (
        <div className="card">
          <p>Publishing commits the Merkle root of every accepted row ({d.counts.accepted}) and a snapshot in DA to the chain.</p>
          <button type="button" disabled={busy} onClick={() => void publish()}>{busy ? 'Publishing (on chain)…' : 'Publish a version'}</button>
          <ErrorBox error={error} />
        </div>
      )}
      <ErrorBox error={versions.error} />
      {versions.loading && <Loading what="Loading versions" />}
      {versions.data && versions.data.data.length === 0 && <p className="muted">No version published yet.</p>}
      {versions.data && versions.data.data.length > 0 && (
        <div className="scroll">
          <table>
            <caption className="sr-only">Published versions</caption>
            <thead>
              <tr><th scope="col">Version</th><th scope="col">Rows</th><th scope="col">Merkle root</th><th scope="col">Transaction</th><th scope="col">DA commitment</th><th scope="col">Published</th></tr>
            </thead>
            <tbody>
              {[...versions.data.data].reverse().map((v) => (
                <tr key={v.version}>
                  <td>{v.version}</td>
                  <td>{v.rowCount}</td>
                  <td><Hash value={v.merkleRoot} label="Merkle root" /></td>
                  <td><Hash value={v.txHash} label="transaction" /> <span className="small muted">block {v.blockNumber}</span></td>
                  <td><Hash value={v.daCommitment} label="DA commitment" /></td>
                  <td className="small">{when(v.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function Leaderboard({ d }: { d: Datanet }) {
  const lb = useAsync(() => get<{ data: { contributor: string; accepted: number; pending: number; rejected: number; acceptanceBps: number; rank: number }[] }>(`/v1/datanets/${d.id}/leaderboard`), [d.id]);
  return (
    <div>
      <ErrorBox error={lb.error} />
      {lb.loading && <Loading what="Loading the leaderboard" />}
      {lb.data && lb.data.data.length === 0 && <p className="muted">No contributions yet.</p>}
      {lb.data && lb.data.data.length > 0 && (
        <div className="scroll">
        <table>
          <caption className="sr-only">Contributors</caption>
          <thead>
            <tr><th scope="col">Rank</th><th scope="col">Contributor</th><th scope="col">Accepted</th><th scope="col">Pending</th><th scope="col">Rejected</th><th scope="col">Acceptance</th></tr>
          </thead>
          <tbody>
            {lb.data.data.map((r) => (
              <tr key={r.contributor}>
                <td>{r.rank}</td>
                <td><Hash value={r.contributor} label="contributor" /></td>
                <td>{r.accepted}</td>
                <td>{r.pending}</td>
                <td>{r.rejected}</td>
                <td>{(r.acceptanceBps / 100).toFixed(1)}%</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </div>
  );
}
