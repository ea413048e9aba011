/**
 * Contribute: parse (worker thread) → EIP-712 signature (one per upload) → quota → validate + dedup
 * (yielding) → raw bytes to DA (sealed for approval / paid datanets) → rows stored all or nothing,
 * in chunks that leave the event loop free. Uploads to one datanet are serialised (dedup must see
 * every earlier row); other datanets and other requests keep going.
 */
import { getAddress, type Address } from 'viem';
import type { Hex } from '../da/index.ts';
import { OpenLedgerError, forbidden, invalid } from '../util/errors.ts';
import type { DatanetContext } from './context.ts';
import { signatureFromBytes, signatureToBytes } from './minhash.ts';
import { fileKindOf, tooLarge } from './parse/index.ts';
import { canContribute, checkQuota, initialStatus, utcDayStart } from './policy.ts';
import type { DatanetRecord } from './repo.ts';
import { contributionTypedDataJson, verifyContribution } from './signature.ts';
import { prepareRows, type PreparedUpload } from './upload.ts';
import { buildReport, emptyExisting, validateRecords, type ExistingRows, type UploadReport } from './validate.ts';
import type { ContributeInput, ContributionSource } from './views.ts';

/** Rows written per store transaction of an upload (between two yields to the event loop). */
const ROW_CHUNK = 500;

const replayed = (nonce: bigint) =>
  new OpenLedgerError(`nonce ${nonce} was already used for an upload to this datanet`, {
    type: 'conflict_error',
    code: 'nonce_reused',
    param: 'nonce',
    hint: 'a signed upload is accepted once; sign again with a fresh nonce',
  });

export async function prepareUpload(s: DatanetContext, d: DatanetRecord, source: ContributionSource): Promise<{ prepared: PreparedUpload; bytes: Uint8Array; filename: string; kind: string }> {
  if (source.kind === 'file') {
    if (source.bytes.byteLength > s.limits.maxUploadBytes) throw tooLarge(source.filename, source.bytes.byteLength, s.limits.maxUploadBytes);
    const kind = fileKindOf(source.filename);
    return { prepared: await s.parser.prepareFile(source.bytes, source.filename, d.format, s.limits), bytes: source.bytes, filename: source.filename, kind };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(source.rows));
  if (bytes.byteLength > s.limits.maxUploadBytes) throw tooLarge('rows', bytes.byteLength, s.limits.maxUploadBytes);
  return { prepared: await s.parser.prepareRows(source.rows, d.format, s.limits), bytes, filename: 'rows.json', kind: 'rows' };
}

/**
 * Step one for wallets: parse the upload and return what to sign (EIP-712 typed data with the
 * rows root, a fresh nonce and a deadline). Stores nothing.
 */
export async function prepareContribution(s: DatanetContext, id: number, contributor: Address, source: ContributionSource, ttlSeconds = 3600) {
  const d = s.record(id);
  const { prepared, filename } = await prepareUpload(s, d, source);
  // The report the upload would get now (same checks as contribute, against the live rows), so a
  // wallet user sees accepted and rejected rows before signing. Advisory: contribute re-checks.
  const checked = await validateRecords(prepared.records, existingRows(s, id), { format: d.format, labels: d.labels ?? undefined, limits: s.limits });
  const report = buildReport(filename, d.format, checked, initialStatus(s.policies(d).validation));
  const nonce = BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000));
  const message = {
    contributor: getAddress(contributor),
    datanetId: BigInt(id),
    rowsRoot: prepared.rowsRoot,
    rowCount: BigInt(prepared.rowHashes.length),
    nonce,
    deadline: BigInt(s.now() + ttlSeconds),
  };
  return { rowsRoot: prepared.rowsRoot, rowCount: prepared.rowHashes.length, records: prepared.records.length, report, typedData: contributionTypedDataJson(s.domain, message) };
}

/** Validates and stores one signed upload, all or nothing; returns its report. */
export async function contribute(s: DatanetContext, id: number, input: ContributeInput): Promise<UploadReport & { uploadId: number; blobId: Hex; rowsRoot: Hex }> {
  const d = s.record(id);
  const policies = s.policies(d);
  const contributor = getAddress(input.contributor);

  const facts = await s.facts(id, contributor);
  if (!canContribute(policies, facts)) {
    throw forbidden(`${contributor} cannot contribute to datanet ${id}: it requires approval`, {
      code: 'no_write_access',
      hint: 'ask the datanet owner to grant you access (POST /v1/datanets/:id/access)',
    });
  }
  if (input.deadline > BigInt(s.now() + 30 * 86400)) {
    throw invalid('the signature deadline is more than 30 days away', { param: 'deadline', code: 'deadline_too_far', hint: 'sign with a deadline within 30 days (prepare suggests one hour)' });
  }
  const { prepared, bytes, filename, kind } = await prepareUpload(s, d, input.source);
  await verifyContribution(
    s.domain,
    { contributor, datanetId: BigInt(id), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce: input.nonce, deadline: input.deadline },
    input.signature,
    s.now(),
  );

  return s.locked(id, async () => {
    if (s.repo.nonceUsed(id, contributor, input.nonce.toString())) throw replayed(input.nonce);
    checkQuota(policies.quota, s.repo.usage(id, contributor, utcDayStart(s.now())), bytes.byteLength);

    const existing = existingRows(s, id);
    const checked = await validateRecords(prepared.records, existing, { format: d.format, labels: d.labels ?? undefined, limits: s.limits });
    const passedAs = initialStatus(policies.validation);
    const blob = await s.blobs.put(s.sealFor(policies, bytes));
    const now = s.now();
    const passed = checked.filter((r) => r.status === 'passed');
    const rowIds = new Map<number, number>();
    let report: UploadReport;
    let uploadId = 0;
    // All or nothing, without holding the event loop for the whole write (100 000 rows take
    // seconds): the upload is recorded first as `writing`, rows follow in chunks of their own
    // transactions with a yield between, and the report that marks it complete goes last. A
    // failure deletes what was written; a crash leaves a `writing` upload that the next start
    // deletes (DatanetRepo.deleteIncompleteUploads). Uploads to one datanet are serialised, so
    // no publish or other upload can see a half-written one.
    try {
      const draft = buildReport(filename, d.format, checked, passedAs);
      uploadId = s.repo.tx(() => s.repo.insertUpload({
        datanetId: id,
        contributor,
        filename,
        kind,
        bytes: bytes.byteLength,
        blobId: blob.id,
        blobCommitment: blob.commitment,
        rowsRoot: prepared.rowsRoot,
        rowCount: prepared.rowHashes.length,
        nonce: input.nonce.toString(),
        deadline: Number(input.deadline),
        signature: input.signature,
        accepted: draft.accepted,
        pending: draft.pending,
        rejected: draft.rejected,
        report: { writing: true },
        createdAt: now,
      }));
      for (let from = 0; from < passed.length; from += ROW_CHUNK) {
        if (from > 0) await new Promise((r) => setImmediate(r));
        s.repo.tx(() => {
          for (const r of passed.slice(from, from + ROW_CHUNK)) {
            const rowId = s.repo.insertRow({
              datanetId: id,
              uploadId,
              item: r.item,
              line: r.line,
              contributor,
              hash: r.hash!,
              dedupKey: r.dedupKey!,
              minhash: signatureToBytes(r.signature!),
              data: r.data,
              status: passedAs,
              createdAt: now,
            });
            rowIds.set(r.item, rowId);
          }
        });
      }
      report = buildReport(filename, d.format, checked, passedAs, rowIds);
      const done = report;
      s.repo.tx(() => s.repo.setUploadReport(uploadId, done));
    } catch (err) {
      if (uploadId) s.repo.tx(() => s.repo.deleteUpload(uploadId));
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        s.dedup.delete(id);
        if (/nonce/.test((err as Error).message)) throw replayed(input.nonce);
        throw new OpenLedgerError('another upload stored the same rows first', { type: 'conflict_error', code: 'upload_conflict', hint: 'upload again: the rows already stored will be reported as duplicates' });
      }
      throw err;
    }
    for (let n = 0; n < passed.length; n++) {
      if (n > 0 && n % ROW_CHUNK === 0) await new Promise((r) => setImmediate(r));
      const r = passed[n];
      const rowId = rowIds.get(r.item)!;
      existing.exact.set(r.dedupKey!, rowId);
      existing.near.add(rowId, r.signature!);
    }
    return { ...report!, uploadId, blobId: blob.id, rowsRoot: prepared.rowsRoot };
  });
}

/** The dedup index of a datanet's live rows, built once from the store and kept current. */
export function existingRows(s: DatanetContext, id: number): ExistingRows {
  let e = s.dedup.get(id);
  if (!e) {
    e = emptyExisting();
    for (const r of s.repo.liveSignatures(id)) {
      if (!e.exact.has(r.dedupKey)) e.exact.set(r.dedupKey, r.id);
      e.near.add(r.id, signatureFromBytes(r.minhash));
    }
    s.dedup.set(id, e);
  }
  return e;
}
