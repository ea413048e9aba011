/**
 * `openledger attribution <inference id> [--now] [--wait S] [--json]`: which contributors' rows
 * shaped an answer, with the evidence (rows, scores, Merkle proofs), as a readable table.
 * `openledger attribution reputation <address>` and `openledger attribution flags` for governance.
 */
import type { Command } from 'commander';
import { invalid } from '../../util/errors.ts';
import { NodeClient, signedIn, userOptions, type UserOptions } from '../client.ts';
import { printJson, printTable } from '../output.ts';

interface Opts extends UserOptions { apiKey?: string; now: boolean; wait: string }

const short = (a: string) => (a && a.length > 14 ? `${a.slice(0, 8)}…${a.slice(-4)}` : a);
const pct = (ppm: number) => `${(ppm / 10_000).toFixed(2)}%`;

export function printRecord(r: any): void {
  if (r.status !== 'done') {
    console.log(`attribution of ${r.inferenceId}: ${r.status}${r.error ? ` — ${r.error.message}` : ''}${r.hint ? ` (${r.hint})` : ''}`);
    return;
  }
  console.log(`attribution of ${r.inferenceId}  model ${r.model}  base ${r.base}  method ${r.method.name} v${r.method.version}`);
  for (const v of r.datanetVersions) console.log(`  datanet ${v.datanetId} v${v.version}  root ${v.merkleRoot}  committed in ${short(v.commitTx)}`);
  const g = r.method.gradient;
  console.log(`  gradient: ${g.available ? `${g.method}, ${g.checkpoints} checkpoints × ${g.dims} dims (seed ${g.projectionSeed})` : `unavailable — ${g.reason}`}`);
  console.log(`  spans:    ${r.method.span.available ? `${r.method.span.spans.length} found` : `unavailable — ${r.method.span.reason}`}`);
  for (const s of r.method.span.spans.slice(0, 5)) console.log(`    "${s.text}" ×${s.count} in rows ${s.rows.join(', ')}`);
  console.log('\ncontributors');
  if (!r.contributorWeights.length) console.log('  (none with positive influence: the fee split falls back to pro rata)');
  else printTable(r.contributorWeights.map((w: any) => ({ contributor: w.address, share: pct(w.weightPpm), ppm: w.weightPpm })));
  console.log('\nrows that shaped the answer');
  printTable(r.topRows.map((x: any) => ({
    datanet: `${x.datanetId}@${x.version}`, row: x.rowId, contributor: short(x.contributor), score: x.score.toExponential(2),
    gradient: x.gradientScore === null ? '-' : x.gradientScore.toExponential(2), span: x.spanScore === null ? '-' : x.spanScore.toFixed(2),
    proof: x.proof ? (x.proof.verified ? `✓ ${x.proof.proof.length} hashes` : '✗') : '-', paid: x.excluded ? `no (${x.excluded})` : 'yes',
  })));
  if (r.negativeRows.length) {
    console.log('\nrows that pushed against it (not paid; reviewed for flags)');
    printTable(r.negativeRows.map((x: any) => ({ datanet: `${x.datanetId}@${x.version}`, row: x.rowId, contributor: short(x.contributor), score: x.score.toExponential(2) })));
  }
  for (const w of r.warnings) console.log(`note: ${w}`);
}

export function attributionCommands(program: Command) {
  const cmd = userOptions(
    program
      .command('attribution <id>')
      .description('show which contributors\' rows shaped an answer (inference id = the completion id), with scores and Merkle proofs')
      .option('--api-key <key>', 'use an API key instead of signing in with the dev keyring', process.env.OPENLEDGER_API_KEY)
      .option('--now', 'attribute it now if it is not done yet (front of the queue)', false)
      .option('--wait <s>', 'seconds to wait with --now (0–60)', '30'),
  );
  cmd.action(async (id: string, o: Opts) => {
    const wait = Number(o.wait);
    if (!(Number.isFinite(wait) && wait >= 0 && wait <= 60)) throw invalid(`--wait must be 0…60 seconds, got "${o.wait}"`, { param: 'wait', code: 'invalid_option' });
    const client = o.apiKey ? Object.assign(new NodeClient(o.api), { token: o.apiKey }) : (await signedIn(o)).client;
    const path = `/v1/inferences/${encodeURIComponent(id)}/attribution`;
    const r = o.now ? await client.request('POST', `${path}?wait=${wait}`) : await client.request('GET', path);
    if (o.json) return printJson(r);
    printRecord(r);
  });

  userOptions(program.command('reputation <address>').description('a contributor\'s attribution reputation and flagged rows')).action(async (address: string, o: UserOptions) => {
    const r = await new NodeClient(o.api).request('GET', `/v1/attribution/contributors/${encodeURIComponent(address)}`);
    if (o.json) return printJson(r);
    console.log(`${r.address}  reputation ${r.score.toFixed(3)}`);
    console.log(`  influence: ${r.influence.positive} positive / ${r.influence.negative} negative appearances (positive share ${r.influence.share === null ? '-' : r.influence.share.toFixed(3)})`);
    console.log(`  validators: ${r.validator.accepted} accepted / ${r.validator.rejected} rejected rows`);
    console.log(`  flagged rows: ${r.rows.flagged}`);
    if (r.flaggedRows.length) printTable(r.flaggedRows.map((f: any) => ({ datanet: f.datanetId, row: f.rowId, negative: f.negative, positive: f.positive })));
  });
}
