export { ModelCatalog, type ModelEntry } from './catalog.ts';
export { STARTER_NAME, STARTER_DIR, ensureStarterModel, verifyStarter, readStarterCard, starterShipped, writeStarterGguf, type StarterCard, type StarterRegistration } from './starter.ts';
