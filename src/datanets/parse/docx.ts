import yauzl from 'yauzl';
import mammoth from 'mammoth';
import { invalid, OpenLedgerError } from '../../util/errors.ts';
import type { UploadLimits } from '../limits.ts';

/**
 * .docx → plain text (mammoth), guarded against zip bombs. Before mammoth (which inflates everything
 * in memory) sees the file, the zip's central directory is read with yauzl and refused when it has
 * too many entries, a declared uncompressed total above the cap, or a large entry with an absurd
 * compression ratio. Then every entry is inflated through yauzl with size validation on, which
 * fails if an entry inflates past the size its header declares, so a lying header cannot get past
 * the first check.
 */
export async function extractDocxText(bytes: Uint8Array, filename: string, limits: UploadLimits): Promise<string> {
  await checkZip(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), filename, limits);
  let result: { value: string };
  try {
    result = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  } catch (err) {
    throw invalid(`${filename}: cannot read the .docx: ${(err as Error).message}`, {
      param: 'file',
      code: 'invalid_docx',
      hint: 'save the document again as .docx (Word 2007+), or upload it as .txt or .pdf',
    });
  }
  return result.value;
}

const bomb = (filename: string, why: string, details: Record<string, unknown>) =>
  new OpenLedgerError(`${filename} was refused: ${why}`, {
    type: 'payload_too_large',
    code: 'zip_bomb',
    param: 'file',
    hint: 'this .docx inflates to far more data than a document holds; upload the text as .txt instead',
    details,
  });

function checkZip(buf: Buffer, filename: string, limits: UploadLimits): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false }, (err, zip) => {
      if (err || !zip) {
        reject(
          invalid(`${filename} is not a .docx (not a valid zip): ${err?.message ?? 'unreadable'}`, {
            param: 'file',
            code: 'invalid_docx',
            hint: 'a .docx is a zip archive; check that the file is not truncated or mislabelled',
          }),
        );
        return;
      }
      if (zip.entryCount > limits.maxZipEntries) {
        zip.close();
        reject(bomb(filename, `${zip.entryCount} zip entries (limit ${limits.maxZipEntries})`, { entries: zip.entryCount }));
        return;
      }
      let declared = 0;
      let inflated = 0;
      let done = false;
      const fail = (e: Error) => {
        if (done) return;
        done = true;
        zip.close();
        reject(e);
      };
      zip.on('error', (e: Error) =>
        fail(invalid(`${filename}: broken zip: ${e.message}`, { param: 'file', code: 'invalid_docx', hint: 'save the document again as .docx' })),
      );
      zip.on('end', () => {
        if (!done) {
          done = true;
          resolve();
        }
      });
      zip.on('entry', (entry: yauzl.Entry) => {
        declared += entry.uncompressedSize;
        const ratio = entry.uncompressedSize / Math.max(1, entry.compressedSize);
        if (declared > limits.maxExtractedBytes) {
          return fail(bomb(filename, `it declares ${declared} bytes uncompressed (limit ${limits.maxExtractedBytes})`, { declared }));
        }
        if (entry.uncompressedSize > 1024 * 1024 && ratio > limits.maxZipRatio) {
          return fail(bomb(filename, `entry ${entry.fileName} expands ${Math.round(ratio)}× (limit ${limits.maxZipRatio}×)`, { entry: entry.fileName, ratio }));
        }
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return fail(bomb(filename, `entry ${entry.fileName} cannot be read: ${e?.message}`, { entry: entry.fileName }));
          stream.on('data', (c: Buffer) => {
            inflated += c.length;
            if (inflated > limits.maxExtractedBytes) {
              stream.destroy();
              fail(bomb(filename, `it inflates past ${limits.maxExtractedBytes} bytes`, { inflated }));
            }
          });
          // validateEntrySizes makes yauzl emit an error when an entry inflates past its declared size.
          stream.on('error', (se: Error) => fail(bomb(filename, `entry ${entry.fileName} does not match its declared size (${se.message})`, { entry: entry.fileName })));
          stream.on('end', () => zip.readEntry());
        });
      });
      zip.readEntry();
    });
  });
}
