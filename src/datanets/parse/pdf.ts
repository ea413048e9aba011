import { invalid } from '../../util/errors.ts';
import type { UploadLimits } from '../limits.ts';

/**
 * .pdf → plain text with pdfjs-dist (Mozilla's PDF.js, legacy build for Node). Lines end where PDF.js
 * marks an end of line; pages are separated by a blank line, so each page ends a paragraph. Scripts
 * and fonts are never evaluated (isEvalSupported off, no font loading); a page cap and the extracted
 * size cap bound the work.
 */
export async function extractPdfText(bytes: Uint8Array, filename: string, limits: UploadLimits): Promise<string> {
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // PDF.js takes ownership of (and may detach) the buffer it is given: hand it a copy.
  const data = new Uint8Array(bytes);
  let doc: Awaited<ReturnType<typeof pdfjs.getDocument>['promise']>;
  try {
    doc = await pdfjs.getDocument({ data, isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 }).promise;
  } catch (err) {
    throw invalid(`${filename}: cannot read the PDF: ${(err as Error).message}`, {
      param: 'file',
      code: 'invalid_pdf',
      hint: 'check that the file is a complete, unencrypted PDF; or upload its text as .txt',
    });
  }
  try {
    if (doc.numPages > limits.maxPdfPages) {
      throw invalid(`${filename} has ${doc.numPages} pages (limit ${limits.maxPdfPages})`, {
        param: 'file',
        code: 'pdf_too_many_pages',
        hint: 'split the PDF into smaller files',
      });
    }
    const pages: string[] = [];
    let size = 0;
    for (let p = 1; p <= doc.numPages; p++) {
      const page = await doc.getPage(p);
      const content = await page.getTextContent();
      let s = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        s += item.str;
        if (item.hasEOL) s += '\n';
      }
      page.cleanup();
      size += s.length;
      if (size > limits.maxExtractedBytes) {
        throw invalid(`${filename}: extracted text exceeds ${limits.maxExtractedBytes} bytes`, { param: 'file', code: 'pdf_too_large', hint: 'split the PDF into smaller files' });
      }
      pages.push(s.trim());
    }
    const text = pages.filter((s) => s.length > 0).join('\n\n');
    if (text.length === 0) {
      throw invalid(`${filename}: the PDF has no extractable text (scanned images?)`, {
        param: 'file',
        code: 'pdf_no_text',
        hint: 'run OCR on the PDF first, or upload the text as .txt',
      });
    }
    return text;
  } finally {
    await doc.destroy();
  }
}
