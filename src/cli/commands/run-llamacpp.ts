/**
 * `openledger run --engine llama.cpp`: the same prompt, model and adapter through llama.cpp
 * (node-llama-cpp 3.21.1, CPU), so a user can see for themselves that an adapter the Model Factory
 * exported runs there too. llama.cpp reads GGUF only: a GGUF base is used as it is; the shipped
 * starter (an HF folder) is converted once to `<dataDir>/models/starter-<weight hash>.gguf`;
 * adapters must be GGUF LoRA files (every fine-tuning job exports one next to its PEFT folder).
 * The prompt is tokenized by our tokenizer (the parity tests hold it equal to llama.cpp's), so
 * chat templates and special tokens mean the same thing in both engines.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { invalid } from '../../util/errors.ts';
import type { Tokenizer } from '../../engine/tokenizer/types.ts';

export interface LlamaCppRun {
  modelPath: string;
  adapterPath?: string;
  tokens: number[];
  tokenizer: Tokenizer;
  maxTokens: number;
  stop?: string[];
  sampling: { temperature: number; topK: number; topP: number; minP: number; repetitionPenalty: number; seed?: number };
  dataDir: string;
  signal: AbortSignal;
  write: (text: string) => void;
}

/** The GGUF llama.cpp should load for a model path (the starter folder converted on first use). */
export async function ggufFor(modelPath: string, dataDir: string): Promise<string> {
  if (/\.gguf$/i.test(modelPath) && statSync(modelPath).isFile()) return modelPath;
  const { STARTER_DIR, readStarterCard, writeStarterGguf, verifyStarter } = await import('../../models/starter.ts');
  if (modelPath === STARTER_DIR) {
    await verifyStarter();
    const out = join(dataDir, 'models', `starter-${readStarterCard().weights.sha256.slice(0, 16)}.gguf`);
    if (!existsSync(out)) {
      mkdirSync(join(dataDir, 'models'), { recursive: true });
      await writeStarterGguf(out);
    }
    return out;
  }
  throw invalid(`llama.cpp reads GGUF files only, and ${modelPath} is a Hugging Face folder`, {
    param: 'engine',
    code: 'llamacpp_needs_gguf',
    hint: "convert it with llama.cpp's convert_hf_to_gguf.py and run the .gguf, or drop --engine llama.cpp to use our engine",
  });
}

export async function runLlamaCpp(r: LlamaCppRun): Promise<{ promptTokens: number; completionTokens: number; finishReason: 'stop' | 'length' }> {
  if (r.adapterPath && !(/\.gguf$/i.test(r.adapterPath) && existsSync(r.adapterPath) && statSync(r.adapterPath).isFile())) {
    throw invalid(`llama.cpp loads LoRA adapters as GGUF files, and ${r.adapterPath} is not one`, {
      param: 'adapter',
      code: 'llamacpp_needs_gguf_lora',
      hint: 'pass the job\'s adapter .gguf (printed by `openledger train`, also in the job result) instead of its PEFT folder',
    });
  }
  const modelPath = await ggufFor(r.modelPath, r.dataDir);
  const { loadOracleModel } = await import('../../engine/parity/llamacpp.ts');
  const model = await loadOracleModel(modelPath);
  try {
    const ctx = await model.createContext({
      contextSize: Math.min(model.trainContextSize, r.tokens.length + r.maxTokens + 8),
      sequences: 1,
      threads: 2,
      ...(r.adapterPath ? { lora: { adapters: [{ filePath: r.adapterPath, scale: 1 }] } } : {}),
    });
    try {
      const seq = ctx.getSequence();
      const eog = new Set<number>();
      for (const t of [model.tokens.eos, model.tokens.eot]) if (t !== null && t !== undefined) eog.add(t);
      const out: number[] = [];
      const decode = r.tokenizer.decodeIncremental({ skipSpecial: true });
      let text = '';
      let emitted = 0;
      const holdback = Math.max(0, ...(r.stop ?? []).map((st) => st.length - 1));
      let finishReason: 'stop' | 'length' = 'length';
      const s = r.sampling;
      for await (const tok of seq.evaluate(r.tokens as never, {
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        minP: s.minP,
        ...(s.seed !== undefined ? { seed: s.seed } : {}),
        ...(s.repetitionPenalty !== 1 ? { repeatPenalty: { punishTokens: () => out as never, penalty: s.repetitionPenalty } } : {}),
      })) {
        if (r.signal.aborted) break;
        if (eog.has(tok) || model.isEogToken(tok)) { finishReason = 'stop'; break; }
        out.push(tok);
        text += decode(tok);
        const cut = Math.min(...(r.stop ?? []).map((st) => text.indexOf(st)).filter((i) => i >= 0));
        if (Number.isFinite(cut)) {
          r.write(text.slice(emitted, cut));
          emitted = text.length;
          finishReason = 'stop';
          break;
        }
        // hold back what could still become the start of a stop sequence
        const safe = text.length - holdback;
        if (safe > emitted) { r.write(text.slice(emitted, safe)); emitted = safe; }
        if (out.length >= r.maxTokens) break;
      }
      if (emitted < text.length) r.write(text.slice(emitted));
      // node-llama-cpp's generator ends by itself at an end-of-generation token without yielding it
      if (finishReason === 'length' && out.length < r.maxTokens && !r.signal.aborted) finishReason = 'stop';
      return { promptTokens: r.tokens.length, completionTokens: out.length, finishReason };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}
