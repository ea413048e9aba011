/** The shell: header with navigation, session and theme; the page for the current path. */
import { Component, useEffect, useRef, useState, type ReactNode } from 'react';
import { SessionProvider, useSession } from './session';
import { Link, match, useLocation } from './router';
import { ErrorBox, Hash } from './ui';
import { Home } from './pages/home';
import { SignIn } from './pages/signin';
import { DatanetList } from './pages/datanets';
import { CreateDatanet } from './pages/create-datanet';
import { DatanetPage } from './pages/datanet';
import { Factory } from './pages/factory';
import { JobPage, JobList } from './pages/job';
import { Playground } from './pages/playground';
import { Models } from './pages/models';
import { Wallet } from './pages/wallet';

type Theme = 'system' | 'light' | 'dark';

function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('openledger.theme') as Theme) || 'system');
  useEffect(() => {
    if (theme === 'system') document.documentElement.removeAttribute('data-theme');
    else document.documentElement.setAttribute('data-theme', theme);
    localStorage.setItem('openledger.theme', theme);
  }, [theme]);
  return [theme, setTheme];
}

const NAV: [string, string][] = [
  ['/datanets', 'Datanets'],
  ['/factory', 'Model Factory'],
  ['/playground', 'Playground'],
  ['/models', 'Models'],
  ['/wallet', 'Wallet'],
];

function Header() {
  const { session, signOut, status } = useSession();
  const { path } = useLocation();
  const [theme, setTheme] = useTheme();
  const [menu, setMenu] = useState(false);
  useEffect(() => setMenu(false), [path]);
  return (
    <header className="top">
      <Link to="/" className="brand">
        <span className="logo" aria-hidden="true">L</span> OpenLedger <span className="muted">studio</span>
      </Link>
      <button type="button" className="menu-toggle" aria-expanded={menu} aria-controls="main-nav" onClick={() => setMenu(!menu)}>
        Menu
      </button>
      <nav id="main-nav" className={menu ? 'main-nav open' : 'main-nav'} aria-label="Main">
        {NAV.map(([to, label]) => (
          <Link key={to} to={to} aria-current={path === to || path.startsWith(to + '/') ? 'page' : undefined}>
            {label}
          </Link>
        ))}
      </nav>
      <div className="who">
        <label className="theme">
          <span className="sr-only">Theme</span>
          <select value={theme} onChange={(e) => setTheme(e.target.value as Theme)} aria-label="Theme">
            <option value="system">Auto theme</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        {session ? (
          <>
            <Hash value={session.address} label="signed in as" />
            <button type="button" className="secondary" onClick={() => void signOut()}>
              Sign out
            </button>
          </>
        ) : (
          <Link to="/signin" className="button">
            Sign in
          </Link>
        )}
      </div>
      {status && (
        <p className="chain-line small muted">
          chain {status.chainId}
          {status.embeddedChain ? ' (embedded dev chain)' : ''} · block {status.blockNumber} · node {status.version}
        </p>
      )}
    </header>
  );
}

function Page() {
  const { path } = useLocation();
  let m: Record<string, string> | null;
  if (path === '/') return <Home />;
  if (path === '/signin') return <SignIn />;
  if (path === '/datanets') return <DatanetList />;
  if (path === '/datanets/new') return <CreateDatanet />;
  if ((m = match('/datanets/:id/:tab?', path))) return <DatanetPage id={Number(m.id)} tab={m.tab ?? ''} />;
  if (path === '/factory') return <Factory />;
  if (path === '/factory/jobs') return <JobList />;
  if ((m = match('/factory/jobs/:id', path))) return <JobPage id={m.id} />;
  if (path === '/playground') return <Playground />;
  if (path === '/models') return <Models />;
  if (path === '/wallet') return <Wallet />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link to="/">Go to the start</Link>.
      </p>
    </section>
  );
}

/** A render error shows a message instead of a blank page. */
class Boundary extends Component<{ children: ReactNode; path: string }, { error: unknown }> {
  state = { error: null as unknown };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  componentDidUpdate(prev: { path: string }) {
    if (prev.path !== this.props.path && this.state.error) this.setState({ error: null });
  }
  render() {
    if (this.state.error) {
      return (
        <ErrorBox error={{ message: `This page failed to render: ${(this.state.error as Error).message}`, hint: 'Reload the page; if it happens again, report it with the steps.' }} />
      );
    }
    return this.props.children;
  }
}

const TITLES: [RegExp, string][] = [
  [/^\/$/, 'Start'],
  [/^\/signin$/, 'Sign in'],
  [/^\/datanets\/new$/, 'Create a datanet'],
  [/^\/datanets\/\d+/, 'Datanet'],
  [/^\/datanets$/, 'Datanets'],
  [/^\/factory\/jobs\/.+/, 'Fine-tuning job'],
  [/^\/factory\/jobs$/, 'Your jobs'],
  [/^\/factory$/, 'Model Factory'],
  [/^\/playground$/, 'Playground'],
  [/^\/models$/, 'Models'],
  [/^\/wallet$/, 'Wallet'],
];

function Shell() {
  const { path } = useLocation();
  const { statusError, refreshStatus } = useSession();
  const first = useRef(true);
  useEffect(() => {
    document.title = `${TITLES.find(([re]) => re.test(path))?.[1] ?? 'Not found'} · OpenLedger studio`;
    // after a client-side navigation, screen readers and keyboards start at the new page's content
    if (first.current) first.current = false;
    else {
      document.getElementById('main')?.focus({ preventScroll: true });
      refreshStatus();
    }
  }, [path]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        {statusError && <ErrorBox error={statusError} />}
        <Boundary path={path}>
          <Page />
        </Boundary>
      </main>
      <footer className="muted small">
        OpenLedger node · <a href="/docs">API docs</a> · <a href="/openapi.json">OpenAPI</a>
      </footer>
    </>
  );
}

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}
