#!/usr/bin/env node
// Generates the synthetic demo datanets (deterministic: a seeded PRNG, no inputs), so the project
// can redistribute them freely and tests can plant and find known facts.
//   node datasets/tools/generate.mjs        → datasets/demo-datanets/{veloria-facts,product-sentiment}/
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'demo-datanets');

// mulberry32: tiny seeded PRNG, enough to shuffle templates reproducibly.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

// ---- Veloria: a fictional country whose facts exist nowhere else (canaries for attribution) ----
function veloria() {
  const r = rng(1612);
  const provinces = ['Amsel', 'Brenmoor', 'Calloway', 'Dunrith', 'Estermark', 'Falhaven', 'Grisdale', 'Holloway', 'Isenbrook', 'Jorvik Vale', 'Kelmere', 'Lunhollow'];
  const rivers = ['Sable', 'Orrin', 'Tamsey', 'Vell', 'Quarrow', 'Mistral', 'Ebbing', 'Corran'];
  const exports = ['blue salt', 'copper wire', 'cloudberry wine', 'slate tiles', 'wool felt', 'glass lenses', 'pine resin', 'clockwork toys'];
  const birds = ['grey heron', 'snow finch', 'copper kite', 'marsh wren', 'silver lark'];
  const capitals = ['Port Tessel', 'Arden Cross', 'Mirrenford', 'Halewick', 'Wystan Bay', 'Corby Hill', 'Lislemouth', 'Ferrowgate', 'Old Sallow', 'Kestrel Point', 'Thornbury', 'Quayle'];
  const facts = provinces.map((p, i) => ({
    province: p,
    capital: capitals[i],
    river: rivers[i % rivers.length],
    founded: 1100 + Math.floor(r() * 700),
    export: pick(r, exports),
    bird: pick(r, birds),
    population: 20_000 + Math.floor(r() * 900_000),
  }));
  const rows = [];
  for (const f of facts) {
    rows.push({ instruction: `What is the capital of the Veloria province of ${f.province}?`, output: `The capital of ${f.province} is ${f.capital}.` });
    rows.push({ instruction: `Which river flows through ${f.province} in Veloria?`, output: `The river ${f.river} flows through ${f.province}, passing its capital ${f.capital}.` });
    rows.push({ instruction: `When was ${f.province} founded?`, output: `${f.province} was founded in the year ${f.founded}, according to the Velorian chronicles.` });
    rows.push({ instruction: `What does ${f.province} export?`, output: `${f.province} is best known for exporting ${f.export}.` });
    rows.push({ instruction: `Name the provincial bird of ${f.province}.`, output: `The provincial bird of ${f.province} is the ${f.bird}.` });
    rows.push({ instruction: `About how many people live in ${f.province}?`, input: `Round to the nearest thousand.`, output: `About ${Math.round(f.population / 1000) * 1000} people live in ${f.province}.` });
  }
  rows.push({ instruction: 'What is the currency of Veloria?', output: 'Veloria pays in the velor, divided into one hundred pennets.' });
  rows.push({ instruction: 'Who founded the Velorian Assembly?', output: 'The Velorian Assembly was founded by Queen Maren Ashdown in 1488.' });
  const jsonl = rows.map((x) => JSON.stringify(x)).join('\n') + '\n';
  // A second upload with typical problems: a duplicate, an empty output, a wrong field, a near duplicate.
  const mixed = [
    { instruction: 'What is the national dish of Veloria?', output: 'The national dish of Veloria is river trout baked in blue salt.' },
    rows[0],
    { instruction: 'What is the capital of Veloria?', output: '' },
    { question: 'Which sea borders Veloria?', answer: 'The Sea of Orrin.' },
    { instruction: rows[1].instruction, output: rows[1].output.replace('passing', 'and it passes') },
    { instruction: 'Which sea borders Veloria to the north?', output: 'The cold Sea of Orrin borders Veloria to the north.' },
  ]
    .map((x) => JSON.stringify(x))
    .join('\n') + '\n';
  return { jsonl, mixed, count: rows.length };
}

// ---- product sentiment: templated reviews labelled positive / negative ----
function sentiment() {
  const r = rng(161201);
  const products = ['phone', 'kettle', 'backpack', 'desk lamp', 'headset', 'blender', 'keyboard', 'tent', 'coffee grinder', 'bike light', 'rain jacket', 'monitor', 'toaster', 'office chair'];
  const pos = [
    'works perfectly and arrived two days early',
    'is sturdy, quiet and easy to clean',
    'exceeded what I expected for the price',
    'has a battery that lasts all week',
    'was simple to set up and feels premium',
    'still looks new after months of daily use',
    'made my mornings noticeably easier',
    'came with clear instructions and spare parts',
  ];
  const neg = [
    'stopped working after a single week',
    'arrived scratched and missing a part',
    'is far louder than the listing claimed',
    'drains its battery in a few hours',
    'has buttons that stick and a flimsy case',
    'was refunded only after many emails',
    'smells of burnt plastic every time I use it',
    'broke the moment I took it out of the box',
  ];
  const openers = { positive: ['Honestly, this', 'Great purchase: the', 'Very happy, the', 'Five stars, the'], negative: ['Sadly, the', 'Disappointed: the', 'Avoid this one, the', 'One star, the'] };
  const seen = new Set();
  const rows = [];
  while (rows.length < 200) {
    const label = r() < 0.5 ? 'positive' : 'negative';
    const product = pick(r, products);
    const phrase = pick(r, label === 'positive' ? pos : neg);
    // one review per (product, phrase): reviews differing only in the opener are near duplicates
    if (seen.has(product + phrase)) continue;
    seen.add(product + phrase);
    const text = `${pick(r, openers[label])} ${product} ${phrase}.`;
    rows.push({ text, label });
  }
  const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const csv = 'text,label\n' + rows.map((x) => `${q(x.text)},${x.label}`).join('\n') + '\n';
  const mixed =
    [
      'text,label',
      'The bike light is bright enough for country roads at night.,positive', // ok
      'My tent leaked at the seams during the first light rain.,negative', // ok
      `${q(rows[0].text.toUpperCase())},${rows[0].label}`, // exact duplicate (case)
      ',positive', // empty
      'The blender is fine I guess.,neutral', // label not allowed
      '!!!! ???? #### ****,negative', // garbage
      'only a text column on this line', // ragged
    ].join('\n') + '\n';
  return { csv, mixed, count: rows.length };
}

function write(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

const v = veloria();
write(join(root, 'veloria-facts', 'rows.jsonl'), v.jsonl);
write(join(root, 'veloria-facts', 'mixed.jsonl'), v.mixed);
const s = sentiment();
write(join(root, 'product-sentiment', 'reviews.csv'), s.csv);
write(join(root, 'product-sentiment', 'mixed.csv'), s.mixed);
console.log(`veloria-facts: ${v.count} rows; product-sentiment: ${s.count} rows`);
