/**
 * Contribute a file: drop it → the node parses and checks it (prepare: nothing stored) → the
 * report shows accepted and rejected rows with line numbers and reasons → the browser builds the
 * EIP-712 Contribution with the node's own builder (src/datanets/signature.ts, as the CLI does)
 * from the chain id and registry of /v1/status, the signed-in address and the rows root → the
 * wallet signs it → upload → report.
 */
import { useRef, useState, type DragEvent } from 'react';
import { ApiError, post, type Datanet, type UploadReport } from '../api';
import { EXTENSIONS, MAX_UPLOAD_BYTES, checkFile } from '../files';
import { contributionTypedDataJson } from '../../../src/datanets/signature.ts';
import { switchChain } from '../wallet';
import { useSession } from '../session';
import { Badge, ErrorBox, NeedsSignIn, statusTone } from '../ui';

interface Prepared {
  rowsRoot: string;
  rowCount: number;
  report: UploadReport;
  typedData: Record<string, unknown>;
}

export function Contribute({ d, onDone }: { d: Datanet; onDone: () => void }) {
  const { session, signer, status } = useSession();
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [prepared, setPrepared] = useState<Prepared | null>(null);
  const [final, setFinal] = useState<UploadReport | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [over, setOver] = useState(false);
  if (!session) return <NeedsSignIn what="contribute" />;

  async function pick(f: File | undefined) {
    setPrepared(null);
    setFinal(null);
    setError(null);
    if (!f) return;
    setFile(f);
    const bad = checkFile(f);
    if (bad) return setError(bad);
    setBusy('Checking the rows…');
    try {
      setPrepared(await post<Prepared>(`/v1/datanets/${d.id}/contributions/prepare?filename=${encodeURIComponent(f.name)}`, undefined, { raw: f }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  async function signAndUpload() {
    if (!file || !prepared) return;
    setError(null);
    try {
      if (!signer) throw new ApiError({ message: 'No wallet to sign with in this browser.', type: 'wallet_error', param: null, code: 'no_signer', hint: 'Sign out and sign in again with your wallet.' }, 0);
      if (!status) throw new ApiError({ message: "The node's status is not loaded.", type: 'client_error', param: null, code: 'no_status', hint: 'Reload the page.' }, 0);
      // built here, not taken from the node: what the wallet signs names this chain, this
      // registry, this datanet and this account; the node checks it against the same builder
      const nonce = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const typedData = contributionTypedDataJson(
        { chainId: status.chainId, registry: status.contracts.DatanetRegistry as `0x${string}` },
        { contributor: signer.address, datanetId: BigInt(d.id), rowsRoot: prepared.rowsRoot as `0x${string}`, rowCount: BigInt(prepared.rowCount), nonce, deadline },
      );
      setBusy('Waiting for your signature…');
      const signature = await signer.signTypedData(typedData);
      setBusy('Uploading…');
      const q = `filename=${encodeURIComponent(file.name)}&nonce=${nonce}&deadline=${deadline}&signature=${signature}`;
      setFinal(await post<UploadReport>(`/v1/datanets/${d.id}/contributions?${q}`, undefined, { raw: file }));
      setPrepared(null);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void pick(e.dataTransfer.files[0]);
  };
  return (
    <div>
      <div
        className={over ? 'dropzone over' : 'dropzone'}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        data-testid="dropzone"
      >
        <p>
          Drop a file of <strong>{d.format}</strong> rows here, or{' '}
          <button type="button" className="secondary" onClick={() => input.current?.click()}>choose a file</button>
        </p>
        <p className="small muted">{EXTENSIONS.join(' ')} · up to {MAX_UPLOAD_BYTES / 1048576} MiB</p>
        <input ref={input} type="file" className="sr-only" aria-label="File to contribute" accept={EXTENSIONS.join(',')} onChange={(e) => { void pick(e.target.files?.[0]); e.target.value = ''; }} />
      </div>
      {busy && <p role="status" aria-live="polite"><span className="spinner" aria-hidden="true" /> {busy}</p>}
      <ErrorBox error={error}>
        {(error as { code?: string } | null)?.code === 'wrong_chain' && status && (
          <button type="button" onClick={() => switchChain(status.chainId, status.rpcUrl).then(() => setError(null), setError)}>
            Switch wallet to chain {status.chainId}
          </button>
        )}
      </ErrorBox>
      {prepared && (
        <div className="card">
          <h2>Before you sign: {file?.name}</h2>
          <ReportView report={prepared.report} />
          <p className="small muted">
            You sign one EIP-712 message covering all {prepared.rowCount} rows (rows root <code>{prepared.rowsRoot.slice(0, 18)}…</code>). Rejected rows are not stored; the others are.
          </p>
          <button type="button" disabled={!!busy || prepared.report.rows === prepared.report.rejected} onClick={() => void signAndUpload()}>
            Sign and upload {prepared.report.rows - prepared.report.rejected} row(s)
          </button>
        </div>
      )}
      {final && (
        <div className="card" role="status">
          <h2>Uploaded: {final.file}</h2>
          <ReportView report={final} />
        </div>
      )}
    </div>
  );
}

export function ReportView({ report }: { report: UploadReport }) {
  const rejected = report.results.filter((r) => r.status === 'rejected');
  return (
    <>
      <p className="report-summary">
        <Badge tone="good">{report.accepted} accepted</Badge> <Badge tone="warn">{report.pending} pending review</Badge> <Badge tone="bad">{report.rejected} rejected</Badge> <span className="muted">of {report.rows} rows</span>
      </p>
      {rejected.length > 0 && (
        <div className="scroll">
          <table className="report">
            <caption>Rejected rows</caption>
            <thead>
              <tr><th scope="col">Line</th><th scope="col">Item</th><th scope="col">Status</th><th scope="col">Why</th></tr>
            </thead>
            <tbody>
              {rejected.slice(0, 200).map((r) => (
                <tr key={r.item}>
                  <td>{r.line ?? '—'}</td>
                  <td>{r.item}</td>
                  <td><Badge tone={statusTone(r.status)}>{r.status}</Badge></td>
                  <td>{r.reasons.map((x) => `${x.code}: ${x.message}`).join('; ')}{r.duplicateOf ? ` (duplicate of ${r.duplicateOf.rowId ? `row ${r.duplicateOf.rowId}` : `item ${r.duplicateOf.item}`})` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rejected.length > 200 && <p className="small muted">… and {rejected.length - 200} more.</p>}
        </div>
      )}
    </>
  );
}
