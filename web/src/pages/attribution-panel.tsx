/**
 * One answer's charge, split and Proof of Attribution: GET /v1/inferences/:id (fee, split by party,
 * epoch) and GET /v1/inferences/:id/attribution, polled while the node answers 202 (queued /
 * running) until the record is done or failed. Every row shows its contributor, score and Merkle
 * proof (checked against the datanet version's on-chain root by the node).
 */
import { useEffect, useState } from 'react';
import { get, toApiError, type ApiError } from '../api';
import { Badge, ErrorBox, Hash, Loading, open } from '../ui';

interface Row { datanetId: number; version: number; rowId: number; contributor: string; score: number; excluded: string | null; proof: { root: string; proof: string[]; verified: boolean; verifiedOnChain?: boolean; commitTx: string } | null }
interface Attribution { status: string; error?: string | null; method?: { name: string }; topRows?: Row[]; negativeRows?: Row[]; contributorWeights?: { address: string; weightPpm: number }[]; warnings?: string[]; hint?: string }
interface Inference { status: string; fee: string | null; hold: string | null; epoch: number | null; epoch_status: string | null; settle_tx: string | null; split: { address: string; role: string; datanet_id: number | null; amount: string }[]; contributors_pending: string }

const POLL_MS = 1500;
const MAX_POLLS = 200; // ~5 minutes, then the panel says so (and Refresh polls again)

export function AttributionPanel({ id }: { id: string }) {
  const [inf, setInf] = useState<Inference | null>(null);
  const [att, setAtt] = useState<Attribution | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [infError, setInfError] = useState<ApiError | null>(null);
  const [round, setRound] = useState(0);
  const [gaveUp, setGaveUp] = useState(false);
  const [final, setFinal] = useState(false);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setGaveUp(false);
    setFinal(false);
    const path = encodeURIComponent(id);
    const poll = async (n: number) => {
      // each half on its own: a node without payable inference still shows the attribution, and the reverse
      const [ri, ra] = await Promise.allSettled([get<Inference>(`/v1/inferences/${path}`), get<Attribution>(`/v1/inferences/${path}/attribution`)]);
      if (stop) return;
      const i = ri.status === 'fulfilled' ? ri.value : null;
      const a = ra.status === 'fulfilled' ? ra.value : null;
      setInf(i);
      setAtt(a);
      setInfError(ri.status === 'rejected' ? toApiError(ri.reason) : null);
      setError(ra.status === 'rejected' ? toApiError(ra.reason) : null);
      if (!a) return; // the error says why and what to do; Refresh asks again
      // not_queued right after the answer may only mean the node has not queued it yet: ask a few times
      const settled = a.status === 'done' || a.status === 'failed' || (a.status === 'not_queued' && n >= 3);
      if (settled && i?.status !== 'held') setFinal(true);
      else if (n >= MAX_POLLS) setGaveUp(true);
      else timer = setTimeout(() => void poll(n + 1), POLL_MS);
    };
    void poll(0);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [id, round]);

  const rows = [...(att?.topRows ?? []), ...(att?.negativeRows ?? [])];
  return (
    <div className="attribution-body" data-testid="attribution">
      <ErrorBox error={infError} />
      {inf && (
        <div data-testid="charge">
          <p className="small">
            Charged <strong>{open(inf.fee ?? '0')}</strong> ({inf.status}{inf.epoch ? `, epoch ${inf.epoch}${inf.epoch_status ? ` ${inf.epoch_status}` : ''}` : ''})
            {inf.settle_tx && <> · settled in <Hash value={inf.settle_tx} label="settlement transaction" /></>}
          </p>
          {inf.split.length > 0 && (
            <ul className="plain small" aria-label="Split of the fee">
              {inf.split.map((x) => (
                <li key={`${x.address}-${x.role}-${x.datanet_id}`}>{x.role}{x.datanet_id !== null ? ` (datanet #${x.datanet_id})` : ''}: {open(x.amount)} to <Hash value={x.address} label={x.role} /></li>
              ))}
            </ul>
          )}
          {BigInt(inf.contributors_pending || '0') > 0n && <p className="small muted">{open(inf.contributors_pending)} waits for the contributors until the epoch is attributed.</p>}
        </div>
      )}
      <ErrorBox error={error} />
      {att && (att.status === 'done' ? (
        <>
          <p className="small">Method: {att.method?.name ?? '—'}</p>
          {(att.contributorWeights?.length ?? 0) > 0 && (
            <ul className="plain small" aria-label="Contributors">
              {att.contributorWeights!.map((w) => <li key={w.address}><Hash value={w.address} label="contributor" /> {(w.weightPpm / 10_000).toFixed(2)} %</li>)}
            </ul>
          )}
          {rows.length > 0 ? (
            <div className="scroll">
              <table>
                <caption className="sr-only">Rows behind this answer</caption>
                <thead><tr><th scope="col">Row</th><th scope="col">Contributor</th><th scope="col">Score</th><th scope="col">Proof</th></tr></thead>
                <tbody>
                  {rows.slice(0, 50).map((r) => (
                    <tr key={`${r.datanetId}-${r.rowId}`} data-testid="attribution-row">
                      <td>#{r.datanetId} v{r.version} row {r.rowId}{r.excluded ? <div className="small muted">excluded: {r.excluded}</div> : null}</td>
                      <td><Hash value={r.contributor} label="contributor" /></td>
                      <td>{r.score.toFixed(4)}</td>
                      <td>{r.proof ? <Badge tone={r.proof.verifiedOnChain ?? r.proof.verified ? 'good' : 'bad'}>{r.proof.verifiedOnChain ?? r.proof.verified ? `✓ ${r.proof.proof.length} steps to the on-chain root` : '✗ proof does not match'}</Badge> : <span className="muted">—</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : <p className="small muted">No datanet row scored for this answer.</p>}
          {att.warnings?.map((w) => <p key={w} className="small muted">{w}</p>)}
        </>
      ) : att.status === 'failed' ? (
        <p className="bad small" role="alert">Attribution failed: {att.error ?? 'no reason given'}.</p>
      ) : att.status === 'not_queued' && final ? (
        <p className="small muted">This answer is not queued for attribution (a base model, or a model not trained on datanet rows).</p>
      ) : (
        <Loading what={`Attributing this answer (${att.status})`} />
      ))}
      {gaveUp && <p className="small muted">Still not finished after 5 minutes.</p>}
      <button type="button" className="secondary small" onClick={() => setRound((r) => r + 1)}>Refresh</button>
    </div>
  );
}
