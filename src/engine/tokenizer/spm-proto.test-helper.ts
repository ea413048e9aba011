/**
 * Test support: write a SentencePiece ModelProto (tokenizer.model) from pieces, scores and types —
 * the inverse of sentencepiece.ts, for tests that need a real .model file.
 */
function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}
function key(field: number, wire: number, out: number[]): void {
  varint(field * 8 + wire, out);
}
function bytesField(field: number, b: Uint8Array | number[], out: number[]): void {
  key(field, 2, out);
  varint(b.length, out);
  for (const x of b) out.push(x);
}

export interface SpmSpec {
  pieces: string[];
  scores: number[];
  types: number[];
  modelType?: number; // 2 = BPE (default), 1 = Unigram
  addDummyPrefix?: boolean;
  unkId?: number;
  bosId?: number;
  eosId?: number;
}

export function writeSentencePieceModel(spec: SpmSpec): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  spec.pieces.forEach((p, i) => {
    const m: number[] = [];
    bytesField(1, enc.encode(p), m);
    key(2, 5, m);
    const f = new Uint8Array(new Float32Array([spec.scores[i]]).buffer);
    m.push(...f);
    key(3, 0, m);
    varint(spec.types[i], m);
    bytesField(1, m, out);
  });
  const t: number[] = [];
  key(3, 0, t); varint(spec.modelType ?? 2, t);
  key(4, 0, t); varint(spec.pieces.length, t);
  key(35, 0, t); varint(1, t);
  key(40, 0, t); varint(spec.unkId ?? 0, t);
  key(41, 0, t); varint(spec.bosId ?? 1, t);
  key(42, 0, t); varint(spec.eosId ?? 2, t);
  bytesField(2, t, out);
  const n: number[] = [];
  bytesField(1, enc.encode('identity'), n);
  key(3, 0, n); varint(spec.addDummyPrefix === false ? 0 : 1, n);
  key(4, 0, n); varint(0, n);
  bytesField(3, n, out);
  return Uint8Array.from(out);
}
