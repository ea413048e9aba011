import { OpenLedgerError, notFound } from '../util/errors.ts';

/*
 * DA failures. An unreachable or failing backend is an upstream failure like an RPC error, so it maps
 * to `chain_error` (502) with a `da_*` code; input the backend refuses maps to 4xx.
 */

export const daUnavailable = (message: string, hint: string, cause?: unknown) =>
  new OpenLedgerError(message, { type: 'chain_error', code: 'da_unavailable', hint, cause });

export const daIntegrity = (id: string, got: string) =>
  new OpenLedgerError(`blob ${id} failed its content check: the backend returned bytes hashing to ${got}`, {
    type: 'chain_error',
    code: 'da_integrity_error',
    hint: 'the DA backend returned different bytes than were stored; check the backend (or the local blob directory) for corruption',
    details: { id, got },
  });

export const blobNotFound = (ref: string, hint = 'check the id or commitment; blobs on EigenDA are kept for about two weeks') =>
  notFound(`blob ${ref} not found`, { code: 'blob_not_found', param: 'id', hint });

export const blobTooLarge = (size: number, max: number) =>
  new OpenLedgerError(`blob of ${size} bytes is larger than the DA backend's limit of ${max} bytes`, {
    type: 'payload_too_large',
    code: 'blob_too_large',
    hint: 'split the data into smaller blobs, or raise the limit of the blob store',
    details: { size, max },
  });
