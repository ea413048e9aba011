/** BM25 (k1 1.2, b 0.75) over row texts: the retrieval baseline of the evaluation. */
export class Bm25 {
  private readonly docs: Array<Map<string, number>>;
  private readonly len: number[];
  private readonly df = new Map<string, number>();
  private readonly avg: number;

  constructor(texts: readonly string[], private readonly k1 = 1.2, private readonly b = 0.75) {
    this.docs = texts.map((t) => {
      const m = new Map<string, number>();
      for (const w of words(t)) m.set(w, (m.get(w) ?? 0) + 1);
      return m;
    });
    this.len = this.docs.map((d) => [...d.values()].reduce((a, c) => a + c, 0));
    for (const d of this.docs) for (const w of d.keys()) this.df.set(w, (this.df.get(w) ?? 0) + 1);
    this.avg = this.len.reduce((a, c) => a + c, 0) / Math.max(1, this.len.length);
  }

  scores(query: string): number[] {
    const N = this.docs.length;
    const q = words(query);
    return this.docs.map((d, i) => {
      let s = 0;
      for (const w of q) {
        const f = d.get(w);
        if (!f) continue;
        const n = this.df.get(w)!;
        const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
        s += (idf * f * (this.k1 + 1)) / (f + this.k1 * (1 - this.b + (this.b * this.len[i]) / this.avg));
      }
      return s;
    });
  }
}

export const words = (t: string) => t.toLowerCase().match(/[a-z0-9]+/g) ?? [];
