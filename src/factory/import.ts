/**
 * Import: an adapter trained elsewhere (a PEFT folder or a GGUF LoRA file) added to the node for a
 * base model. The engine's loaders check it strictly against the base (architecture, module
 * names, shapes: "maybe wrong base model?"), so a mismatched adapter is refused before anything
 * is recorded; then it is registered like a trained one (no datanet versions: trainedOn is empty).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { loadModel } from '../engine/index.ts';
import { loadAdapterFile } from '../engine/lora/index.ts';
import { invalid } from '../util/errors.ts';
import type { FactoryService } from './jobs.ts';
import { configHash, registerModel, type ModelCard } from './register.ts';

export interface ImportRequest {
  /** Base model: catalog name or path. */
  model: string;
  /** PEFT folder or .gguf LoRA file on the node's disk. */
  path: string;
  name?: string;
  pricePer1kInput?: bigint;
  pricePer1kOutput?: bigint;
  register?: boolean;
}

export async function importAdapter(svc: FactoryService, owner: Address, req: ImportRequest) {
  const resolved = svc.catalog.resolve(req.model);
  const model = await loadModel(resolved.path);
  const adapter = loadAdapterFile(req.path, model); // throws adapter_mismatch for another base
  const isDir = statSync(req.path).isDirectory();
  const weights = isDir ? join(req.path, 'adapter_model.safetensors') : req.path;
  const adapterHash = `0x${createHash('sha256').update(readFileSync(weights)).digest('hex')}` as Hex;
  const jobId = `import-${randomBytes(8).toString('hex')}`;
  const baseName = resolved.entry?.name ?? req.model.split('/').pop()!;
  const name = req.name ?? `ft:${baseName}:import:${jobId.slice(7, 15)}`;
  if (!/^[A-Za-z0-9:._-]{1,100}$/.test(name)) throw invalid('name must be 1–100 letters, digits or :._-', { param: 'name', code: 'invalid_name' });
  const config = { base_model: model.source.sha256, imported: { format: isDir ? 'peft' : 'gguf', sha256: adapterHash, rank: adapter.rank, alpha: adapter.alpha } };
  const card: ModelCard = {
    name, job: jobId, owner,
    base_model: { name: baseName, sha256: model.source.sha256, architecture: model.config.arch },
    adapter: { format: [isDir ? 'peft' : 'gguf'], sha256: adapterHash, gguf_sha256: isDir ? '' : adapterHash, rank: adapter.rank, alpha: adapter.alpha, target_modules: [...adapter.modules.keys()] },
    data: { datanets: [], files: [], format: 'unknown', rows: 0, train_rows: 0, eval_rows: 0, tokens: 0 },
    config, training: { steps: 0, first_loss: null, final_loss: null, seconds: 0 }, results: null,
  };
  const pin = req.pricePer1kInput ?? 0n, pout = req.pricePer1kOutput ?? 0n;
  const reg = req.register !== false && svc.deps.chain
    ? await registerModel(svc.deps.chain, svc.deps.blobs, { owner, card, baseModelSha256: model.source.sha256, adapterHash, trainedOn: [], config, pricePer1kInput: pin, pricePer1kOutput: pout })
    : null;
  svc.repo.insertModel({
    jobId, name, owner, baseModel: req.model, modelId: reg?.modelId ?? null, txHash: reg?.txHash ?? null, baseModelHash: model.source.sha256, adapterHash,
    configHash: reg?.configHash ?? configHash(config), metadataUri: reg?.metadataURI ?? '', peftDir: isDir ? req.path : '', ggufPath: isDir ? '' : req.path,
    priceInWei: pin.toString(), priceOutWei: pout.toString(),
  });
  return { id: jobId, name, model_id: reg?.modelId ?? null, tx_hash: reg?.txHash ?? null, adapter_hash: adapterHash, modules: adapter.modules.size };
}
