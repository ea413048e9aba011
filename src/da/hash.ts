import { createHash } from 'node:crypto';
import type { Hex } from './types.ts';

/** Content id of a blob: `0x` + sha256(bytes), lowercase hex. */
export function contentId(bytes: Uint8Array): Hex {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}

const HEX32 = /^0x[0-9a-f]{64}$/;
/** True for a well-formed content id (0x + 64 lowercase hex digits). */
export function isContentId(s: string): s is Hex {
  return HEX32.test(s);
}

/** Normalises `0x`-hex input to lowercase; throws on anything else. */
export function normalizeHex(s: string): Hex | null {
  const t = s.trim().toLowerCase();
  const body = t.startsWith('0x') ? t.slice(2) : t;
  if (body.length === 0 || body.length % 2 !== 0 || !/^[0-9a-f]+$/.test(body)) return null;
  return `0x${body}`;
}
