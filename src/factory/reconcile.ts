/**
 * Start-up reconciliation of registered models with ModelRegistry (see src/datanets/reconcile.ts
 * for the why). Registration puts the model card in DA before `registerModelFor`, and the card names
 * the job (`job`), so a ModelRegistered event the store has no model for is matched to its job:
 *
 *   chain has ModelRegistered(id, owner, …, uri)  store lacks model id   →  factory_models row from
 *   the card (name, owner, hashes, prices); a trained job that was interrupted re-runs from its last
 *   checkpoint, finds this row and does not register a second time (jobs.ts).
 *
 * Store ahead of chain (a model id the chain does not have: an old state file) → the registration
 * is cleared, the model stays usable locally and can be registered again.
 */
import { readContract, artifacts, type Chain } from '../chain/index.ts';
import type { BlobStore, Hex } from '../da/index.ts';
import type { ChainIndexRepo, Db } from '../store/index.ts';
import { FactoryRepo } from './repo.ts';
import { configHash } from './register.ts';
import { importDir } from './import.ts';

export interface ModelReconcileDeps {
  db: Db;
  chain: Chain;
  chainIndex: ChainIndexRepo;
  blobs: BlobStore;
  dataDir: string;
  log?: (line: string) => void;
}

export async function reconcileModels(deps: ModelReconcileDeps): Promise<{ rebuilt: number; rolledBack: number }> {
  const repo = new FactoryRepo(deps.db);
  const say = deps.log ?? (() => {});
  let rebuilt = 0, rolledBack = 0;
  const count = await readContract<bigint>(deps.chain, { contract: 'ModelRegistry', address: deps.chain.addresses.contracts.ModelRegistry, abi: artifacts.ModelRegistry.abi, functionName: 'modelCount', args: [] });
  for (const m of repo.models()) {
    if (m.modelId !== null && BigInt(m.modelId) > count) {
      repo.clearRegistration(m.jobId);
      rolledBack++;
      say(`reconcile: model ${m.name} names ModelRegistry id ${m.modelId}, which the chain does not have; registration cleared`);
    }
  }
  let from = 0n;
  for (;;) {
    const page = deps.chainIndex.events({ contract: 'ModelRegistry', event: 'ModelRegistered', fromBlock: from, limit: 5_000 });
    for (const e of page) {
      const modelId = String(e.args.modelId);
      if (repo.modelByOnChainId(modelId)) continue;
      const uri = String(e.args.metadataURI ?? '');
      const m = /^da:\/\/(0x[0-9a-fA-F]+)$/.exec(uri);
      if (!m) continue;
      let card: { name?: string; job?: string; owner?: string; base_model?: { name?: string; sha256?: string }; adapter?: { sha256?: string }; config?: unknown };
      try {
        card = JSON.parse(new TextDecoder().decode(await deps.blobs.get(m[1] as Hex)));
      } catch {
        continue; // not a card this node wrote
      }
      if (typeof card.job !== 'string' || typeof card.name !== 'string') continue;
      const job = repo.job(card.job);
      if (!job && !card.job.startsWith('import-')) continue;
      const prior = repo.model(card.job);
      repo.insertModel({
        jobId: card.job, name: card.name, owner: String(e.args.owner), baseModel: job?.model ?? prior?.baseModel ?? card.base_model?.name ?? '',
        modelId, txHash: e.txHash, baseModelHash: String(card.base_model?.sha256 ?? ''), adapterHash: String(card.adapter?.sha256 ?? ''),
        configHash: configHash(card.config ?? {}), metadataUri: uri, peftDir: prior?.peftDir ?? '', ggufPath: prior?.ggufPath ?? importedPath(card.job, deps),
        priceInWei: String(e.args.pricePer1kInput ?? '0'), priceOutWei: String(e.args.pricePer1kOutput ?? '0'),
      });
      rebuilt++;
      say(`reconcile: model ${modelId} (${card.name}) was registered on chain (tx ${e.txHash}) but not recorded; recorded from its model card`);
    }
    if (page.length < 5_000) break;
    from = page[page.length - 1].blockNumber + 1n;
  }
  return { rebuilt, rolledBack };
}

/** Imported adapters are copied to <dataDir>/factory/imports/<id>/adapter.gguf before they are registered. */
function importedPath(jobId: string, deps: ModelReconcileDeps): string {
  return jobId.startsWith('import-') ? importDir(deps.dataDir, jobId) + '/adapter.gguf' : '';
}
