/**
 * Just enough multipart/form-data (RFC 7578) for OpenAI's `POST /v1/files` (`file` + `purpose`),
 * so OpenAI SDK clients can upload training files unchanged. The whole body is in memory (the
 * route caps it); parts are split on `--boundary`, each with its headers and raw bytes.
 */
import { invalid } from '../util/errors.ts';

export interface FormPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

export function boundaryOf(contentType: string | undefined): string {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!m) throw invalid('multipart/form-data needs a boundary', { param: 'file', code: 'invalid_multipart', hint: 'let your HTTP client set the content type of a form upload' });
  return (m[1] ?? m[2]).trim();
}

export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw invalid('the form body has no parts', { param: 'file', code: 'invalid_multipart' });
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(pos, pos + 2).toString() === '\r\n') pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    const next = body.indexOf(delim, pos);
    if (headEnd < 0 || next < 0) throw invalid('the form body is truncated', { param: 'file', code: 'invalid_multipart' });
    const headers = body.subarray(pos, headEnd).toString('utf8');
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2; // CRLF before the delimiter belongs to it
    const disp = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disp)?.[1];
    if (name === undefined) throw invalid('a form part has no name', { param: 'file', code: 'invalid_multipart' });
    parts.push({
      name,
      filename: /\bfilename="([^"]*)"/i.exec(disp)?.[1] ?? null,
      contentType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? null,
      data: body.subarray(headEnd + 4, end),
    });
    pos = next;
  }
  return parts;
}
