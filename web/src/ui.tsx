/** Small shared pieces: errors with their hint, async data, addresses, amounts, tabs. */
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { formatUnits } from 'viem';
import { ApiError, toApiError } from './api';
import { Link } from './router';

/** An API error as the user sees it: message, hint, code (role=alert so screen readers hear it). */
export function ErrorBox({ error, children }: { error: unknown; children?: ReactNode }) {
  if (!error) return null;
  const e = toApiError(error);
  return (
    <div className="error" role="alert">
      <strong>{e.message}</strong>
      {e.hint && <p className="hint">{e.hint}</p>}
      {(e.code || e.param) && (
        <p className="muted small">
          {e.code && <>code <code>{e.code}</code></>} {e.param && <>· field <code>{e.param}</code></>}
        </p>
      )}
      {children}
    </div>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {what}…
    </p>
  );
}

/** Runs `load` on mount and when `deps` change; exposes data, error and a reload. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: ApiError | null; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (e) => live && setState({ data: null, error: toApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]); // eslint-disable-line react-hooks/exhaustive-deps
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export const short = (h: string | null | undefined, n = 6) => (h ? (h.length > 2 * n + 4 ? `${h.slice(0, n + 2)}…${h.slice(-n)}` : h) : '—');

/** An address or hash: shortened, full value in the title, copy on click. */
export function Hash({ value, label }: { value: string | null | undefined; label?: string }) {
  const [copied, setCopied] = useState(false);
  if (!value) return <span className="muted">—</span>;
  const copy = () => {
    navigator.clipboard?.writeText(value).then(() => {
      setCopied(true);
      setTimeout(() => setCopied(false), 1200);
    }, () => undefined);
  };
  return (
    <button type="button" className="hash" title={`${value} (click to copy)`} onClick={copy}>
      <code>{short(value)}</code>
      <span className="sr-only"> ({label ?? 'value'} {value}, copy)</span>
      {copied && <span className="small"> copied</span>}
    </button>
  );
}

/** An 18-decimal amount in wei (decimal string) with up to 6 decimals and its unit. */
function units(wei: string | bigint | null | undefined, unit: string): string {
  if (wei === null || wei === undefined) return '—';
  const s = formatUnits(BigInt(wei), 18);
  const [i, f = ''] = s.split('.');
  const frac = f.slice(0, 6).replace(/0+$/, '');
  return `${i}${frac ? '.' + frac : ''} ${unit}`;
}

/** OPEN amounts (wei). */
export const open = (wei: string | bigint | null | undefined) => units(wei, 'OPEN');
/** The chain's gas token (wei). */
export const eth = (wei: string | bigint | null | undefined) => units(wei, 'ETH');

export const when = (unixSeconds: number | null | undefined) => (unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : '—');

export function Tabs({ tabs, current, base }: { tabs: [string, string][]; current: string; base: string }) {
  return (
    <nav className="tabs" aria-label="Sections">
      {tabs.map(([key, label]) => (
        <Link key={key} to={key ? `${base}/${key}` : base} aria-current={current === key ? 'page' : undefined} className={current === key ? 'tab active' : 'tab'}>
          {label}
        </Link>
      ))}
    </nav>
  );
}

export function Badge({ children, tone = 'neutral' }: { children: ReactNode; tone?: 'neutral' | 'good' | 'bad' | 'warn' | 'info' }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

export function statusTone(s: string): 'good' | 'bad' | 'warn' | 'info' | 'neutral' {
  if (s === 'accepted' || s === 'succeeded') return 'good';
  if (s === 'rejected' || s === 'failed' || s === 'cancelled') return 'bad';
  if (s === 'pending' || s === 'queued' || s === 'validating_files') return 'warn';
  if (s === 'running') return 'info';
  return 'neutral';
}

/** Shown where a signed-in account is needed. */
export function NeedsSignIn({ what }: { what: string }) {
  return (
    <div className="card notice">
      <p>
        Sign in to {what}. <Link to="/signin">Sign in</Link>
      </p>
    </div>
  );
}
