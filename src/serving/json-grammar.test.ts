// The JSON state machine: every prefix of a valid document is accepted and only valid documents
// complete; property tests drive random token walks over a vocabulary (single characters plus
// multi-character pieces) under random schemas, and every completed output parses and matches
// its schema; and through the engine (a tiny random model, sampled at temperature 1) every
// constrained completion parses and matches.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Prng } from '../engine/sampling.ts';
import { buildTinyModel } from '../engine/testing/index.ts';
import { createEngine, generateText, loadModel } from '../engine/index.ts';
import { ANY_OBJECT, JsonConstraint, VocabTrie, compileSchema, feed, isComplete, start, step, tokenTexts, type Node } from './json-grammar.ts';

/** Does `v` satisfy the compiled schema `n`? (an independent check of what the automaton enforces) */
function matches(v: unknown, n: Node | null): boolean {
  if (!n) return true;
  if (n.anyOf) return n.anyOf.some((b) => matches(v, b));
  if (n.literals) return n.literals.includes(JSON.stringify(v));
  const t = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;
  if (n.types && !(n.types.has(t as never) || (t === 'integer' && n.types.has('number')))) return false;
  if (t === 'string') return (v as string).length >= n.minLength && (v as string).length <= n.maxLength;
  if ((t === 'number' || t === 'integer') && n.bounds) {
    const b = n.bounds, x = v as number;
    return (b.exclusiveMin ? x > b.min : x >= b.min) && (b.exclusiveMax ? x < b.max : x <= b.max);
  }
  if (t === 'array') {
    const a = v as unknown[];
    return a.length >= n.minItems && a.length <= n.maxItems && a.every((x) => matches(x, n.items));
  }
  if (t === 'object' && n.props) {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).some((k) => !n.props!.has(k))) return false;
    if (n.required.some((r) => !(r in o))) return false;
    return Object.entries(o).every(([k, x]) => matches(x, n.props!.get(k)!));
  }
  return true;
}

const SCHEMAS: unknown[] = [
  { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer' } }, required: ['name', 'age'] },
  { type: 'object', properties: { ok: { type: 'boolean' }, score: { type: 'number' }, tag: { enum: ['red', 'green', 'blue', 7, null] } }, required: ['ok', 'tag'] },
  { type: 'object', properties: { items: { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 4 }, note: { type: ['string', 'null'], maxLength: 8 } }, required: ['items'] },
  { type: 'object', properties: { inner: { type: 'object', properties: { x: { const: 'fixed' }, y: { type: 'array', maxItems: 2, items: { type: 'object', properties: { z: { type: 'boolean' } }, required: ['z'] } } }, required: ['x', 'y'] } }, required: ['inner'] },
  { type: 'object', properties: {}, additionalProperties: false },
  { type: 'object', properties: { who: { anyOf: [{ type: 'object', properties: { id: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['id'] }, { type: 'null' }, { type: 'string', maxLength: 5 }] }, list: { anyOf: [{ type: 'array', maxItems: 2, items: { type: 'boolean' } }, { enum: [1, 2] }] } }, required: ['who', 'list'] },
  { type: 'object', properties: { pct: { type: 'number', minimum: 0, maximum: 100 }, n: { type: 'integer', minimum: 50, maximum: 60 }, t: { type: 'number', exclusiveMinimum: -2.5, exclusiveMaximum: -1 }, k: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 } }, required: ['pct', 'n', 't', 'k'] },
];

/** Single characters (printable ASCII + whitespace) and pieces a BPE vocabulary would have. */
const VOCAB = [
  ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\n', '\t',
  '{"', '":', '", "', '"}', '}]', '[{', 'true', 'false', 'null', ' "', '":"', '12', '0.5', 'e-3', '\\n', '\\u00e9', 'name', 'age', 'red', '"red"', 'items', 'inner', '  ',
];

/** A random walk: each step a uniformly random allowed token; after `patience` steps, tokens that close things are preferred. */
function walk(trie: VocabTrie, root: Node, rng: Prng, patience = 60, maxSteps = 4000): string | null {
  let s = start(root);
  let out = '';
  const ok = new Uint8Array(trie.texts.length);
  for (let i = 0; i < maxSteps && !isComplete(s); i++) {
    ok.fill(0);
    trie.allowed(s, ok);
    let ids = [...ok.keys()].filter((k) => ok[k]);
    assert.ok(ids.length, `no token allowed after ${JSON.stringify(out)}`);
    if (i > patience) {
      const closing = ids.filter((k) => /[}\]"]/.test(trie.texts[k]!) || /^(true|false|null|[0-9])$/.test(trie.texts[k]!));
      if (closing.length && rng.next() < 0.8) ids = closing;
    }
    const id = ids[Math.floor(rng.next() * ids.length)];
    const next = feed(s, trie.texts[id]!);
    assert.ok(next, `allowed token ${JSON.stringify(trie.texts[id])} rejected after ${JSON.stringify(out)}`);
    s = next;
    out += trie.texts[id];
  }
  return isComplete(s) ? out : null;
}

describe('JSON state machine', () => {
  test('every prefix of a valid document is accepted; it completes exactly at its end', () => {
    const docs = ['{}', '{"a": [1, -2.5e+3, true, null, "x\\"y\\u00e9"], "b": {"c": {}}}', '{ "k" : [ ] }', '{"n":0.0,"m":-0,"e":1E9}'];
    for (const d of docs) {
      let s = start(ANY_OBJECT);
      for (let i = 0; i < d.length; i++) {
        assert.ok(!isComplete(s), `${d} complete early at ${i}`);
        const n = step(s, d[i]);
        assert.ok(n, `${d}: '${d[i]}' at ${i} refused`);
        s = n;
      }
      assert.ok(isComplete(s), d);
      assert.equal(step(s, ' '), null, 'nothing after the root closed');
    }
  });

  test('invalid documents are refused at the first bad character', () => {
    for (const [d, at] of [['[1]', 0], ['{"a" 1}', 5], ['{"a": 01}', 7], ['{"a": tru }', 9], ['{,}', 1], ['{"a": 1,}', 8], ['{"a":"\u0001"}', 6], ['{"a": 1.}', 8], ['{"a": "\\x"}', 8]] as const) {
      let s = start(ANY_OBJECT);
      let i = 0;
      for (; i < d.length; i++) {
        const n = step(s, d[i]);
        if (!n) break;
        s = n;
      }
      assert.equal(i, at, `${d} refused at ${i}, expected ${at}`);
    }
  });

  test('a schema: declared keys only, required ones before closing, no duplicates, enums and types', () => {
    const root = compileSchema(SCHEMAS[0]);
    assert.ok(feed(start(root), '{"name": "bo", "age": 3}') && isComplete(feed(start(root), '{"name": "bo", "age": 3}')!));
    assert.ok(isComplete(feed(start(root), '{"age": 3, "name": "bo"}')!), 'any order');
    assert.equal(feed(start(root), '{"name": "bo"}'), null, 'age is required');
    assert.equal(feed(start(root), '{"nam": 1'), null, 'unknown key');
    assert.equal(feed(start(root), '{"age": 3.5'), null, 'integer');
    assert.equal(feed(start(root), '{"age": 3, "age"'), null, 'duplicate key');
    assert.equal(feed(start(root), `{"name": "${'x'.repeat(13)}`), null, 'maxLength');
    const e = compileSchema(SCHEMAS[1]);
    assert.ok(isComplete(feed(start(e), '{"ok": false, "tag": 7}')!));
    assert.equal(feed(start(e), '{"ok": false, "tag": "yellow"'), null);
  });

  test('numeric bounds: every prefix can still end inside them, and only in-bounds numbers end', () => {
    const root = compileSchema({ type: 'object', properties: { n: { type: 'integer', minimum: 50, maximum: 60 }, x: { type: 'number', exclusiveMinimum: -2.5, exclusiveMaximum: -1 } }, required: ['n'] });
    const at = (t: string) => feed(start(root), t);
    assert.ok(at('{"n": 5'), '5 can become 50…59');
    assert.equal(at('{"n": 7'), null, '7 can only become 7, 70…: outside');
    assert.equal(at('{"n": 61'), null);
    assert.equal(at('{"n": 5}'), null, '5 itself is below the minimum');
    assert.ok(isComplete(at('{"n": 55}')!));
    assert.equal(at('{"n": -'), null);
    assert.equal(at('{"n": 5e'), null, 'no exponents with bounds');
    assert.ok(at('{"n": 50, "x": -2.4'));
    assert.equal(at('{"n": 50, "x": -2.5,'), null, 'exclusive minimum');
    assert.equal(at('{"n": 50, "x": -3'), null);
    assert.equal(at('{"n": 50, "x": -1}'), null, 'exclusive maximum');
    assert.ok(isComplete(at('{"n": 50, "x": -1.0001}')!));
  });

  test('the schema zodResponseFormat writes (openai/helpers/zod) compiles', async () => {
    const { z } = await import('zod');
    const { zodResponseFormat } = await import('openai/helpers/zod');
    const f = zodResponseFormat(z.object({ name: z.string(), age: z.number().int(), tags: z.array(z.string()), nick: z.string().nullable(), kind: z.enum(['a', 'b']), inner: z.object({ ok: z.boolean() }), boss: z.object({ name: z.string() }).nullable(), v: z.union([z.string(), z.number()]) }), 'person');
    const root = compileSchema(f.json_schema.schema);
    assert.ok(isComplete(feed(start(root), '{"name":"x","age":3,"tags":[],"nick":null,"kind":"b","inner":{"ok":true},"boss":null,"v":2}')!));
    assert.ok(isComplete(feed(start(root), '{"name":"x","age":3,"tags":[],"nick":null,"kind":"b","inner":{"ok":true},"boss":{"name":"y"},"v":"s"}')!));
    assert.equal(feed(start(root), '{"name":"x","age":3,"tags":[],"nick":null,"kind":"b","inner":{"ok":true},"boss":true'), null);
    // branches that cannot be told apart by their first character are refused
    assert.throws(() => compileSchema({ type: 'object', properties: { a: { anyOf: [{ type: 'object', properties: { x: { type: 'string' } } }, { type: 'object', properties: { y: { type: 'string' } } }] } } }), (e: any) => e.code === 'unsupported_schema' && /branches 0 and 1/.test(e.message));
  });

  test('unsupported schemas are 400s naming the keyword', () => {
    for (const [schema, param] of [
      [{ type: 'object', properties: { a: { type: 'string', pattern: '^a' } } }, 'response_format.json_schema.schema.properties.a.pattern'],
      [{ type: 'object', additionalProperties: true }, 'response_format.json_schema.schema.additionalProperties'],
      [{ type: 'object', required: ['x'] }, 'response_format.json_schema.schema.required'],
      [{ type: 'thing' }, 'response_format.json_schema.schema.type'],
      [{ anyOf: [] }, 'response_format.json_schema.schema.anyOf'],
    ] as const) {
      assert.throws(() => compileSchema(schema), (e: any) => e.param === param && e.code === 'unsupported_schema' && e.status === 400, JSON.stringify(schema));
    }
  });

  test('property: random token walks under random schemas always end in JSON that parses and matches', () => {
    const trie = new VocabTrie(VOCAB);
    const rng = new Prng(20261207);
    let done = 0;
    for (let run = 0; run < 300; run++) {
      const schema = run % 6 === 5 ? null : SCHEMAS[run % SCHEMAS.length];
      const root = schema ? compileSchema(schema) : ANY_OBJECT;
      const out = walk(trie, root, rng, schema ? 40 : 20);
      if (out === null) continue;
      done++;
      let v: unknown;
      assert.doesNotThrow(() => { v = JSON.parse(out); }, out);
      assert.ok(matches(v, root), `${out} does not match ${JSON.stringify(schema)}`);
    }
    assert.ok(done >= 290, `only ${done}/300 walks completed`);
  });
});

describe('the fast mask equals the spec walk', () => {
  test('parity: allowedFast marks exactly the tokens allowed marks, in every state of random walks; and it is faster on a large vocabulary', (t) => {
    const rng = new Prng(7);
    // a large random vocabulary: printable ASCII pieces of 1–8 characters, quotes and backslashes included
    const big = [...VOCAB];
    const chars = ' abcdefghijklmnopqrstuvwxyz0123456789{}[]:,"\\.-eE\n';
    for (let i = 0; i < 12_000; i++) {
      let w = '';
      for (let n = 1 + Math.floor(rng.next() * 8); n > 0; n--) w += chars[Math.floor(rng.next() * chars.length)];
      big.push(w);
    }
    const trie = new VocabTrie(big);
    const a = new Uint8Array(big.length), b = new Uint8Array(big.length);
    let states = 0, inString = 0, slowMs = 0, fastMs = 0;
    for (let run = 0; run < 24; run++) {
      const root = run % 3 === 2 ? ANY_OBJECT : compileSchema(SCHEMAS[run % SCHEMAS.length]);
      let s = start(root);
      for (let k = 0; k < 20 && !isComplete(s); k++) {
        a.fill(0); b.fill(0);
        const t0 = performance.now();
        trie.allowed(s, a);
        const t1 = performance.now();
        const n = trie.allowedFast(s, b);
        const t2 = performance.now();
        const top = s.stack.at(-1)!;
        if (top.k === 'str') { inString++; slowMs += t1 - t0; fastMs += t2 - t1; }
        assert.deepEqual(b, a, `state ${JSON.stringify(top)}`);
        assert.ok(n > 0);
        states++;
        const ids = [...a.keys()].filter((i) => a[i]);
        s = feed(s, big[ids[Math.floor(rng.next() * ids.length)]])!;
      }
    }
    t.diagnostic(`${states} states (${inString} inside strings); in strings the spec walk took ${(slowMs / inString).toFixed(2)} ms, the fast one ${(fastMs / inString).toFixed(2)} ms per step (${big.length} tokens)`);
    assert.ok(inString >= 20, `only ${inString} string states`);
    assert.ok(fastMs < slowMs, 'the fast mask is faster inside strings');
  });
});

describe('JSON-constrained generation through the engine', () => {
  test('a tiny random model sampled at temperature 1: every completion parses and matches its schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-grammar-'));
    try {
      const tiny = buildTinyModel('llama', join(dir, 'm'), { format: 'gguf', seed: 11, dims: { contextLength: 4096 } });
      const engine = await createEngine(await loadModel(tiny.ggufPath!));
      try {
        const trie = new VocabTrie(tokenTexts(engine.tokenizer, engine.config.vocabSize));
        const eos = engine.tokenizer.eosTokenIds;
        const schema = { type: 'object', properties: { word: { type: 'string', maxLength: 6 }, n: { type: 'integer' }, flag: { type: 'boolean' }, color: { enum: ['red', 'blue'] } }, required: ['word', 'n', 'flag', 'color'] };
        const root = compileSchema(schema);
        let parsed = 0;
        for (let i = 0; i < 12; i++) {
          const r = await generateText(engine, { prompt: `json ${i}`, maxTokens: 400, sampling: { temperature: 1, seed: i }, constraint: new JsonConstraint(trie, root, eos) });
          if (r.finishReason !== 'stop') continue; // a number can run to max_tokens; only completed documents are claimed
          const v = JSON.parse(r.text);
          assert.ok(matches(v, root), r.text);
          parsed++;
        }
        assert.ok(parsed >= 9, `only ${parsed}/12 completed`);
      } finally {
        engine.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
