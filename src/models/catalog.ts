/**
 * The local model catalog: base models this node can run, by name. `openledger models add`
 * inspects a model folder or GGUF file with the engine's own checks (config against tensor
 * shapes, supported types, a working tokenizer), records its weight hash and shape, and stores
 * the entry in `<dataDir>/models/catalog.json` (atomic replace). The file, not the store, holds
 * it so that CLI commands can use it while a node holds the data-dir lock.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { inspectModel, type ModelInfo } from '../engine/model/inspect.ts';
import { configError, invalid, notFound } from '../util/errors.ts';
import { STARTER_DIR, STARTER_NAME, starterShipped } from './starter-files.ts';

const entrySchema = z.object({
  name: z.string(),
  path: z.string(),
  format: z.enum(['gguf', 'safetensors']),
  family: z.string(),
  arch: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  weightBytes: z.number().int().nonnegative(),
  layers: z.number().int(),
  dModel: z.number().int(),
  vocabSize: z.number().int(),
  contextLength: z.number().int(),
  dtypes: z.record(z.string(), z.number()),
  chatTemplate: z.boolean(),
  addedAt: z.string(),
});
export type ModelEntry = z.infer<typeof entrySchema>;
const catalogSchema = z.object({
  version: z.literal(1),
  models: z.array(entrySchema),
  /** Names the user removed on purpose: a model the node registers by default (`starter`) stays removed. */
  removed: z.array(z.string()).optional(),
});
type CatalogFile = z.infer<typeof catalogSchema>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

export class ModelCatalog {
  readonly path: string;
  constructor(dataDir: string) {
    this.path = join(dataDir, 'models', 'catalog.json');
  }

  list(): ModelEntry[] {
    return this.read().models;
  }

  /** Whether `name` was removed with `remove` (and not added again since). */
  wasRemoved(name: string): boolean {
    return this.read().removed?.includes(name) ?? false;
  }

  private read(): CatalogFile {
    if (!existsSync(this.path)) return { version: 1, models: [] };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch (e) {
      throw configError(`model catalog ${this.path} is not valid JSON: ${(e as Error).message}`, {
        code: 'catalog_corrupt',
        hint: 'restore it, or remove it and add the models again',
      });
    }
    const r = catalogSchema.safeParse(raw);
    if (!r.success) throw configError(`model catalog ${this.path} has an unexpected shape`, { code: 'catalog_corrupt', hint: 'remove it and add the models again' });
    return r.data;
  }

  get(name: string): ModelEntry | undefined {
    return this.list().find((m) => m.name === name);
  }

  /**
   * A catalog name only (the API: no request field becomes a path). The error names the known
   * models and never a path on the node's disk.
   */
  resolveName(name: string): { path: string; entry?: ModelEntry } {
    const entry = this.get(name);
    if (entry) return { path: entry.path, entry };
    if (name === STARTER_NAME && starterShipped() && !this.wasRemoved(STARTER_NAME)) return { path: STARTER_DIR };
    const names = this.list().map((m) => m.name);
    throw notFound(`no model ${JSON.stringify(name.slice(0, 100))} in this node's catalog`, {
      param: 'model',
      code: 'model_not_found',
      hint: names.length ? `use a catalog name: ${names.slice(0, 20).join(', ')}` : 'the node operator adds base models with `openledger models add <path>`',
    });
  }

  /** A catalog name, or a path to a model folder / .gguf file (the local CLI only, never the API). */
  resolve(nameOrPath: string): { path: string; entry?: ModelEntry } {
    const entry = this.get(nameOrPath);
    if (entry) return { path: entry.path, entry };
    if (existsSync(nameOrPath)) return { path: resolve(nameOrPath) };
    // The shipped starter resolves even where no node has registered it yet (a fresh data dir used
    // by a CLI command alone) — unless the user removed it on purpose.
    if (nameOrPath === STARTER_NAME && starterShipped() && !this.wasRemoved(STARTER_NAME)) return { path: STARTER_DIR };
    const names = this.list().map((m) => m.name);
    throw notFound(`no model "${nameOrPath}" in the catalog and no such file or folder`, {
      param: 'model',
      code: 'model_not_found',
      hint: names.length ? `known models: ${names.join(', ')}; or pass a path` : 'add one with `openledger models add <path>`',
    });
  }

  /** `replace`: overwrite an entry of that name even if its weights differ (a newer shipped starter). */
  async add(path: string, name?: string, opts: { replace?: boolean } = {}): Promise<ModelEntry> {
    const abs = resolve(path);
    if (!existsSync(abs)) throw invalid(`${abs} does not exist`, { param: 'path', hint: 'pass a model folder (config.json + *.safetensors + tokenizer.json) or a .gguf file' });
    const info: ModelInfo = await inspectModel(abs);
    const n = name ?? basename(abs).replace(/\.gguf$/i, '');
    if (!NAME.test(n)) throw invalid(`"${n}" is not a valid model name`, { param: 'name', hint: 'use letters, digits, . _ : - (up to 100), e.g. --name qwen2.5-0.5b' });
    const models = this.list();
    if (!opts.replace && models.some((m) => m.name === n && m.sha256 !== info.sha256)) {
      throw invalid(`a different model is already registered as "${n}"`, { param: 'name', code: 'model_exists', hint: 'pick another --name, or `openledger models remove` the old one' });
    }
    const entry: ModelEntry = {
      name: n,
      path: abs,
      format: info.format,
      family: info.family,
      arch: info.arch,
      sha256: info.sha256,
      weightBytes: info.weightBytes,
      layers: info.config.nLayers,
      dModel: info.config.dModel,
      vocabSize: info.config.vocabSize,
      contextLength: info.config.contextLength,
      dtypes: info.dtypes as Record<string, number>,
      chatTemplate: info.chatTemplate,
      addedAt: new Date().toISOString(),
    };
    this.write([...models.filter((m) => m.name !== n), entry], this.removedNames().filter((r) => r !== n));
    return entry;
  }

  remove(name: string): void {
    const models = this.list();
    if (!models.some((m) => m.name === name)) throw notFound(`no model "${name}" in the catalog`, { param: 'name', code: 'model_not_found' });
    this.write(models.filter((m) => m.name !== name), [...this.removedNames().filter((r) => r !== name), name]);
  }

  private removedNames(): string[] {
    return this.read().removed ?? [];
  }

  private write(models: ModelEntry[], removed: string[]): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const file: CatalogFile = { version: 1, models, ...(removed.length ? { removed } : {}) };
    writeFileSync(tmp, JSON.stringify(file, null, 2) + '\n');
    renameSync(tmp, this.path);
  }
}
