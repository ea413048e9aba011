// The engine thread's entry (plain JS: a worker starts without the parent's TypeScript loader,
// so it registers tsx itself, as the factory's training thread does) — see engine-thread.ts.
import { register } from 'tsx/esm/api';
register();
await import('./engine-worker.ts');
