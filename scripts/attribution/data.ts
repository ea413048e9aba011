/**
 * The evaluation's synthetic datanet, in the starter model's domain (short Q&A in the Model
 * Factory's instruction form): fictional places and their facts, seeded.
 *
 *   background   each regular contributor: facts about places only they describe
 *   canaries     a distinct fact planted in one contributor's rows, repeated 1, 2, 4, 8 times
 *                (different question phrasings, the same answer); queried with an unseen phrasing
 *   decoys       same template, other place and answer (lexically close, factually unrelated)
 *   distractors  other facts about the canary's place by other contributors (what BM25 trips on)
 *   poison       rows contradicting background facts (another capital), planted to hurt answers
 */
import { minhash } from '../../src/datanets/minhash.ts';
import { rowText } from '../../src/datanets/formats.ts';

export interface EvalRow {
  rowId: number;
  contributor: string;
  instruction: string;
  output: string;
  kind: 'background' | 'canary' | 'decoy' | 'distractor' | 'poison' | 'duplicate';
  /** Canary or background fact id the row carries. */
  fact: string | null;
  minhash: Uint32Array;
}

export interface EvalQuery {
  id: string;
  kind: 'canary' | 'background';
  prompt: string;
  answer: string;
  /** The contributor who planted it. */
  owner: string;
  repeats: number;
}

export interface EvalData {
  rows: EvalRow[];
  queries: EvalQuery[];
  contributors: string[];
}

function rng(seed: number) {
  let s = (seed >>> 0) || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

const SYL = ['zor', 'bla', 'quen', 'vel', 'mar', 'tis', 'kor', 'ann', 'dru', 'fel', 'gim', 'hol', 'ist', 'jun', 'lom', 'nar', 'oss', 'pel', 'rin', 'sul', 'tav', 'ur', 'vex', 'wen', 'yal'];
const OBJECTS = ['silver crown', 'old map', 'glass bell', 'red banner', 'stone key', 'blue lantern', 'iron shield', 'golden cup'];
const FOODS = ['plum bread', 'fish soup', 'honey cake', 'green tea', 'salt cheese', 'berry pie'];

export const addr = (i: number) => `0x${(0x1000 + i).toString(16).padStart(40, '0')}`;

export function makeData(opts: { seed: number; contributors: number; backgroundPerContributor: number; canariesPerRepeat: number; repeats: number[]; poisonRows: number }): EvalData {
  const r = rng(opts.seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)];
  const used = new Set<string>();
  const name = () => {
    for (;;) {
      const n = Array.from({ length: 2 + Math.floor(r() * 2) }, () => pick(SYL)).join('');
      const cap = n[0].toUpperCase() + n.slice(1);
      if (!used.has(cap)) { used.add(cap); return cap; }
    }
  };
  const rows: EvalRow[] = [];
  const queries: EvalQuery[] = [];
  const regular = Array.from({ length: opts.contributors }, (_, i) => addr(i));
  const decoyC = addr(900), distractC = [addr(901), addr(902)], poisonC = [addr(950), addr(951)];
  const add = (contributor: string, instruction: string, output: string, kind: EvalRow['kind'], fact: string | null) => {
    rows.push({ rowId: 0, contributor, instruction, output, kind, fact, minhash: minhash(rowText('alpaca', { instruction, output })) });
  };
  // Background: capitals (queried, and the target of poison), plus foods.
  const capitals: Array<{ place: string; city: string; owner: string; id: string }> = [];
  regular.forEach((c, ci) => {
    for (let j = 0; j < opts.backgroundPerContributor; j++) {
      const place = name(), city = name();
      const id = `bg-${ci}-${j}`;
      if (j % 2 === 0) {
        add(c, `What is the capital of ${place}?`, `The capital of ${place} is ${city}.`, 'background', id);
        capitals.push({ place, city, owner: c, id });
      } else add(c, `What food is ${place} known for?`, `${place} is known for its ${pick(FOODS)}.`, 'background', id);
    }
  });
  // Canaries: "The <object> of <place> is kept in <city>." repeated with different phrasings.
  const phr = [
    (o: string, p: string) => `Where is the ${o} of ${p} kept?`,
    (o: string, p: string) => `In which city is the ${o} of ${p} kept?`,
    (o: string, p: string) => `Which city keeps the ${o} of ${p}?`,
    (o: string, p: string) => `Where can one find the ${o} of ${p}?`,
    (o: string, p: string) => `Name the city that holds the ${o} of ${p}.`,
    (o: string, p: string) => `Where do they keep the ${o} of ${p}?`,
    (o: string, p: string) => `What city guards the ${o} of ${p}?`,
    (o: string, p: string) => `Tell me where the ${o} of ${p} is kept.`,
  ];
  let k = 0;
  for (const rep of opts.repeats) {
    for (let c = 0; c < opts.canariesPerRepeat; c++, k++) {
      const owner = regular[(k * 7) % regular.length];
      const obj = OBJECTS[k % OBJECTS.length], place = name(), city = name();
      const answer = `The ${obj} of ${place} is kept in ${city}.`;
      const id = `canary-${k}`;
      for (let t = 0; t < rep; t++) add(owner, phr[t % phr.length](obj, place), answer, 'canary', id);
      // Decoy: same template, another place and city. Distractors: other facts about the same place.
      const p2 = name();
      add(decoyC, phr[0](obj, p2), `The ${obj} of ${p2} is kept in ${name()}.`, 'decoy', null);
      add(distractC[k % 2], `What food is ${place} known for?`, `${place} is known for its ${pick(FOODS)}.`, 'distractor', null);
      add(distractC[(k + 1) % 2], `What is the capital of ${place}?`, `The capital of ${place} is ${name()}.`, 'distractor', null);
      queries.push({ id, kind: 'canary', prompt: `Please say where the ${obj} of ${place} is kept.`, answer, owner, repeats: rep });
    }
  }
  // Poison: other capitals for background places (contradicting their owners' rows).
  for (let i = 0; i < opts.poisonRows && i < capitals.length; i++) {
    const c = capitals[(i * 3) % capitals.length];
    add(poisonC[i % 2], `What is the capital of ${c.place}?`, `The capital of ${c.place} is ${name()}.`, 'poison', c.id);
  }
  for (const c of capitals) queries.push({ id: c.id, kind: 'background', prompt: `What is the capital of ${c.place}?`, answer: `The capital of ${c.place} is ${c.city}.`, owner: c.owner, repeats: 1 });
  // Upload order: shuffled, then numbered (row ids are the order the datanet received them).
  for (let i = rows.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [rows[i], rows[j]] = [rows[j], rows[i]]; }
  rows.forEach((x, i) => (x.rowId = i + 1));
  const contributors = [...new Set(rows.map((x) => x.contributor))].sort();
  return { rows, queries, contributors };
}
