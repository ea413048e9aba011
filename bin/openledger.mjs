#!/usr/bin/env node
// The `openledger` command. Node 20 cannot run TypeScript, so register tsx's loader in-process
// (no child process: SIGTERM reaches the node itself) and hand over to the CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
