import type { ParsedRecord } from './types.ts';

/**
 * Plain text and markdown → one record per block of non-blank lines (a paragraph), `{ text }`, with
 * the line the block starts on. Fenced code blocks (```) in markdown stay whole even with blank
 * lines inside, and a markdown heading stays attached to the paragraph under it.
 */
export function parseTextBlocks(text: string, markdown: boolean): ParsedRecord[] {
  const lines = text.split(/\r\n|\n|\r/);
  const out: ParsedRecord[] = [];
  let buf: string[] = [];
  let start = 0;
  let inFence = false;
  const flush = () => {
    const body = buf.join('\n').trim();
    if (body.length > 0) out.push({ item: out.length + 1, line: start, data: { text: body } });
    buf = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (markdown && /^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const blank = line.trim().length === 0;
    if (blank && !inFence) {
      // keep "# Heading" + blank + paragraph together
      const onlyHeading = markdown && buf.length > 0 && buf.every((l) => /^\s*#{1,6}\s/.test(l));
      if (!onlyHeading) flush();
      continue;
    }
    if (buf.length === 0) start = i + 1;
    buf.push(line);
  }
  flush();
  return out;
}
