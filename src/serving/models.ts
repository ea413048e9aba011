/**
 * Which models the node serves and how a request's `model` names one. Three spellings:
 *
 *   <catalog name>          a base model from the local catalog (`openledger models list`), e.g. `tiny-llama`, `starter`
 *   ft:<base>:<suffix>:<id> a fine-tuned or imported adapter (Model Factory's `fine_tuned_model`)
 *   model:<n>               the adapter registered on chain as ModelRegistry id n
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
}

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
    const served = this.resolveAny(model);
    if (caller !== undefined && !this.visible(served.kind === 'fine-tuned' ? { owner: served.owner ?? '', modelId: served.modelId } : null, caller)) throw this.hidden(String(model));
    return served;
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
    if (entry) return { id: model, kind: 'base', base: { name: entry.name, path: entry.path }, adapterPath: null, fineTunedName: null, modelId: null, price: null, owner: null };
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
      price: { per1kInput: rec.priceInWei, per1kOutput: rec.priceOutWei }, owner: rec.owner,
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
