// Worker-thread entry: workers do not inherit tsx's loader from the main thread (the CLI registers
// it in-process), so register it here before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
