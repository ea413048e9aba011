/**
 * The starter model's pre-training corpus: text the project may redistribute, and nothing else.
 *
 *   procedural   simple English written by a seeded generator from word lists and templates in
 *                this file (the project's own, Apache-2.0): short stories, dialogues, everyday
 *                facts, question/answer pairs in the Model Factory's instruction form
 *                ("question\nanswer" + <|im_end|>), and ChatML conversations, so the base already
 *                knows the chat template's shape;
 *   public domain  Ambrose Bierce's The Devil's Dictionary excerpt shipped in
 *                datasets/demo-datanets/devils-dictionary (1911, public domain).
 *
 * Deliberately absent: the Veloria facts and the product-sentiment reviews of the demo datanets,
 * so that fine-tuning the starter on them shows a real gain on their held-out split. The
 * generator never writes "Veloria" or any Velorian name (see the check in `buildCorpus`).
 *
 * Every document ends with an end marker: <|endoftext|> for prose, <|im_end|> for an answer
 * (instruction form) or a chat turn. The output is a function of the seed alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Xorshift } from '../../src/engine/train/rng.ts';

export const EOT = '<|endoftext|>';
export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';

class Gen {
  private rng: Xorshift;
  constructor(seed: number) { this.rng = new Xorshift(seed); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.rng.next() * xs.length)]; }
  int(lo: number, hi: number): number { return lo + Math.floor(this.rng.next() * (hi - lo + 1)); }
  chance(p: number): boolean { return this.rng.next() < p; }
  next(): number { return this.rng.next(); }
}

const GIRLS = ['Mia', 'Lily', 'Emma', 'Zoe', 'Ava', 'Nora', 'Ella', 'Ruby', 'Lucy', 'Anna', 'Sara', 'Maya', 'Hana', 'Iris', 'Jade', 'Rosa'];
const BOYS = ['Tom', 'Ben', 'Leo', 'Sam', 'Max', 'Jack', 'Noah', 'Omar', 'Finn', 'Theo', 'Ravi', 'Luis', 'Kai', 'Eli', 'Owen', 'Hugo'];
const ANIMALS = ['cat', 'dog', 'bird', 'rabbit', 'fox', 'bear', 'frog', 'duck', 'mouse', 'owl', 'horse', 'turtle', 'fish', 'goat', 'lion', 'squirrel'];
const ADJ = ['little', 'big', 'happy', 'small', 'brave', 'kind', 'shy', 'curious', 'sleepy', 'funny', 'clever', 'gentle', 'quiet', 'busy', 'old', 'young'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'brown', 'white', 'black', 'gray', 'golden'];
const PLACES = ['the park', 'the garden', 'the forest', 'the beach', 'the lake', 'the farm', 'the school', 'the market', 'the library', 'the hill', 'the river', 'the kitchen', 'the village', 'the zoo', 'the museum', 'the meadow'];
const OBJECTS = ['ball', 'kite', 'book', 'hat', 'box', 'cake', 'toy', 'drum', 'map', 'shell', 'flower', 'key', 'lamp', 'boat', 'bell', 'cup', 'apple', 'sock', 'stone', 'feather'];
const FEELINGS = ['happy', 'sad', 'scared', 'excited', 'tired', 'proud', 'surprised', 'calm', 'worried', 'glad'];
const VERBS_PAST = ['played', 'danced', 'sang', 'ran', 'jumped', 'laughed', 'walked', 'read', 'painted', 'swam'];
const WEATHER = ['sunny', 'rainy', 'windy', 'cold', 'warm', 'cloudy', 'snowy', 'bright'];
const TIMES = ['One day', 'One morning', 'Once upon a time', 'Last summer', 'On a rainy day', 'Early one morning', 'In the evening', 'Long ago'];
const FOODS = ['bread', 'soup', 'rice', 'apples', 'cheese', 'carrots', 'pancakes', 'berries', 'noodles', 'eggs'];
const JOBS: Array<[string, string]> = [
  ['doctor', 'helps sick people get better'], ['teacher', 'helps children learn'], ['farmer', 'grows food on a farm'],
  ['baker', 'makes bread and cakes'], ['pilot', 'flies airplanes'], ['chef', 'cooks food in a kitchen'],
  ['firefighter', 'puts out fires'], ['librarian', 'looks after books in a library'], ['builder', 'builds houses'],
  ['nurse', 'cares for patients'], ['painter', 'paints pictures'], ['gardener', 'takes care of plants'],
];
const ANIMAL_FACTS: Array<[string, string, string]> = [
  ['cat', 'says meow', 'likes to sleep in the sun'], ['dog', 'barks', 'likes to chase balls'], ['cow', 'says moo', 'gives milk'],
  ['bird', 'sings', 'can fly'], ['duck', 'quacks', 'can swim'], ['frog', 'croaks', 'lives near water'], ['bee', 'buzzes', 'makes honey'],
  ['horse', 'neighs', 'can run fast'], ['owl', 'hoots', 'is awake at night'], ['fish', 'swims', 'breathes with gills'],
  ['sheep', 'says baa', 'has wool'], ['lion', 'roars', 'is a big cat'], ['snake', 'hisses', 'has no legs'], ['mouse', 'squeaks', 'is very small'],
];
// Everyday facts that are true of the real world (short, plain sentences).
const FACTS = [
  'The sun rises in the east and sets in the west.', 'Water freezes at zero degrees Celsius.', 'Water boils at one hundred degrees Celsius at sea level.',
  'A week has seven days.', 'A year has twelve months.', 'A day has twenty four hours.', 'An hour has sixty minutes.',
  'Plants need water and light to grow.', 'The moon goes around the earth.', 'The earth goes around the sun.', 'Fish live in water.',
  'Birds have feathers.', 'Ice is frozen water.', 'The sky looks blue on a clear day.', 'Grass is green.', 'Snow is cold and white.',
  'Bees make honey.', 'Trees have roots, a trunk, branches and leaves.', 'People breathe air.', 'The ocean is salty.',
  'A triangle has three sides.', 'A square has four equal sides.', 'Spring comes after winter.', 'Summer is usually the warmest season.',
  'Rain falls from clouds.', 'A rainbow appears when sunlight shines through rain.', 'Milk comes from cows and goats.', 'Bread is made from flour.',
  'A clock tells the time.', 'A map shows where places are.', 'Books are made of paper.', 'The heart pumps blood around the body.',
  'We see with our eyes and hear with our ears.', 'Seeds grow into plants.', 'A baby cat is called a kitten.', 'A baby dog is called a puppy.',
  'Wind is moving air.', 'Mountains are very tall.', 'Rivers flow to the sea.', 'Stars shine at night.', 'Fire is hot.',
];
const QA_FIXED: Array<[string, string]> = [
  ['What color is the sky on a clear day?', 'The sky is blue on a clear day.'], ['How many days are in a week?', 'There are seven days in a week.'],
  ['How many months are in a year?', 'There are twelve months in a year.'], ['What do bees make?', 'Bees make honey.'],
  ['Where do fish live?', 'Fish live in water.'], ['What is ice?', 'Ice is frozen water.'], ['What do plants need to grow?', 'Plants need water and light to grow.'],
  ['How many sides does a triangle have?', 'A triangle has three sides.'], ['What is a baby cat called?', 'A baby cat is called a kitten.'],
  ['What is a baby dog called?', 'A baby dog is called a puppy.'], ['What does a clock do?', 'A clock tells the time.'],
  ['What goes around the earth?', 'The moon goes around the earth.'], ['What is wind?', 'Wind is moving air.'],
  ['Which season comes after winter?', 'Spring comes after winter.'], ['What is bread made from?', 'Bread is made from flour.'],
  ['What pumps blood around the body?', 'The heart pumps blood around the body.'], ['Where does the sun rise?', 'The sun rises in the east.'],
];
const NUM_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const SYSTEMS = ['You are a helpful assistant.', 'You are a friendly assistant. Answer briefly.', 'You answer questions clearly and kindly.'];
const GREETINGS: Array<[string, string]> = [
  ['Hello!', 'Hello! How can I help you today?'], ['Hi there.', 'Hi! What would you like to know?'], ['Good morning!', 'Good morning! How can I help?'],
  ['Thank you!', 'You are welcome!'], ['Thanks for your help.', 'I am glad I could help.'], ['Who are you?', 'I am a small assistant model. I can answer simple questions.'],
  ['Goodbye!', 'Goodbye! Have a nice day.'], ['Can you help me?', 'Yes, of course. What do you need?'],
];

function capital(s: string) { return s[0].toUpperCase() + s.slice(1); }
function an(word: string) { return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`; }

function story(g: Gen): string {
  const girl = g.chance(0.5);
  const name = g.pick(girl ? GIRLS : BOYS), he = girl ? 'she' : 'he', his = girl ? 'her' : 'his';
  const friend = g.pick(g.chance(0.5) ? GIRLS : BOYS);
  const animal = g.pick(ANIMALS), adj = g.pick(ADJ), place = g.pick(PLACES), obj = g.pick(OBJECTS), color = g.pick(COLORS);
  const feel = g.pick(FEELINGS), verb = g.pick(VERBS_PAST), weather = g.pick(WEATHER), food = g.pick(FOODS);
  const s: string[] = [];
  s.push(`${g.pick(TIMES)}, ${an(adj)} ${girl ? 'girl' : 'boy'} named ${name} went to ${place}.`);
  s.push(`It was ${weather} outside, and ${name} felt ${feel}.`);
  switch (g.int(0, 4)) {
    case 0:
      s.push(`At ${place}, ${he} found ${an(color)} ${obj} under a tree.`);
      s.push(`"Whose ${obj} is this?" ${name} asked.`);
      s.push(`${friend} came running and said, "It is mine! I lost it yesterday."`);
      s.push(`${name} gave the ${obj} back to ${friend}. ${capital(friend)} smiled and said, "Thank you, ${name}!"`);
      s.push(`After that, ${name} and ${friend} ${verb} together until the sun went down.`);
      break;
    case 1:
      s.push(`There ${he} met ${an(adj)} ${animal}. The ${animal} looked ${g.pick(FEELINGS)}.`);
      s.push(`"What is wrong?" asked ${name}. "I am hungry," said the ${animal}.`);
      s.push(`${capital(he)} shared ${his} ${food} with the ${animal}.`);
      s.push(`The ${animal} was very happy, and from that day on they were good friends.`);
      break;
    case 2:
      s.push(`${capital(he)} wanted to build ${an(color)} ${obj}, but it was hard.`);
      s.push(`${capital(he)} tried once and it fell. ${capital(he)} tried again and it fell again.`);
      s.push(`${friend} said, "Do not give up. Let us try together."`);
      s.push(`They worked together, and at last the ${obj} stood tall. ${name} felt proud.`);
      break;
    case 3:
      s.push(`${capital(his)} mother gave ${girl ? 'her' : 'him'} ${an(obj)} and some ${food} for lunch.`);
      s.push(`On the way, ${name} saw ${an(animal)} ${g.pick(['sleeping', 'playing', 'eating', 'hiding'])} near ${g.pick(PLACES)}.`);
      s.push(`${capital(he)} waved at the ${animal}, and the ${animal} waved back.`);
      s.push(`When ${name} came home, ${he} told everyone about the ${animal}. They all laughed.`);
      break;
    default:
      s.push(`${capital(he)} had ${NUM_WORDS[g.int(2, 9)]} ${obj}s in a ${color} bag.`);
      s.push(`${capital(he)} gave one ${obj} to ${friend} and one to ${an(adj)} ${animal}.`);
      s.push(`"Sharing makes me ${g.pick(['happy', 'glad'])}," said ${name}.`);
      s.push(`The moral of the story is that kindness makes friends.`);
  }
  return s.join(' ');
}

function dialogue(g: Gen): string {
  const a = g.pick(GIRLS), b = g.pick(BOYS);
  const place = g.pick(PLACES), food = g.pick(FOODS), weather = g.pick(WEATHER);
  const lines = g.pick([
    [`${a}: Where are you going, ${b}?`, `${b}: I am going to ${place}.`, `${a}: Can I come with you?`, `${b}: Yes, let us go together.`],
    [`${a}: What did you eat today?`, `${b}: I ate ${food} for lunch.`, `${a}: Was it good?`, `${b}: Yes, it was very good.`],
    [`${b}: How is the weather?`, `${a}: It is ${weather} today.`, `${b}: Then I will take my ${g.pick(OBJECTS)}.`, `${a}: Good idea.`],
    [`${b}: Do you like animals?`, `${a}: Yes, I love ${g.pick(ANIMALS)}s.`, `${b}: Me too. I have ${an(g.pick(ANIMALS))} at home.`, `${a}: That is wonderful!`],
  ]);
  return lines.join('\n');
}

/** A question and its answer (used both as instruction rows and as chat turns). */
function qa(g: Gen): [string, string] {
  switch (g.int(0, 7)) {
    case 0: { const [animal, sound] = g.pick(ANIMAL_FACTS); return [`What sound does a ${animal} make?`, `A ${animal} ${sound}.`]; }
    case 1: { const [animal, , fact] = g.pick(ANIMAL_FACTS); return [`Tell me something about the ${animal}.`, `The ${animal} ${fact}.`]; }
    case 2: { const [job, does] = g.pick(JOBS); return [`What does ${an(job)} do?`, `${capital(an(job))} ${does}.`]; }
    case 3: { const x = g.int(0, 9), y = g.int(0, 9); return [`What is ${x} plus ${y}?`, `${x} plus ${y} is ${x + y}.`]; }
    case 4: { const x = g.int(5, 12), y = g.int(0, x); return [`What is ${x} minus ${y}?`, `${x} minus ${y} is ${x - y}.`]; }
    case 5: { const n = g.int(0, 12); return [`How do you write the number ${n} in words?`, `The number ${n} is written "${NUM_WORDS[n]}".`]; }
    case 6: { const c = g.pick(COLORS), o = g.pick(OBJECTS); return [`I have ${an(c)} ${o}. What color is my ${o}?`, `Your ${o} is ${c}.`]; }
    default: return g.pick(QA_FIXED);
  }
}

function factsParagraph(g: Gen): string {
  const n = g.int(2, 5), out: string[] = [];
  for (let i = 0; i < n; i++) out.push(g.pick(FACTS));
  return out.join(' ');
}

function chat(g: Gen): string {
  const turns: Array<[string, string]> = [];
  const n = g.int(1, 3);
  for (let i = 0; i < n; i++) turns.push(g.chance(0.2) ? g.pick(GREETINGS) : g.chance(0.15) ? ['Tell me a short story.', story(g)] : qa(g));
  let s = g.chance(0.5) ? `${IM_START}system\n${g.pick(SYSTEMS)}${IM_END}\n` : '';
  for (const [u, a] of turns) s += `${IM_START}user\n${u}${IM_END}\n${IM_START}assistant\n${a}${IM_END}\n`;
  return s;
}

export interface Corpus {
  /** Documents, each ending with its end marker. */
  train: string[];
  heldOut: string[];
}

/** Devil's Dictionary entries (blank-line separated in the shipped file). */
export function publicDomainEntries(root: string): string[] {
  return readFileSync(join(root, 'datasets/demo-datanets/devils-dictionary/entries.txt'), 'utf8').split(/\n\s*\n/).map((e) => e.trim()).filter(Boolean);
}

/**
 * `docs` procedural documents + the public-domain entries, split before anything repeats: every
 * `heldOutEvery`-th document (by a seeded order) is held out; the training split's public-domain
 * entries appear `pdRepeat` times (they are a small share of the text). Training order shuffled.
 */
export function buildCorpus(root: string, opts: { seed: number; docs: number; pdRepeat?: number; heldOutEvery?: number }): Corpus {
  const g = new Gen(opts.seed);
  const proc: string[] = [];
  for (let i = 0; i < opts.docs; i++) {
    const k = g.next();
    if (k < 0.32) proc.push(story(g) + EOT);
    else if (k < 0.42) proc.push(dialogue(g) + EOT);
    else if (k < 0.52) proc.push(factsParagraph(g) + EOT);
    else if (k < 0.72) { const [q, a] = qa(g); proc.push(`${q}\n${a}${IM_END}`); }
    else proc.push(chat(g) + EOT);
  }
  const pd = publicDomainEntries(root).map((e) => e + EOT);
  for (const d of [...proc, ...pd]) {
    if (/veloria|velorian/i.test(d)) throw new Error('the starter corpus must not mention Veloria (the demo datanet must stay unseen)');
  }
  const every = opts.heldOutEvery ?? 50;
  const train: string[] = [], heldOut: string[] = [];
  const split = (docs: string[], repeat: number, salt: number) => {
    new Xorshift(opts.seed + salt).permutation(docs.length).forEach((j, i) => {
      if (i % every === every - 1) heldOut.push(docs[j]);
      else for (let r = 0; r < repeat; r++) train.push(docs[j]);
    });
  };
  split(proc, 1, 1);
  split(pd, opts.pdRepeat ?? 3, 2);
  const order = new Xorshift(opts.seed + 3).permutation(train.length);
  return { train: order.map((i) => train[i]), heldOut };
}
