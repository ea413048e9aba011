/**
 * ModelRegistry.registerModel / registerModelFor: record a fine-tuned model (base model hash,
 * adapter hash, the exact datanet versions it was trained on, config hash, prices per 1k tokens).
 */
import type { Address, Hex } from 'viem';
import type { Chain } from '../types.ts';
import { call, eventArgs, txResult, type Signer, type TxResult } from './common.ts';

export interface RegisterModelParams extends Signer {
  baseModelHash: Hex;
  adapterHash: Hex;
  trainedOn: { datanetId: bigint; version: bigint }[];
  trainingConfigHash: Hex;
  metadataURI: string;
  /** OPEN wei per 1,000 input / output tokens. */
  pricePer1kInput: bigint;
  pricePer1kOutput: bigint;
  /** Register for this owner (registerModelFor, operator only). */
  owner?: Address;
}

export interface RegisterModelResult extends TxResult {
  modelId: bigint;
  owner: Address;
}

export async function registerModel(chain: Chain, p: RegisterModelParams): Promise<RegisterModelResult> {
  const tail = [
    p.baseModelHash,
    p.adapterHash,
    p.trainedOn.map((t) => ({ datanetId: t.datanetId, version: t.version })),
    p.trainingConfigHash,
    p.metadataURI,
    p.pricePer1kInput,
    p.pricePer1kOutput,
  ] as const;
  const r = p.owner
    ? await call(chain, 'ModelRegistry', 'registerModelFor', [p.owner, ...tail], p.account)
    : await call(chain, 'ModelRegistry', 'registerModel', tail, p.account);
  const e = eventArgs<{ modelId: bigint; owner: Address }>(chain, r, 'ModelRegistry', 'ModelRegistered');
  return { ...txResult(r), modelId: e.modelId, owner: e.owner };
}

export const registerModelFor = (chain: Chain, p: RegisterModelParams & { owner: Address }) => registerModel(chain, p);
