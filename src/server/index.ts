export { buildApp, type AppOptions } from './app.ts';
export type { NodeServices } from './context.ts';
export { callerOf, requireCaller } from './context.ts';
export { toErrorBody } from './errors.ts';
