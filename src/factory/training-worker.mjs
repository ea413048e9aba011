// The training thread's entry (plain JS: a worker starts without the parent's TypeScript loader,
// so it registers tsx itself, as bin/openledger.mjs does) — see training.ts.
import { register } from 'tsx/esm/api';
register();
await import('./training-worker.ts');
