#!/usr/bin/env node
// Extracts entries of Ambrose Bierce's "The Devil's Dictionary" (public domain; Debian package
// dict-devil) into plain text, one entry per paragraph, for the devils-dictionary demo datanet.
//   apt-get download dict-devil && dpkg -x dict-devil_*.deb x
//   node datasets/tools/extract-devil.mjs x/usr/share/dictd/devil.dict.dz x/usr/share/dictd/devil.index 250 \
//     > datasets/demo-datanets/devils-dictionary/entries.txt
// dictd index lines: headword \t offset (base64) \t length (base64), into the gunzipped .dict.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const [dictPath, indexPath, limitArg] = process.argv.slice(2);
const limit = Number(limitArg ?? 250);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64 = (s) => [...s].reduce((n, c) => n * 64 + B64.indexOf(c), 0);
const dict = gunzipSync(readFileSync(dictPath));
const out = [];
for (const line of readFileSync(indexPath, 'utf8').split('\n')) {
  const [head, off, len] = line.split('\t');
  if (!head || head.startsWith('00database') || head.startsWith('00-database') || !off) continue;
  const body = dict.subarray(b64(off), b64(off) + b64(len)).toString('utf8');
  // Reflow: drop the repeated headword line, join wrapped lines, keep verse line breaks as " / ".
  const lines = body.split('\n').map((l) => l.trimEnd());
  const first = lines.findIndex((l) => l.trim().length > 0);
  const text = lines
    .slice(first)
    .join('\n')
    .replace(/\n{2,}/g, '\n\n')
    .split('\n\n')
    .map((p) => p.split('\n').map((l) => l.trim()).filter(Boolean).join(' '))
    .filter(Boolean)
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length < 40) continue;
  out.push(text);
  if (out.length >= limit) break;
}
process.stdout.write(out.join('\n\n') + '\n');
