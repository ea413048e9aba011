/** Sign-in: an injected wallet (SIWE), or on the embedded chain one click on a dev account. */
import { useState } from 'react';
import { get } from '../api';
import { navigate } from '../router';
import { useSession } from '../session';
import { ErrorBox, Hash, Loading, open, useAsync } from '../ui';
import { connectInjected, devSigner, injectedProvider, siweSignIn, switchChain, type Signer } from '../wallet';

interface Account {
  address: `0x${string}`;
  role: string;
  open: string;
}

export function SignIn() {
  const { status, session, signedIn, signOut } = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const dev = useAsync(async () => (status?.embeddedChain ? ((await get('/v1/accounts')).data as Account[]).filter((a) => a.role === 'dev') : []), [status?.embeddedChain]);

  async function go(kind: 'injected' | 'dev', make: () => Promise<Signer>, label: string) {
    setBusy(label);
    setError(null);
    try {
      const signer = await make();
      const r = await siweSignIn(signer);
      signedIn({ token: r.token, address: r.address, kind, expiresAt: r.expiresAt });
      navigate(new URLSearchParams(location.search).get('next') ?? '/datanets');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  }

  if (!status) return <Loading what="Reading the node's status" />;
  const wrongChain = (error as { code?: string } | null)?.code === 'wrong_chain';
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      {session && (
        <div className="card">
          <p>
            Signed in as <Hash value={session.address} label="address" /> ({session.kind === 'dev' ? 'dev account' : 'browser wallet'}).
          </p>
          <button type="button" className="secondary" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      )}
      <ErrorBox error={error}>
        {wrongChain && (
          <button type="button" onClick={() => switchChain(status.chainId, status.rpcUrl).then(() => setError(null), setError)}>
            Switch wallet to chain {status.chainId}
          </button>
        )}
      </ErrorBox>
      <div className="card">
        <h2>Browser wallet</h2>
        <p>Sign a Sign-In with Ethereum message (no transaction, no fee) for chain {status.chainId}.</p>
        {injectedProvider() ? null : <p className="muted">No wallet extension was found in this browser.</p>}
        <button type="button" disabled={!!busy} onClick={() => go('injected', () => connectInjected(status.chainId), 'wallet')}>
          {busy === 'wallet' ? 'Waiting for the wallet…' : 'Connect wallet and sign in'}
        </button>
      </div>
      {status.embeddedChain && (
        <div className="card">
          <h2>Dev accounts</h2>
          <p>This node runs the embedded dev chain: its funded dev accounts sign in with one click (the node signs for them).</p>
          {dev.error && <ErrorBox error={dev.error} />}
          {dev.loading && <Loading what="Listing dev accounts" />}
          <ul className="accounts">
            {dev.data?.map((a, i) => (
              <li key={a.address}>
                <button type="button" disabled={!!busy} onClick={() => go('dev', async () => devSigner(a.address), a.address)} aria-label={`Sign in as dev account ${i + 1}, ${a.address}`}>
                  Dev account {i + 1}
                </button>{' '}
                <code className="small">{a.address}</code> <span className="muted small">{open(a.open)}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
