/**
 * Which models the node serves and how a request's `model` names one. Three spellings:
 *
 *   <catalog name>          a base model from the local catalog (`openledger models list`), e.g. `tiny-llama`, `starter`
 *   ft:<base>:<suffix>:<id> a fine-tuned or imported adapter (Model Factory's `fine_tuned_model`)
 *   model:<n>               the adapter registered on chain as ModelRegistry id n
 *   ft:a+ft:b, ft:a*0.7+model:3*0.3
 *                           a dynamic merge: the adapters' deltas summed with these weights (default 1)
 *                           at request time, over their one shared base (also the `adapters` field)
 *
 * A fine-tuned model resolves to its base (catalog name or the path the factory recorded) plus
 * its adapter files. Request input is only ever matched against catalog names and recorded
 * models: it never becomes a file path.
 */
import type { ModelCatalog } from '../models/index.ts';
import type { FactoryRepo, ModelRecord } from '../factory/index.ts';
import { OpenLedgerError, invalid, notFound } from '../util/errors.ts';

export interface ServedModel {
  /** The spelling the request used (echoed in responses). */
  id: string;
  kind: 'base' | 'fine-tuned';
  /** Base model: its catalog name (or recorded path) and weights path. */
  base: { name: string; path: string };
  /** Adapter files (PEFT folder or GGUF LoRA) of a fine-tuned model; null for a base. */
  adapterPath: string | null;
  /** The fine-tuned model's name (`ft:…`); null for a base. */
  fineTunedName: string | null;
  /** ModelRegistry id when registered on chain. */
  modelId: string | null;
  /** Prices recorded at registration (OPEN wei per 1k tokens): what InferenceEscrow will charge. */
  price: { per1kInput: string; per1kOutput: string } | null;
  owner: string | null;
  /**
   * A dynamic merge: its adapters (each resolved as if named alone) and their weights; null for a
   * single model. For a merge: id = the canonical spelling, adapterPath/fineTunedName/modelId null,
   * price = the sum of the parts' prices (every applied adapter is paid), owner null.
   */
  merge: MergePart[] | null;
}

export interface MergePart {
  served: ServedModel;
  weight: number;
}

/** Most adapters in one merge (each costs a LoRA term per layer per step). */
export const MAX_MERGE = 8;

/** The adapters a usage record, an inference record or attribution names: [{model, weight}] ([] for a base). */
export function usageAdapters(s: ServedModel): Array<{ model: string; weight: number }> {
  if (s.merge) return s.merge.map((p) => ({ model: p.served.fineTunedName!, weight: p.weight }));
  return s.fineTunedName ? [{ model: s.fineTunedName, weight: 1 }] : [];
}

/** The canonical spelling of a merge: `a+b*0.5` (weight 1 left out). */
export const mergeSpelling = (parts: ReadonlyArray<{ model: string; weight: number }>) => parts.map((p) => (p.weight === 1 ? p.model : `${p.model}*${p.weight}`)).join('+');

/** One entry of GET /v1/models (OpenAI's model object plus where it comes from). */
export interface ModelView {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** Base model name for fine-tuned models (vLLM calls it `parent`); null for bases. */
  parent: string | null;
  kind: 'base' | 'fine-tuned';
  /** ModelRegistry id (callable as `model:<id>`), when registered. */
  model_id: string | null;
  context_length?: number;
  family?: string;
  price_per_1k_input?: string;
  price_per_1k_output?: string;
}

export class ModelDirectory {
  constructor(private readonly deps: { catalog: ModelCatalog; repo: FactoryRepo | null }) {}

  /**
   * `model` → what serves it. With `caller` given (serving), another owner's unregistered
   * fine-tuned model answers as if it did not exist; without (internal lookups) everything resolves.
   */
  resolve(model: unknown, caller?: string | null): ServedModel {
    if (typeof model === 'string' && /[+*]/.test(model)) return this.resolveMerge(model, caller);
    const served = this.resolveAny(model);
    if (caller !== undefined && !this.visible(served.kind === 'fine-tuned' ? { owner: served.owner ?? '', modelId: served.modelId } : null, caller)) throw this.hidden(String(model));
    return served;
  }

  /**
   * `ft:a*0.7+ft:b*0.3` → each adapter resolved (and checked visible) alone; 400 naming the part
   * for a weight that is not a finite number ≥ 0, a base model as a part, a part named twice,
   * more than MAX_MERGE parts, adapters over different bases, or weights that are all 0.
   */
  private resolveMerge(model: string, caller?: string | null): ServedModel {
    const bad = (message: string, code: string, hint: string, details?: Record<string, unknown>) => invalid(message, { param: 'model', code, hint, ...(details ? { details } : {}) });
    const raw = model.split('+');
    if (raw.length > MAX_MERGE) throw bad(`a merge names ${raw.length} adapters; at most ${MAX_MERGE}`, 'too_many_adapters', `merge at most ${MAX_MERGE} adapters`);
    const parts: MergePart[] = [];
    for (const spec of raw) {
      const star = spec.lastIndexOf('*');
      const name = (star < 0 ? spec : spec.slice(0, star)).trim();
      const wText = star < 0 ? '1' : spec.slice(star + 1).trim();
      if (!name) throw bad(`"${model}" has an empty adapter name`, 'invalid_merge', 'write ft:a+ft:b or ft:a*0.7+ft:b*0.3');
      const weight = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(wText) ? Number(wText) : NaN;
      checkWeight(name, weight, 'model', wText);
      const served = this.resolve(name, caller);
      if (served.kind !== 'fine-tuned' || !served.fineTunedName) throw bad(`${name} is a base model: only adapters (ft:…, model:<n>) merge`, 'merge_base_model', 'name the fine-tuned models to merge; their base is implied');
      if (parts.some((p) => p.served.fineTunedName === served.fineTunedName)) throw bad(`${name} is named twice in the merge`, 'duplicate_adapter', 'name each adapter once, with the sum of its weights');
      parts.push({ served, weight });
    }
    const bases = [...new Set(parts.map((p) => p.served.base.path))];
    if (bases.length > 1) {
      const list = parts.map((p) => `${p.served.id} (base ${p.served.base.name})`).join(', ');
      throw bad(`adapters of different base models cannot merge: ${list}`, 'merge_base_mismatch', 'merge only adapters fine-tuned from the same base model', { adapters: parts.map((p) => ({ model: p.served.id, base: p.served.base.name })) });
    }
    if (parts.every((p) => p.weight === 0)) throw bad('every merge weight is 0', 'invalid_merge_weight', 'give at least one adapter a weight above 0');
    const sum = (k: 'per1kInput' | 'per1kOutput') => parts.reduce((s, p) => s + BigInt(p.served.price?.[k] ?? '0'), 0n).toString();
    return {
      id: mergeSpelling(parts.map((p) => ({ model: p.served.fineTunedName!, weight: p.weight }))), kind: 'fine-tuned', base: parts[0].served.base,
      adapterPath: null, fineTunedName: null, modelId: null, owner: null, merge: parts,
      price: parts.some((p) => p.served.price) ? { per1kInput: sum('per1kInput'), per1kOutput: sum('per1kOutput') } : null,
    };
  }

  /** The 404 of a model the caller may not see (the same as for one that does not exist). */
  hidden(model: string): OpenLedgerError {
    return this.unknown(model, `no model "${model}" on this node`, null);
  }

  /** Bases and registered models are public; an unregistered fine-tuned model only for its owner. */
  private visible(rec: { owner: string; modelId: string | null } | null, caller: string | null): boolean {
    return !rec || rec.modelId !== null || (!!caller && rec.owner.toLowerCase() === caller.toLowerCase());
  }

  private resolveAny(model: unknown): ServedModel {
    if (typeof model !== 'string' || !model.trim()) {
      throw invalid('model is required', { param: 'model', code: 'model_required', hint: 'a name from GET /v1/models: a base model, ft:<base>:<suffix>:<id>, or model:<on-chain id>' });
    }
    const onChain = /^model:(\d{1,78})$/.exec(model);
    if (onChain) {
      const rec = this.deps.repo?.modelByOnChainId(BigInt(onChain[1]).toString()) ?? null;
      if (!rec) throw this.unknown(model, `no model registered on chain as id ${onChain[1]} is served by this node`);
      return this.fineTuned(model, rec);
    }
    if (model.startsWith('model:')) throw invalid(`"${model}" is not an on-chain model id`, { param: 'model', code: 'invalid_model', hint: 'write model:<n> with n the ModelRegistry id, e.g. model:3' });
    const entry = this.deps.catalog.get(model);
    if (entry) return { id: model, kind: 'base', base: { name: entry.name, path: entry.path }, adapterPath: null, fineTunedName: null, modelId: null, price: null, owner: null, merge: null };
    const rec = this.deps.repo?.model(model) ?? null;
    if (rec && rec.name === model) return this.fineTuned(model, rec);
    throw this.unknown(model, `no model "${model}" on this node`);
  }

  /** What `caller` may see (undefined: everything, for the node's own use). */
  list(caller?: string | null): ModelView[] {
    const out: ModelView[] = this.deps.catalog.list().map((m) => ({
      id: m.name, object: 'model', created: Math.floor(Date.parse(m.addedAt) / 1000) || 0, owned_by: 'node', parent: null, kind: 'base',
      model_id: null, context_length: m.contextLength, family: m.family,
    }));
    for (const r of this.deps.repo?.models() ?? []) {
      if (caller !== undefined && !this.visible(r, caller)) continue;
      out.push({
        id: r.name, object: 'model', created: r.createdAt, owned_by: r.owner, parent: r.baseModel, kind: 'fine-tuned', model_id: r.modelId,
        price_per_1k_input: r.priceInWei, price_per_1k_output: r.priceOutWei,
      });
    }
    return out;
  }

  private fineTuned(id: string, rec: ModelRecord): ServedModel {
    const adapterPath = rec.peftDir || rec.ggufPath;
    // The factory records the base as its request named it: a catalog name, or a path the node's
    // operator gave at import. Either is the node's own record, not request input.
    let base: { name: string; path: string };
    try {
      const r = this.deps.catalog.resolve(rec.baseModel);
      base = { name: r.entry?.name ?? rec.baseModel.split('/').pop()!, path: r.path };
    } catch {
      throw new OpenLedgerError(`the base model "${rec.baseModel}" of ${rec.name} is no longer on this node`, {
        type: 'not_found_error', param: 'model', code: 'base_model_missing', hint: `add it again with \`openledger models add <path> --name ${rec.baseModel}\``,
      });
    }
    return {
      id, kind: 'fine-tuned', base, adapterPath, fineTunedName: rec.name, modelId: rec.modelId,
      price: { per1kInput: rec.priceInWei, per1kOutput: rec.priceOutWei }, owner: rec.owner, merge: null,
    };
  }

  private unknown(model: string, message: string, caller: string | null = null): OpenLedgerError {
    const names = this.list(caller).map((m) => (m.model_id ? `${m.id} (model:${m.model_id})` : m.id));
    const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} in all)` : '');
    return notFound(message, {
      param: 'model', code: 'model_not_found',
      hint: names.length ? `GET /v1/models lists them: ${shown}` : 'no models yet: add a base with `openledger models add <path>`',
      details: { model },
    });
  }
}

/** A merge weight must be a finite number ≥ 0 (400 naming the adapter and the field). */
export function checkWeight(model: string, weight: number, param: string, given: unknown = weight): void {
  if (typeof weight !== 'number' || !Number.isFinite(weight)) {
    throw invalid(`the merge weight of ${model} is ${JSON.stringify(given) ?? String(given)}, not a finite number`, { param, code: 'invalid_merge_weight', hint: 'weights are numbers ≥ 0, e.g. ft:a*0.7+ft:b*0.3' });
  }
  if (weight < 0) throw invalid(`the merge weight of ${model} is ${weight}: negative weights are refused`, { param, code: 'invalid_merge_weight', hint: 'weights are numbers ≥ 0 (a negative delta subtracts an adapter; not supported)' });
}
