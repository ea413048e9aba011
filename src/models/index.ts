export { ModelCatalog, type ModelEntry } from './catalog.ts';
