/**
 * Attributing one inference: its answer → rows → contributors, with evidence.
 *
 *   inference text (attribution_inferences)
 *     │ fine-tuned by this node's factory? ── yes ─▶ job rows + gradient features (features.ts)
 *     │                                            ψ = P·∇ℓ(answer | adapter at each checkpoint)
 *     │                                            τ_i = score(method, Φ, ψ)       (scorers.ts)
 *     │                                       no / features missing or damaged ─▶ gradient: unavailable (said in the record)
 *     ├─▶ span index of each datanet version (the job's, or for a base model the latest published
 *     │   ones), built on first use, rebuilt when damaged ─▶ OLMoTrace spans (spans.ts)
 *     ├─▶ mix the signals (gradient 0.75 / span 0.25 of the payout), exclusions, clusters, cap (weights.ts)
 *     └─▶ record: top rows with scores and Merkle proofs against the version roots committed on chain
 *
 * Pure reads: it runs on the attribution thread with its own read-only connection; the caller
 * writes the outcome (queue.ts).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Db } from '../store/index.ts';
import { loadModel, type LoadedModel, type Kernels } from '../engine/index.ts';
import { selectKernels } from '../engine/kernels/select.ts';
import { FactoryRepo } from '../factory/repo.ts';
import { buildDataset, type RowFormat } from '../factory/dataset.ts';
import { ModelCatalog } from '../models/index.ts';
import { rowText, type DataFormat, type RowData } from '../datanets/formats.ts';
import { signatureFromBytes } from '../datanets/minhash.ts';
import { VersionTree, verifyRowProof } from '../datanets/merkle.ts';
import { OpenLedgerError, notFound } from '../util/errors.ts';
import type { AttributionConfig } from './config.ts';
import { loadFeatures, queryFeatures, releaseFeatures, type LoadedFeatures } from './features.ts';
import { prepareTrak, score, type TrakState } from './scorers.ts';
import { SpanIndex } from './span-index.ts';
import { findSpans, spanRowScores } from './spans.ts';
import { contributorWeights, mixSignals, type RowEvidence } from './weights.ts';
import { AttributionRepo, type InferenceText } from './repo.ts';

export const METHOD_VERSION = '1.0.0';
const MAX_BASE_VERSIONS = 16;

export interface AttributionOutcome {
  method: string;
  record: AttributionRecord;
  weights: Array<{ address: string; weightPpm: number }>;
  rowStats: Array<{ datanetId: number; rowId: number; contributor: string; sign: 1 | -1; mass: number }>;
  logs: string[];
}

export interface RowRef { datanetId: number; version: number; rowId: number; contributor: string }

export interface RecordRow extends RowRef {
  score: number;
  gradientScore: number | null;
  spanScore: number | null;
  excluded: string | null;
  proof: { root: string; leaf: { rowHash: string; contributor: string }; proof: string[]; verified: boolean; commitTx: string } | null;
}

export interface AttributionRecord {
  object: 'attribution';
  inferenceId: string;
  model: string;
  base: string;
  adapters: Array<{ model: string; weight: number }>;
  datanetVersions: Array<{ datanetId: number; version: number; merkleRoot: string; commitTx: string }>;
  method: { name: string; version: string; gradient: { available: boolean; method: string | null; reason: string | null; checkpoints: number; dims: number; projectionSeed: number | null }; span: { available: boolean; reason: string | null; spans: Array<{ text: string; start: number; end: number; count: number; rows: number[] }> } };
  topRows: RecordRow[];
  negativeRows: RecordRow[];
  contributorWeights: Array<{ address: string; weightPpm: number }>;
  excluded: Array<{ rowId: number; reason: string }>;
  warnings: string[];
  createdAt: number;
}

interface VersionInfo { datanetId: number; version: number; merkleRoot: string; tree: string; txHash: string; format: DataFormat }

export interface AttributorOptions {
  db: Db;
  dataDir: string;
  config: AttributionConfig;
  /** Kernels for a loaded model (default: the engine's selection). */
  kernels?: (m: LoadedModel) => Kernels;
}

/** Holds the caches of one attribution thread: models, feature sets, TRAK factors, span indexes, version trees. */
export class Attributor {
  private readonly models = new Map<string, { model: LoadedModel; kernels: Kernels; close: () => void }>();
  private readonly features = new Map<string, { f: LoadedFeatures; trak: TrakState | null }>();
  private readonly spans = new Map<string, SpanIndex>();
  private readonly trees = new Map<string, VersionTree>();
  private readonly repo: AttributionRepo;
  private readonly factory: FactoryRepo;

  constructor(private readonly o: AttributorOptions) {
    this.repo = new AttributionRepo(o.db);
    this.factory = new FactoryRepo(o.db);
  }

  close(): void {
    for (const m of this.models.values()) m.close();
    for (const s of this.spans.values()) s.close();
    for (const f of this.features.values()) releaseFeatures(f.f);
    this.models.clear(); this.spans.clear(); this.features.clear(); this.trees.clear();
  }

  async attribute(inferenceId: string): Promise<AttributionOutcome> {
    const inf = this.repo.inference(inferenceId);
    if (!inf) throw notFound(`no inference ${inferenceId} on this node`, { param: 'id', code: 'inference_not_found', hint: 'use the `id` of a completion this node answered' });
    const logs: string[] = [], warnings: string[] = [];
    const ft = inf.fineTunedModel ? this.factory.model(inf.fineTunedModel) : null;
    const baseName = ft?.baseModel ?? inf.base;
    const model = await this.model(baseName);
    const tok = model.model.tokenizer;

    // Rows the answer may come from: the job's training rows, or every latest published version for a base model.
    const jobRows = ft ? this.factory.rows(ft.jobId) : [];
    let versions: VersionInfo[] = [];
    const keys = new Set<string>();
    for (const r of jobRows) if (r.datanetId !== null && r.version !== null) keys.add(`${r.datanetId}:${r.version}`);
    if (!ft) for (const r of this.o.db.prepare('SELECT datanet_id, MAX(version) AS version FROM datanet_versions GROUP BY datanet_id ORDER BY datanet_id DESC LIMIT ?').all(MAX_BASE_VERSIONS) as Array<{ datanet_id: number; version: number }>) keys.add(`${r.datanet_id}:${r.version}`);
    versions = [...keys].map((k) => this.version(Number(k.split(':')[0]), Number(k.split(':')[1]))).filter((v): v is VersionInfo => !!v);

    // 1. Gradient influence.
    const grad = new Map<number, number>();
    const refs = new Map<number, RowRef>();
    const gradInfo: AttributionRecord['method']['gradient'] = { available: false, method: null, reason: null, checkpoints: 0, dims: 0, projectionSeed: null };
    if (!ft) gradInfo.reason = 'base model: no fine-tuning rows, span attribution only';
    else if (!/^[\w-]+$/.test(ft.jobId)) gradInfo.reason = 'the model record names no valid job';
    else if (!jobRows.some((r) => r.datanetId !== null)) gradInfo.reason = 'the model was trained on an uploaded file, not datanet rows: no contributors to pay';
    else {
      try {
        const fs = this.featureSet(join(this.o.dataDir, 'factory', 'jobs', ft.jobId, 'attribution'));
        const format = versions[0]?.format ?? 'alpaca';
        const ex = buildDataset(format as RowFormat, [{ datanetId: null, version: null, fileId: 'inference', rowId: 0, hash: '0x', contributor: null, data: answerRow(format, inf) }], { tokenizer: tok, contextLength: model.model.config.contextLength, evalFraction: 0 }).rows[0].example;
        const { psi } = queryFeatures(model.model, model.kernels, fs.f, ex);
        const method = this.o.config.method;
        const s = score(method, fs.f.set, psi, () => (fs.trak ??= prepareTrak(fs.f.set)));
        fs.f.header.rows.forEach((row, i) => {
          const jr = jobRows[row.ord];
          if (!jr || jr.datanetId === null || jr.version === null || !jr.contributor) return;
          grad.set(jr.rowId, s[i]);
          refs.set(jr.rowId, { datanetId: jr.datanetId, version: jr.version, rowId: jr.rowId, contributor: jr.contributor });
        });
        Object.assign(gradInfo, { available: true, method, checkpoints: fs.f.set.checkpoints.length, dims: fs.f.set.k, projectionSeed: fs.f.header.projection.seed });
      } catch (e) {
        if (!(e instanceof OpenLedgerError)) throw e;
        gradInfo.reason = `${e.message}${e.hint ? ` (${e.hint})` : ''}`;
        if (e.code === 'features_corrupt') logs.push(`attribution: ${e.message}`);
      }
    }
    if (gradInfo.reason) warnings.push(`gradient influence unavailable: ${gradInfo.reason}`);

    // 2. Spans over each version's index.
    const span = new Map<number, number>();
    const spanInfo: AttributionRecord['method']['span'] = { available: false, reason: null, spans: [] };
    const answer = tok.encode(inf.completion, { addSpecial: false });
    if (!versions.length) spanInfo.reason = 'no published datanet versions to search';
    for (const v of versions) {
      const ix = this.spanIndex(v, model.model, (why) => { logs.push(`attribution: span index of datanet ${v.datanetId} v${v.version} rebuilt: ${why}`); warnings.push(`span index of datanet ${v.datanetId} v${v.version} was damaged and has been rebuilt`); });
      const found = findSpans(ix, answer, { maxLen: 512 });
      for (const s of found) spanInfo.spans.push({ text: tok.decode(answer.slice(s.start, s.end)), start: s.start, end: s.end, count: s.count, rows: s.rows.map((r) => r.rowId) });
      for (const [rowId, x] of spanRowScores(found)) {
        span.set(rowId, (span.get(rowId) ?? 0) + x.score);
        if (!refs.has(rowId)) refs.set(rowId, { datanetId: v.datanetId, version: v.version, rowId, contributor: x.contributor });
      }
      spanInfo.available = true;
    }

    // 3. Weights.
    const combined = mixSignals([{ weight: this.o.config.gradientShare, scores: grad }, { weight: 1 - this.o.config.gradientShare, scores: span }]);
    const info = this.rowInfo([...combined.keys()]);
    const evidence: RowEvidence[] = [...combined].map(([rowId, s]) => ({
      rowId, contributor: refs.get(rowId)!.contributor, score: s, status: info.get(rowId)?.status ?? 'rejected', rejectVotes: info.get(rowId)?.rejects ?? 0,
      flagged: this.repo.isFlagged(refs.get(rowId)!.datanetId, rowId), minhash: info.get(rowId)?.minhash ?? null,
    }));
    const w = contributorWeights(evidence, { capPpm: this.o.config.capPpm });
    const excludedWhy = new Map(w.excluded.map((x) => [x.rowId, x.reason]));

    // 4. Record rows with proofs.
    const K = this.o.config.topRows;
    const sorted = [...combined].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const view = ([rowId, s]: [number, number]): RecordRow => {
      const ref = refs.get(rowId)!;
      return { ...ref, score: s, gradientScore: grad.get(rowId) ?? null, spanScore: span.get(rowId) ?? null, excluded: excludedWhy.get(rowId) ?? null, proof: this.proof(ref, info.get(rowId)?.hash ?? null) };
    };
    const topRows = sorted.filter(([, s]) => s > 0).slice(0, K).map(view);
    const negativeRows = sorted.filter(([, s]) => s < 0).reverse().slice(0, K).map(view);
    const negMass = [...combined.values()].reduce((a, v) => a + (v < 0 ? -v : 0), 0);
    const posMass = [...combined.values()].reduce((a, v) => a + (v > 0 ? v : 0), 0);
    const rowStats: AttributionOutcome['rowStats'] = [
      ...topRows.map((r) => ({ datanetId: r.datanetId, rowId: r.rowId, contributor: r.contributor, sign: 1 as const, mass: posMass > 0 ? r.score / posMass : 0 })),
      ...negativeRows.map((r) => ({ datanetId: r.datanetId, rowId: r.rowId, contributor: r.contributor, sign: -1 as const, mass: negMass > 0 ? -r.score / negMass : 0 })),
    ];
    if (!w.weights.length) warnings.push('no row had positive influence: the fee split falls back to pro rata by accepted rows');
    const name = [gradInfo.available ? this.o.config.method : null, spanInfo.available ? 'span' : null].filter(Boolean).join('+') || 'none';
    const record: AttributionRecord = {
      object: 'attribution', inferenceId: inf.id, model: inf.model, base: baseName, adapters: inf.adapters,
      datanetVersions: versions.map((v) => ({ datanetId: v.datanetId, version: v.version, merkleRoot: v.merkleRoot, commitTx: v.txHash })),
      method: { name, version: METHOD_VERSION, gradient: gradInfo, span: spanInfo },
      topRows, negativeRows, contributorWeights: w.weights, excluded: w.excluded, warnings, createdAt: Math.floor(Date.now() / 1000),
    };
    return { method: name, record, weights: w.weights, rowStats, logs };
  }

  private async model(name: string) {
    let m = this.models.get(name);
    if (!m) {
      const resolved = new ModelCatalog(this.o.dataDir).resolve(name);
      const model = await loadModel(resolved.path);
      if (this.o.kernels) m = { model, kernels: this.o.kernels(model), close: () => {} };
      // One thread: attribution runs beside serving and must not take its cores.
      else { const k = selectKernels(model.heap, { threads: 1 }); m = { model, kernels: k, close: () => k.close() }; }
      this.models.set(name, m);
    }
    return m;
  }

  private featureSet(dir: string) {
    let f = this.features.get(dir);
    if (!f) {
      f = { f: loadFeatures(dir), trak: null };
      if (this.features.size >= 8) { const old = this.features.keys().next().value!; releaseFeatures(this.features.get(old)!.f); this.features.delete(old); }
      this.features.set(dir, f);
    }
    return f;
  }

  private version(datanetId: number, version: number): VersionInfo | null {
    const r = this.o.db.prepare('SELECT v.merkle_root, v.tree, v.tx_hash, d.format FROM datanet_versions v JOIN datanets d ON d.id = v.datanet_id WHERE v.datanet_id = ? AND v.version = ?').get(datanetId, version) as { merkle_root: string; tree: string; tx_hash: string; format: DataFormat } | undefined;
    return r ? { datanetId, version, merkleRoot: r.merkle_root, tree: r.tree, txHash: r.tx_hash, format: r.format } : null;
  }

  private spanIndex(v: VersionInfo, model: LoadedModel, onRebuild: (why: string) => void): SpanIndex {
    const key = `${v.datanetId}:${v.version}:${v.merkleRoot}:${model.source.sha256 || model.source.path}:${model.config.vocabSize}`;
    const cached = this.spans.get(key);
    if (cached) return cached;
    const dir = join(this.o.dataDir, 'attribution', 'spans', `d${v.datanetId}-v${v.version}-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`);
    const docs = () => (this.o.db.prepare('SELECT r.id, r.contributor, r.data FROM datanet_version_rows vr JOIN datanet_rows r ON r.id = vr.row_id WHERE vr.datanet_id = ? AND vr.version = ? ORDER BY r.id').all(v.datanetId, v.version) as Array<{ id: number; contributor: string; data: string }>)
      .map((r) => ({ rowId: r.id, contributor: r.contributor, tokens: model.tokenizer.encode(rowText(v.format, JSON.parse(r.data) as RowData), { addSpecial: false }) }));
    const ix = SpanIndex.openOrBuild(dir, key, docs, { vocab: model.config.vocabSize, onRebuild: (why) => onRebuild(why) });
    this.spans.set(key, ix);
    return ix;
  }

  private rowInfo(ids: number[]): Map<number, { status: 'accepted' | 'pending' | 'rejected'; rejects: number; minhash: Uint32Array; hash: string }> {
    const out = new Map<number, { status: 'accepted' | 'pending' | 'rejected'; rejects: number; minhash: Uint32Array; hash: string }>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500), q = chunk.map(() => '?').join(',');
      for (const r of this.o.db.prepare(`SELECT id, status, minhash, hash FROM datanet_rows WHERE id IN (${q})`).all(...chunk) as Array<{ id: number; status: 'accepted' | 'pending' | 'rejected'; minhash: Buffer; hash: string }>) {
        out.set(r.id, { status: r.status, rejects: 0, minhash: signatureFromBytes(r.minhash), hash: r.hash });
      }
      for (const r of this.o.db.prepare(`SELECT row_id, COUNT(*) AS n FROM datanet_votes WHERE decision = 'reject' AND row_id IN (${q}) GROUP BY row_id`).all(...chunk) as Array<{ row_id: number; n: number }>) {
        const e = out.get(r.row_id);
        if (e) e.rejects = r.n;
      }
    }
    return out;
  }

  private proof(ref: RowRef, rowHash: string | null): RecordRow['proof'] {
    if (!rowHash) return null;
    const v = this.version(ref.datanetId, ref.version);
    if (!v) return null;
    const key = `${ref.datanetId}:${ref.version}`;
    let tree = this.trees.get(key);
    if (!tree) {
      tree = VersionTree.load(JSON.parse(v.tree));
      if (this.trees.size >= 16) this.trees.delete(this.trees.keys().next().value!);
      this.trees.set(key, tree);
    }
    try {
      const p = tree.proof({ rowHash: rowHash as `0x${string}`, contributor: ref.contributor as `0x${string}` });
      return { root: p.root, leaf: p.leaf, proof: p.proof, verified: verifyRowProof(v.merkleRoot as `0x${string}`, p.leaf, p.proof), commitTx: v.txHash };
    } catch {
      return null;
    }
  }
}

/** The answer as a row of the job's format, so its loss is taken exactly as training took the rows'. */
export function answerRow(format: DataFormat, inf: Pick<InferenceText, 'prompt' | 'completion'>): Record<string, unknown> {
  switch (format) {
    case 'sharegpt': return { conversations: [{ from: 'human', value: inf.prompt }, { from: 'gpt', value: inf.completion }] };
    case 'text': return { text: `${inf.prompt}${inf.completion}` };
    case 'labelled': return { text: inf.prompt, label: inf.completion.trim() };
    default: return { instruction: inf.prompt.replace(/\n$/, ''), output: inf.completion }; // the alpaca render adds the "\n" back
  }
}
