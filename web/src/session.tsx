/**
 * The signed-in session: token + address + how it signs, kept in localStorage so a reload keeps
 * it; checked against GET /v1/auth/session on load; sign-out ends it on the node too.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, get, post, setOnExpired, setToken, type NodeStatus } from './api';
import { devSigner, injectedProvider, injectedSigner, type Signer } from './wallet';

interface Stored {
  token: string;
  address: `0x${string}`;
  kind: 'injected' | 'dev';
  expiresAt: string;
}

interface SessionValue {
  status: NodeStatus | null;
  statusError: ApiError | null;
  session: Stored | null;
  /** How the signed-in account signs (typed data for contributions). */
  signer: Signer | null;
  signedIn(s: Stored): void;
  signOut(): Promise<void>;
  /** Reads /v1/status again (the header's block number; the error banner when the node is gone). */
  refreshStatus(): void;
}

const KEY = 'openledger.session';
const Ctx = createContext<SessionValue | null>(null);

function load(): Stored | null {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Stored | null;
    if (!s || Date.parse(s.expiresAt) < Date.now()) return null;
    return s;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Stored | null>(() => {
    const s = load();
    setToken(s?.token ?? null);
    return s;
  });
  const [status, setStatus] = useState<NodeStatus | null>(null);
  const [statusError, setStatusError] = useState<ApiError | null>(null);

  useEffect(() => {
    // the node refused the token: forget it (the page shows the error with "sign in again")
    setOnExpired(() => {
      localStorage.removeItem(KEY);
      setToken(null);
      setSession(null);
    });
    get<NodeStatus>('/v1/status').then(setStatus, (e) => setStatusError(e as ApiError));
    if (session) {
      get('/v1/auth/session').catch((e: ApiError) => {
        if (e.status === 401) {
          localStorage.removeItem(KEY);
          setToken(null);
          setSession(null);
        }
      });
    }
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const signedIn = useCallback((s: Stored) => {
    localStorage.setItem(KEY, JSON.stringify(s));
    setToken(s.token);
    setSession(s);
  }, []);

  const signOut = useCallback(async () => {
    await post('/v1/auth/logout').catch(() => undefined);
    localStorage.removeItem(KEY);
    setToken(null);
    setSession(null);
  }, []);

  const refreshStatus = useCallback(() => {
    get<NodeStatus>('/v1/status').then(
      (st) => {
        setStatus(st);
        setStatusError(null);
      },
      (e) => setStatusError(e as ApiError),
    );
  }, []);

  const signer = useMemo<Signer | null>(() => {
    if (!session) return null;
    if (session.kind === 'dev') return devSigner(session.address);
    const eth = injectedProvider();
    return eth ? injectedSigner(eth, session.address) : null;
  }, [session]);

  return <Ctx.Provider value={{ status, statusError, session, signer, signedIn, signOut, refreshStatus }}>{children}</Ctx.Provider>;
}

export function useSession(): SessionValue {
  const v = useContext(Ctx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}
