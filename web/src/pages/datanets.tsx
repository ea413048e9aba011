/** Browse and search datanets. */
import { useMemo, useState } from 'react';
import { get, type Datanet } from '../api';
import { Link } from '../router';
import { useSession } from '../session';
import { Badge, ErrorBox, Loading, open, useAsync } from '../ui';

export function accessLabel(d: Datanet): string {
  const a = d.policies.access;
  return a.kind === 'paid' ? `paid · ${open(a.priceWei)}` : a.kind === 'approval' ? 'approval' : 'open';
}

export function DatanetList() {
  const { session } = useSession();
  const list = useAsync(() => get<{ data: Datanet[] }>('/v1/datanets?limit=200'), []);
  const [q, setQ] = useState('');
  const [format, setFormat] = useState('');
  const shown = useMemo(() => {
    const needle = q.trim().toLowerCase();
    return (list.data?.data ?? []).filter(
      (d) =>
        (!format || d.format === format) &&
        (!needle || [d.name, d.summary, d.license, ...d.tags].some((s) => s?.toLowerCase().includes(needle))),
    );
  }, [list.data, q, format]);
  return (
    <section>
      <div className="title-row">
        <h1>Datanets</h1>
        {session && (
          <Link to="/datanets/new" className="button">
            Create a datanet
          </Link>
        )}
      </div>
      <div className="filters">
        <label>
          Search
          <input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="name, tag, licence…" />
        </label>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value)}>
            <option value="">any</option>
            <option value="text">text</option>
            <option value="alpaca">alpaca (instruction → output)</option>
            <option value="sharegpt">sharegpt (chats)</option>
            <option value="labelled">labelled</option>
          </select>
        </label>
      </div>
      <ErrorBox error={list.error} />
      {list.loading && <Loading what="Loading datanets" />}
      {list.data && shown.length === 0 && <p className="muted">No datanet matches. {session ? 'Create the first one.' : 'Sign in to create one.'}</p>}
      <ul className="grid">
        {shown.map((d) => (
          <li key={d.id} className="card">
            <h2>
              <Link to={`/datanets/${d.id}`}>{d.name}</Link>
            </h2>
            <p>{d.summary || <span className="muted">No summary.</span>}</p>
            <p className="small">
              <Badge>{d.format}</Badge> <Badge tone="info">{accessLabel(d)}</Badge> <Badge>{d.license}</Badge>
              {d.tags.map((t) => (
                <Badge key={t}>#{t}</Badge>
              ))}
            </p>
            <p className="small muted">
              {d.counts.accepted} accepted · {d.counts.pending} pending · {d.latestVersion ? `version ${d.latestVersion}` : 'no version yet'}
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}
