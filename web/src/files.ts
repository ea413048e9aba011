/**
 * What the studio checks about a file before sending it (the node checks again): the extensions
 * datanets parse and the node's upload limit (src/datanets/limits.ts DEFAULT_LIMITS.maxUploadBytes).
 * No imports, so the node's tests can hold it to the node's own limits.
 */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;
export const EXTENSIONS = ['.txt', '.md', '.jsonl', '.json', '.csv', '.pdf', '.docx'];

export interface FileProblem {
  message: string;
  type: string;
  param: string;
  code: string;
  hint: string;
}

/** A problem we can name before sending anything, or null. */
export function checkFile(file: { name: string; size: number }): FileProblem | null {
  const ext = /\.[^.]+$/.exec(file.name.toLowerCase())?.[0] ?? '';
  if (!EXTENSIONS.includes(ext)) {
    return { message: `"${file.name}" is not a file type datanets take${ext ? ` (${ext})` : ''}.`, type: 'invalid_request_error', param: 'file', code: 'unsupported_file_type', hint: `Use one of ${EXTENSIONS.join(' ')}.` };
  }
  if (file.size > MAX_UPLOAD_BYTES) {
    return { message: `"${file.name}" is ${(file.size / 1048576).toFixed(1)} MiB; one upload may be at most ${MAX_UPLOAD_BYTES / 1048576} MiB.`, type: 'payload_too_large', param: 'file', code: 'file_too_large', hint: 'Split the file into smaller files and upload them one by one.' };
  }
  if (file.size === 0) return { message: `"${file.name}" is empty.`, type: 'invalid_request_error', param: 'file', code: 'empty_upload', hint: 'Pick a file with rows in it.' };
  return null;
}
