/**
 * The trainer's seeded PRNG (xorshift32 → [0, 1)). Its whole state is one uint32, so a
 * checkpoint can store it and a resumed run draws the same numbers (shuffles, dropout masks).
 */
export class Xorshift {
  state: number;
  constructor(seed: number) {
    // Mix the seed so that nearby seeds give unrelated streams; never 0 (a fixed point).
    let s = (seed >>> 0) ^ 0x9e3779b9;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (s ^ (s >>> 16)) >>> 0 || 1;
  }
  next(): number {
    let s = this.state;
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    this.state = s;
    return s / 4294967296;
  }
  /** A seeded Fisher–Yates permutation of 0…n−1. */
  permutation(n: number): number[] {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}
