// The attribution thread's entry (plain JS: a worker starts without the parent's TypeScript
// loader, so it registers tsx itself, as src/factory/training-worker.mjs does) — see queue.ts.
import { register } from 'tsx/esm/api';
register();
await import('./worker.ts');
