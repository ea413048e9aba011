/**
 * Import: an adapter trained elsewhere (a GGUF LoRA, uploaded with POST /v1/files purpose=adapter)
 * added to the node for a base model from the catalog. No request field is a path on the node. The engine's loaders check it strictly against the base (architecture, module
 * names, shapes: "maybe wrong base model?"), so a mismatched adapter is refused before anything
 * is recorded; then it is registered like a trained one (no datanet versions: trainedOn is empty).
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { loadModel } from '../engine/index.ts';
import { loadAdapterFile } from '../engine/lora/index.ts';
import { OpenLedgerError, invalid } from '../util/errors.ts';
import type { FactoryService } from './jobs.ts';
import { configHash, registerModel, type ModelCard } from './register.ts';

export interface ImportRequest {
  /** Base model: a catalog name (never a path). */
  model: string;
  /** A file id from POST /v1/files with purpose=adapter (a GGUF LoRA). */
  file: string;
  name?: string;
  pricePer1kInput?: bigint;
  pricePer1kOutput?: bigint;
  register?: boolean;
}

/** Where an imported adapter lives: <dataDir>/factory/imports/<id>/ (copied there before registration). */
export const importDir = (dataDir: string, jobId: string) => join(dataDir, 'factory', 'imports', jobId);

export async function importAdapter(svc: FactoryService, owner: Address, req: ImportRequest) {
  if (typeof req.file !== 'string' || !/^file-[A-Za-z0-9]{1,64}$/.test(req.file)) {
    throw invalid('file must be the id of an adapter you uploaded', { param: 'file', code: 'invalid_request', hint: 'upload the GGUF LoRA with POST /v1/files (purpose=adapter) and pass its id, e.g. "file-…"' });
  }
  const upload = svc.file(owner, req.file); // 404 unless the caller uploaded it
  if (upload.purpose !== 'adapter') {
    throw invalid(`${req.file} was uploaded as ${upload.purpose} data, not as an adapter`, { param: 'file', code: 'invalid_adapter_file', hint: 'upload the GGUF LoRA with purpose=adapter' });
  }
  const resolved = svc.catalog.resolveName(req.model); // catalog names only
  const model = await loadModel(resolved.path);
  let adapter;
  try {
    adapter = loadAdapterFile(upload.path, model); // throws adapter_mismatch for another base
  } catch (e) {
    // The loader's message may name the file on disk: say what is wrong with the upload instead.
    const err = e instanceof OpenLedgerError ? e : null;
    throw new OpenLedgerError(`${req.file} is not a LoRA adapter for ${req.model}${err ? `: ${err.message.split(upload.path).join(req.file)}` : ''}`, {
      type: err?.type ?? 'invalid_request_error', param: 'file', code: err?.code ?? 'invalid_adapter_file', hint: err?.hint ?? 'upload a GGUF LoRA trained on this base model (maybe wrong base model?)',
    });
  }
  const adapterHash = `0x${createHash('sha256').update(readFileSync(upload.path)).digest('hex')}` as Hex;
  const jobId = `import-${randomBytes(8).toString('hex')}`;
  const isDir = false;
  // The adapter's own copy first: a crash after the registration below can be recorded at start-up
  // from the model card and this file (reconcile.ts).
  const dir = importDir(svc.deps.dataDir, jobId);
  mkdirSync(dir, { recursive: true });
  const adapterPath = join(dir, 'adapter.gguf');
  copyFileSync(upload.path, adapterPath);
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
    configHash: reg?.configHash ?? configHash(config), metadataUri: reg?.metadataURI ?? '', peftDir: '', ggufPath: adapterPath,
    priceInWei: pin.toString(), priceOutWei: pout.toString(),
  });
  return { id: jobId, name, model_id: reg?.modelId ?? null, tx_hash: reg?.txHash ?? null, adapter_hash: adapterHash, modules: adapter.modules.size };
}
