/**
 * Names users give things (datanets, tags, labels, models) are shown to other users: they must not
 * carry characters that hide or reorder text — NUL and other C0/C1 controls, and the Unicode bidi
 * overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) that make "txt.exe"
 * read as "exe.txt" ("Trojan Source", CVE-2021-42574).
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** The first unsafe character of `s` as `U+XXXX`, or null. */
export function unsafeCharIn(s: string): string | null {
  const m = UNSAFE.exec(s);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : null;
}

/** For zod `.refine`/`superRefine`: message naming the character and the fix. */
export const UNSAFE_NAME_MESSAGE = 'must not contain control characters (NUL, newlines…) or bidirectional-override characters (U+202A–U+202E, U+2066–U+2069)';
export const isSafeName = (s: string) => unsafeCharIn(s) === null;
