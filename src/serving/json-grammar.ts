/**
 * Grammar-constrained JSON for `response_format: {type: "json_object" | "json_schema"}`: a
 * character-level JSON state machine (a pushdown automaton: one frame per open value) and, over
 * the tokenizer's vocabulary, a trie of token texts walked with it, so that each step only tokens
 * whose whole text keeps the output a valid prefix stay sampleable.
 *
 *   compileSchema(schema)     the supported JSON Schema subset → Node (400 naming any keyword it cannot enforce)
 *   start(root) / step(s, c)  the automaton: a state, and the state after one more character (null = not allowed)
 *   VocabTrie                 token texts (decoded after an anchor token, so leading-space rules hold) in a trie
 *   JsonConstraint            the engine's TokenConstraint: mask(logits) walks the trie from the current state
 *
 * Supported: type (one or a list), properties + required (any order, no duplicates, no other keys),
 * additionalProperties false (the default here, as OpenAI's strict mode), items, minItems, maxItems,
 * enum, const, minLength, maxLength, minimum / maximum / exclusive ones, anyOf whose branches
 * differ in their first character; annotations (title, description, default, examples, $schema,
 * $id, format) are ignored. The root is an object, as OpenAI requires. json_object mode accepts
 * any object (nesting ≤ 32). Whitespace between tokens is capped (16 characters a run), strings at
 * maxLength (default 4096), numbers at 32 characters, so no token can stretch a value without bound.
 * The state is immutable (each step returns a new one), which lets the trie walk share prefixes.
 */
import { invalid } from '../util/errors.ts';

export type JsonType = 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** A compiled schema node; null anywhere means "any JSON value". */
export interface Node {
  types: ReadonlySet<JsonType> | null;
  props: ReadonlyMap<string, Node | null> | null;
  required: readonly string[];
  items: Node | null;
  minItems: number;
  maxItems: number;
  /** enum / const as JSON texts (JSON.stringify of each value). */
  literals: readonly string[] | null;
  minLength: number;
  maxLength: number;
  /** Numeric bounds (minimum / maximum, exclusive ones as flags); null when none. */
  bounds: { min: number; max: number; exclusiveMin: boolean; exclusiveMax: boolean } | null;
  /** anyOf: branches told apart by their first character (an object or null, a string or a number, …). */
  anyOf: readonly Node[] | null;
}

const TYPES: readonly JsonType[] = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null'];
const IGNORED = new Set(['title', 'description', 'default', 'examples', '$schema', '$id', 'format', '$comment']);
const KNOWN = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems', 'enum', 'const', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'anyOf']);
const MAX_DEPTH = 32;
const MAX_WS = 16;
const MAX_NUMBER = 32;
const DEFAULT_MAX_STRING = 4096;

/** The schema of `response_format.json_schema.schema` → Node; every keyword it cannot enforce is a 400 naming it. */
export function compileSchema(schema: unknown, param = 'response_format.json_schema.schema', depth = 0): Node {
  const fail = (what: string, at = param) => invalid(`${at} ${what}`, { param: at, code: 'unsupported_schema', hint: 'supported: type, properties, required, additionalProperties: false, items, minItems, maxItems, enum, const, minLength, maxLength' });
  if (depth > MAX_DEPTH) throw fail(`nests deeper than ${MAX_DEPTH} levels`);
  if (!schema || typeof schema !== 'object' || Array.isArray(schema)) throw fail('must be a JSON Schema object');
  const s = schema as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!KNOWN.has(k) && !IGNORED.has(k)) throw fail(`uses "${k}", which this node cannot enforce`, `${param}.${k}`);
  if (s.anyOf !== undefined) {
    const at = `${param}.anyOf`;
    if (!Array.isArray(s.anyOf) || s.anyOf.length < 1 || s.anyOf.length > 16) throw fail('must be a list of 1–16 schemas', at);
    const other = Object.keys(s).filter((k) => k !== 'anyOf' && KNOWN.has(k));
    if (other.length) throw fail(`cannot be combined with ${other.join(', ')} in one schema (put them inside the branches)`, at);
    const branches = s.anyOf.map((b, i) => compileSchema(b, `${at}[${i}]`, depth + 1));
    const seen = new Map<string, number>();
    branches.forEach((b, i) => {
      for (const c of firstChars(b)) {
        if (seen.has(c)) throw fail(`branches ${seen.get(c)} and ${i} can both start with ${JSON.stringify(c)}; this node needs branches that differ in type (e.g. an object or null)`, at);
        seen.set(c, i);
      }
    });
    return { ...ANY_OBJECT, types: null, anyOf: branches };
  }
  let types: Set<JsonType> | null = null;
  if (s.type !== undefined) {
    const list = Array.isArray(s.type) ? s.type : [s.type];
    if (!list.length || list.some((t) => !TYPES.includes(t as JsonType))) throw fail(`type must be one of ${TYPES.join(', ')} (or a list of them)`, `${param}.type`);
    types = new Set(list as JsonType[]);
  }
  const int = (k: string, dflt: number) => {
    const v = s[k];
    if (v === undefined) return dflt;
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw fail('must be a non-negative integer', `${param}.${k}`);
    return v as number;
  };
  let literals: string[] | null = null;
  if (s.const !== undefined) literals = [JSON.stringify(s.const)];
  if (s.enum !== undefined) {
    if (!Array.isArray(s.enum) || !s.enum.length || s.enum.length > 1024) throw fail('must be a list of 1–1024 values', `${param}.enum`);
    literals = s.enum.map((v) => JSON.stringify(v));
  }
  if (literals?.some((t) => t === undefined || t.length > 4096)) throw fail('values must be JSON values (each ≤ 4096 characters as JSON)', `${param}.enum`);
  let props: Map<string, Node | null> | null = null;
  if (s.properties !== undefined) {
    if (!s.properties || typeof s.properties !== 'object' || Array.isArray(s.properties)) throw fail('must map names to schemas', `${param}.properties`);
    const entries = Object.entries(s.properties as Record<string, unknown>);
    if (entries.length > 256) throw fail('has more than 256 properties', `${param}.properties`);
    props = new Map();
    for (const [name, sub] of entries) {
      if (!/^[^"\\\u0000-\u001f]{1,256}$/.test(name)) throw fail('names must be 1–256 characters without quotes, backslashes or control characters', `${param}.properties.${name.slice(0, 40)}`);
      props.set(name, compileSchema(sub, `${param}.properties.${name}`, depth + 1));
    }
  }
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) throw fail('can only be false (every key is declared in properties)', `${param}.additionalProperties`);
  const required = s.required === undefined ? [] : s.required;
  if (!Array.isArray(required) || required.some((r) => typeof r !== 'string' || !props?.has(r))) throw fail('must list names declared in properties', `${param}.required`);
  const items = s.items === undefined ? null : compileSchema(s.items, `${param}.items`, depth + 1);
  const num = (k: string) => {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw fail('must be a finite number', `${param}.${k}`);
    return v;
  };
  const [minimum, maximum, exMin, exMax] = [num('minimum'), num('maximum'), num('exclusiveMinimum'), num('exclusiveMaximum')];
  let bounds: Node['bounds'] = null;
  if ([minimum, maximum, exMin, exMax].some((v) => v !== undefined)) {
    const lo = Math.max(minimum ?? -Infinity, exMin ?? -Infinity), hi = Math.min(maximum ?? Infinity, exMax ?? Infinity);
    bounds = { min: lo, max: hi, exclusiveMin: exMin !== undefined && exMin >= (minimum ?? -Infinity), exclusiveMax: exMax !== undefined && exMax <= (maximum ?? Infinity) };
    if (lo > hi || (lo === hi && (bounds.exclusiveMin || bounds.exclusiveMax))) throw fail('admits no number (minimum above maximum)', `${param}.minimum`);
  }
  const node: Node = {
    types, props, required: required as string[], items,
    minItems: int('minItems', 0), maxItems: int('maxItems', Number.MAX_SAFE_INTEGER),
    literals, minLength: int('minLength', 0), maxLength: int('maxLength', DEFAULT_MAX_STRING), bounds, anyOf: null,
  };
  if (node.minItems > node.maxItems) throw fail('minItems exceeds maxItems', `${param}.minItems`);
  if (node.minLength > node.maxLength) throw fail('minLength exceeds maxLength', `${param}.minLength`);
  if (props && types && !types.has('object')) throw fail('declares properties but its type is not object', `${param}.properties`);
  return node;
}

/** Any object (json_object mode). */
export const ANY_OBJECT: Node = { types: new Set(['object']), props: null, required: [], items: null, minItems: 0, maxItems: Number.MAX_SAFE_INTEGER, literals: null, minLength: 0, maxLength: DEFAULT_MAX_STRING, bounds: null, anyOf: null };

/** The characters a value of `n` can start with. */
function firstChars(n: Node): Set<string> {
  if (n.anyOf) return new Set(n.anyOf.flatMap((b) => [...firstChars(b)]));
  if (n.literals) return new Set(n.literals.map((l) => l[0]));
  const t = n.types ?? new Set(TYPES);
  const out = new Set<string>();
  if (t.has('object')) out.add('{');
  if (t.has('array')) out.add('[');
  if (t.has('string')) out.add('"');
  if (t.has('number') || t.has('integer')) for (const c of '-0123456789') out.add(c);
  if (t.has('boolean')) { out.add('t'); out.add('f'); }
  if (t.has('null')) out.add('n');
  return out;
}

// ---- the automaton ----

type Frame =
  /** Before a value (leading whitespace allowed). */
  | { k: 'value'; node: Node | null; ws: number }
  /** Inside an object: start = after '{'; key = after ','; colon = after a key; next = after a value. */
  | { k: 'obj'; node: Node | null; st: 'start' | 'key' | 'colon' | 'next'; seen: readonly string[]; key: string; ws: number }
  | { k: 'arr'; node: Node | null; st: 'start' | 'item' | 'next'; count: number; ws: number }
  /** A string; keys of schema objects keep their text (`buf`) to match the declared names. */
  | { k: 'str'; node: Node | null; key: readonly string[] | null; buf: string; len: number; esc: number }
  /** A number; with bounds, its text so far (`text`) keeps every prefix feasible and the end exact. */
  | { k: 'num'; int: boolean; st: NumState; len: number; bounds: Node['bounds']; text: string }
  /** true / false / null / enum and const values, as JSON texts. */
  | { k: 'lit'; options: readonly string[]; pos: number };

type NumState = 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'e' | 'esign' | 'exp';
const NUM_DONE: ReadonlySet<NumState> = new Set(['zero', 'int', 'frac', 'exp']);

/** The automaton's state: the open frames, innermost last; [] once the root value closed. */
export interface JsonState {
  readonly stack: readonly Frame[];
}

export function start(root: Node): JsonState {
  return { stack: [{ k: 'value', node: root, ws: 0 }] };
}

export const isComplete = (s: JsonState) => s.stack.length === 0;

const isWs = (c: string) => c === ' ' || c === '\n' || c === '\t' || c === '\r';
const isDigit = (c: string) => c >= '0' && c <= '9';
const HEX = /^[0-9a-fA-F]$/;

const allows = (n: Node | null, t: JsonType) => !n || !n.types || n.types.has(t);

/** The state after character `c`, or null when `c` cannot continue a valid document. */
export function step(s: JsonState, c: string): JsonState | null {
  const stack = s.stack;
  if (!stack.length) return null;
  const top = stack[stack.length - 1];
  const rest = stack.slice(0, -1);
  const put = (...f: Frame[]): JsonState => ({ stack: [...rest, ...f] });
  switch (top.k) {
    case 'value': {
      if (isWs(c)) return top.ws < MAX_WS ? put({ ...top, ws: top.ws + 1 }) : null;
      return openValue(rest, top.node, c);
    }
    case 'obj': {
      if (isWs(c)) return top.ws < MAX_WS ? put({ ...top, ws: top.ws + 1 }) : null;
      const props = top.node?.props ?? null;
      const remaining = props ? [...props.keys()].filter((k) => !top.seen.includes(k)) : null;
      const canClose = !props || top.node!.required.every((r) => top.seen.includes(r));
      if (top.st === 'start' || top.st === 'key') {
        if (c === '}' && top.st === 'start' && canClose) return close(rest);
        if (c !== '"' || (remaining && !remaining.length)) return null;
        return put({ ...top, ws: 0 }, { k: 'str', node: null, key: remaining ?? [], buf: '', len: 0, esc: 0 });
      }
      if (top.st === 'colon') {
        if (c !== ':') return null;
        const sub = props ? props.get(top.key) ?? null : null;
        return put({ ...top, st: 'next', ws: 0 }, { k: 'value', node: sub, ws: 0 });
      }
      // next: after a value
      if (c === '}' && canClose) return close(rest);
      if (c === ',' && (!remaining || remaining.length)) return put({ ...top, st: 'key', ws: 0 });
      return null;
    }
    case 'arr': {
      if (isWs(c)) return top.ws < MAX_WS ? put({ ...top, ws: top.ws + 1 }) : null;
      const n = top.node;
      const min = n?.minItems ?? 0, max = n?.maxItems ?? Number.MAX_SAFE_INTEGER;
      if (top.st === 'next') {
        if (c === ']' && top.count >= min) return close(rest);
        if (c === ',' && top.count < max) return put({ ...top, st: 'item', ws: 0 });
        return null;
      }
      if (c === ']' && top.st === 'start' && min === 0) return close(rest);
      if (top.count >= max) return null;
      return openValue([...rest, { ...top, st: 'next', count: top.count + 1, ws: 0 }], n?.items ?? null, c);
    }
    case 'str': {
      const n = top.node;
      if (top.esc > 0) {
        // esc 1: after '\'; 2…5: inside \uXXXX (hex digits still due = 6 − esc)
        if (top.esc === 1) {
          if (c === 'u') return put({ ...top, esc: 2 });
          if (!'"\\/bfnrt'.includes(c) || top.key?.length) return null;
          return put({ ...top, esc: 0, len: top.len + 1 });
        }
        if (!HEX.test(c)) return null;
        return put(top.esc === 5 ? { ...top, esc: 0, len: top.len + 1 } : { ...top, esc: top.esc + 1 });
      }
      if (c === '"') {
        if (top.key) {
          if (!top.key.includes(top.buf) && top.key.length) return null; // a schema key must be one of the declared names
          return closeKey(rest, top.buf);
        }
        if (n && top.len < n.minLength) return null;
        return close(rest);
      }
      if (c < ' ') return null;
      const max = n?.maxLength ?? DEFAULT_MAX_STRING;
      if (top.len >= max) return null;
      if (c === '\\') return top.key && top.key.length ? null : put({ ...top, esc: 1 });
      if (top.key && top.key.length) {
        const buf = top.buf + c;
        if (!top.key.some((k) => k.startsWith(buf))) return null;
        return put({ ...top, buf, len: top.len + 1 });
      }
      return put({ ...top, len: top.len + 1 });
    }
    case 'num': {
      const next = numStep(top.st, c, top.int, top.bounds !== null);
      if (next) {
        if (top.len >= MAX_NUMBER) return null;
        const text = top.bounds ? top.text + c : '';
        if (top.bounds && !feasible(text, next, top.bounds, top.int)) return null;
        return put({ ...top, st: next, len: top.len + 1, text });
      }
      if (!NUM_DONE.has(top.st)) return null;
      if (top.bounds && !within(Number(top.text), top.bounds)) return null;
      const after = close(rest);
      return after ? step(after, c) : null;
    }
    case 'lit': {
      const options = top.options.filter((o) => o[top.pos] === c);
      if (options.length) return put({ ...top, options, pos: top.pos + 1 });
      if (!top.options.some((o) => o.length === top.pos)) return null;
      const after = close(rest);
      return after ? step(after, c) : null;
    }
  }
}

/** A value starts with `c` under `node`: the frame for its kind (null when `c` cannot start one). */
function openValue(rest: readonly Frame[], node: Node | null, c: string): JsonState | null {
  if (rest.length >= MAX_DEPTH) return null;
  if (node?.anyOf) {
    const branch = node.anyOf.find((b) => firstChars(b).has(c)); // at most one: checked at compile time
    return branch ? openValue(rest, branch, c) : null;
  }
  if (node?.literals) {
    const options = node.literals.filter((o) => o[0] === c);
    return options.length ? { stack: [...rest, { k: 'lit', options, pos: 1 }] } : null;
  }
  if (c === '{' && allows(node, 'object')) return { stack: [...rest, { k: 'obj', node, st: 'start', seen: [], key: '', ws: 0 }] };
  if (c === '[' && allows(node, 'array')) return { stack: [...rest, { k: 'arr', node, st: 'start', count: 0, ws: 0 }] };
  if (c === '"' && allows(node, 'string')) return { stack: [...rest, { k: 'str', node, key: null, buf: '', len: 0, esc: 0 }] };
  const num = allows(node, 'number'), int = allows(node, 'integer');
  if ((num || int) && (c === '-' || isDigit(c))) {
    const st = c === '-' ? 'sign' : c === '0' ? 'zero' : 'int';
    const bounds = node?.bounds ?? null;
    if (bounds && !feasible(c, st, bounds, !num)) return null;
    return { stack: [...rest, { k: 'num', int: !num, st, len: 1, bounds, text: bounds ? c : '' }] };
  }
  const lits = [...(allows(node, 'boolean') ? ['true', 'false'] : []), ...(allows(node, 'null') ? ['null'] : [])].filter((o) => o[0] === c);
  return lits.length ? { stack: [...rest, { k: 'lit', options: lits, pos: 1 }] } : null;
}

/** The number grammar; with bounds, no exponent (so every prefix's value range is known). */
function numStep(st: NumState, c: string, int: boolean, bounded = false): NumState | null {
  const d = isDigit(c);
  const e = !bounded && (c === 'e' || c === 'E');
  switch (st) {
    case 'sign': return c === '0' ? 'zero' : d ? 'int' : null;
    case 'zero': return int ? null : c === '.' ? 'dot' : e ? 'e' : null;
    case 'int': return d ? 'int' : int ? null : c === '.' ? 'dot' : e ? 'e' : null;
    case 'dot': return d ? 'frac' : null;
    case 'frac': return d ? 'frac' : e ? 'e' : null;
    case 'e': return c === '+' || c === '-' ? 'esign' : d ? 'exp' : null;
    case 'esign': return d ? 'exp' : null;
    case 'exp': return d ? 'exp' : null;
  }
}

const within = (v: number, b: NonNullable<Node['bounds']>) =>
  (b.exclusiveMin ? v > b.min : v >= b.min) && (b.exclusiveMax ? v < b.max : v <= b.max);

/**
 * Can the number whose text so far is `text` (no exponent: bounded numbers have none) still end
 * inside the bounds? The values it can still become form intervals: with k more integer digits,
 * [m·10^k, (m+1)·10^k) for magnitude m (integers: up to (m+1)·10^k − 1); with a fraction so far,
 * [v, v + 10^−digits). Negative numbers mirror them. Feasible when one interval meets the bounds.
 */
function feasible(text: string, st: NumState, b: NonNullable<Node['bounds']>, int: boolean): boolean {
  if (st === 'sign') return b.min < 0 || (b.min === 0 && !b.exclusiveMin); // "-0" is 0
  const neg = text.startsWith('-');
  const [ip, fp] = text.slice(neg ? 1 : 0).split('.');
  const meets = (lo: number, hi: number, hiOpen: boolean) => {
    // the interval [lo, hi] (hi excluded when hiOpen), mirrored for negatives, against the bounds
    const [a, c, aOpen, cOpen] = neg ? [-hi, -lo, hiOpen, false] : [lo, hi, false, hiOpen];
    const belowMax = a < b.max || (a === b.max && !aOpen && !b.exclusiveMax);
    const aboveMin = c > b.min || (c === b.min && !cOpen && !b.exclusiveMin);
    return belowMax && aboveMin;
  };
  if (fp !== undefined) {
    const v = Number(`${ip}.${fp || '0'}`);
    return meets(v, v + 10 ** -fp.length, true);
  }
  const m = Number(ip);
  if (st === 'zero') return meets(0, int ? 0 : 1, !int);
  for (let k = 0, scale = 1; k + text.length <= MAX_NUMBER && m * scale <= Number.MAX_VALUE; k++, scale *= 10) {
    if (int ? meets(m * scale, (m + 1) * scale - 1, false) : meets(m * scale, (m + 1) * scale, true)) return true;
  }
  return false;
}

/** A value closed: its frame is gone (obj/arr parents already moved to 'next' when it opened). */
function close(rest: readonly Frame[]): JsonState {
  return { stack: rest };
}

function closeKey(rest: readonly Frame[], key: string): JsonState | null {
  const obj = rest[rest.length - 1];
  if (obj?.k !== 'obj') return null;
  if (obj.node?.props && obj.seen.includes(key)) return null;
  return { stack: [...rest.slice(0, -1), { ...obj, st: 'colon', key, seen: obj.node?.props ? [...obj.seen, key] : obj.seen, ws: 0 }] };
}

/** Feed a whole text; null when some character is not allowed. */
export function feed(s: JsonState, text: string): JsonState | null {
  let cur: JsonState | null = s;
  for (const c of text) {
    if (!cur) return null;
    cur = step(cur, c);
  }
  return cur;
}

// ---- over a vocabulary ----

interface TrieNode {
  next: Map<string, TrieNode>;
  /** Token ids whose text ends here. */
  ids: number[];
  /** Some token below this node has a character that is not plain string content (see `plain`). */
  special: boolean;
}

/** A character that continues a JSON string as itself: not a quote, backslash or control character. */
const plain = (c: string) => c >= ' ' && c !== '"' && c !== '\\';

/**
 * The vocabulary's token texts in a trie. `texts[id]` is null for tokens that can never appear in
 * constrained output (special tokens, tokens with no text, partial UTF-8 sequences).
 *
 * `allowed` is the spec: walk the trie from the state, one character at a time, so every visited
 * path is a valid prefix. `allowedFast` gives the same set (a parity test holds them together)
 * for the common expensive case — inside free string content, where nearly every token is
 * allowed: tokens made only of plain characters are marked in one pass by length, and the walk
 * descends only into subtrees that hold a quote, backslash or control character.
 */
export class VocabTrie {
  readonly root: TrieNode = { next: new Map(), ids: [], special: false };
  /** Characters of each token when all are plain string content, else −1. */
  readonly plainLen: Int32Array;
  constructor(readonly texts: readonly (string | null)[]) {
    this.plainLen = new Int32Array(texts.length).fill(-1);
    texts.forEach((t, id) => {
      if (!t) return;
      let n = this.root;
      let len = 0, allPlain = true;
      for (const c of t) {
        len++;
        if (!plain(c)) allPlain = false;
        let m = n.next.get(c);
        if (!m) n.next.set(c, (m = { next: new Map(), ids: [], special: false }));
        n = m;
      }
      n.ids.push(id);
      if (allPlain) this.plainLen[id] = len;
    });
    const mark = (n: TrieNode): boolean => {
      for (const [c, m] of n.next) if (mark(m) || !plain(c)) n.special = true;
      return n.special;
    };
    mark(this.root);
  }

  /** Ids of every token whose whole text continues `s` validly (each visited path is a valid prefix). */
  allowed(s: JsonState, out: Uint8Array): number {
    return this.walk(this.root, s, out);
  }

  /** Mark the tokens below `n` whose text continues `st`; the count marked. */
  private walk(n: TrieNode, st: JsonState, out: Uint8Array): number {
    let count = 0;
    for (const [c, m] of n.next) {
      const s2 = step(st, c);
      if (!s2) continue;
      for (const id of m.ids) { out[id] = 1; count++; }
      // Once the root closed nothing may follow: do not walk deeper.
      if (s2.stack.length) count += this.walk(m, s2, out);
    }
    return count;
  }

  /** The same set as `allowed`; much faster inside free string content. Returns > 0 when any token is allowed. */
  allowedFast(s: JsonState, out: Uint8Array): number {
    const top = s.stack[s.stack.length - 1];
    if (top?.k !== 'str' || top.esc !== 0 || (top.key && top.key.length)) return this.allowed(s, out);
    const room = (top.node?.maxLength ?? DEFAULT_MAX_STRING) - top.len;
    let count = 0;
    const pl = this.plainLen;
    for (let id = 0; id < pl.length; id++) if (pl[id] > 0 && pl[id] <= room) { out[id] = 1; count++; }
    // Along plain characters only the length changes: no state is built until the first
    // quote, backslash or control character, from where the spec walk takes over.
    const rest = s.stack.slice(0, -1);
    const plainWalk = (n: TrieNode, depth: number) => {
      for (const [c, m] of n.next) {
        if (plain(c)) {
          if (m.special && depth + 1 <= room) plainWalk(m, depth + 1);
          continue; // tokens ending here are plain: marked above
        }
        const st: JsonState = depth ? { stack: [...rest, { ...top, len: top.len + depth }] } : s;
        const s2 = step(st, c);
        if (!s2) continue;
        for (const id of m.ids) { out[id] = 1; count++; }
        if (s2.stack.length) count += this.walk(m, s2, out);
      }
    };
    plainWalk(this.root, 0);
    return count;
  }
}

/**
 * Token texts as generation emits them: each token decoded after an anchor token (so decoders
 * that strip a leading space at the start of a text keep it), special and partial-UTF-8 tokens null.
 */
export function tokenTexts(tk: { vocabSize: number; decode(ids: number[], o?: { skipSpecial?: boolean }): string; isSpecial(id: number): boolean; encode(t: string, o?: { addSpecial?: boolean }): number[] }, vocabSize: number): (string | null)[] {
  const anchor = tk.encode('a', { addSpecial: false })[0] ?? 0;
  const base = tk.decode([anchor]);
  const out: (string | null)[] = new Array(vocabSize).fill(null);
  for (let id = 0; id < Math.min(vocabSize, tk.vocabSize); id++) {
    if (tk.isSpecial(id)) continue;
    const full = tk.decode([anchor, id]);
    if (!full.startsWith(base)) continue;
    const t = full.slice(base.length);
    if (t && !t.includes('\uFFFD')) out[id] = t;
  }
  return out;
}

/** The engine's TokenConstraint for one sequence: the JSON state, advanced by each sampled token. */
export class JsonConstraint {
  private state: JsonState;
  private readonly allowedBuf: Uint8Array;
  constructor(private readonly trie: VocabTrie, root: Node, private readonly fallbackIds: readonly number[]) {
    this.state = start(root);
    this.allowedBuf = new Uint8Array(trie.texts.length);
  }

  mask(logits: Float32Array): void {
    const ok = this.allowedBuf;
    ok.fill(0);
    const n = this.trie.allowedFast(this.state, ok);
    // Nothing fits (cannot happen with a byte or character fallback in the vocabulary): let EOS end it.
    if (n === 0) for (const id of this.fallbackIds) ok[id] = 1;
    for (let i = 0; i < logits.length; i++) if (!ok[i]) logits[i] = -Infinity;
  }

  accept(token: number): void {
    const t = this.trie.texts[token];
    const next = t ? feed(this.state, t) : null;
    if (next) this.state = next;
  }

  complete(): boolean {
    return isComplete(this.state);
  }
}
