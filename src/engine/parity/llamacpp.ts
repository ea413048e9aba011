/**
 * llama.cpp as an oracle, through node-llama-cpp 3.21.1 (prebuilt CPU binary, never built here).
 *
 * node-llama-cpp exposes no raw logits, but `controlledEvaluate` with `probabilities` returns the
 * full softmax of the last token's logits (with greedy sampling the logits are untouched). We take
 * log p = logit − logsumexp(logits): the logits up to a per-position constant. Parity tests
 * therefore compare log-softmax vectors (equivalently, logits after subtracting their logsumexp).
 *
 * The KV cache is f32 (llama.cpp defaults to f16, which would add rounding our engine does not do).
 */
import type { Llama, LlamaModel, Token } from 'node-llama-cpp';

let llamaPromise: Promise<Llama | { error: string }> | null = null;

/** The shared CPU llama.cpp instance, or a reason why it cannot load on this machine. */
export async function getLlamaCpp(): Promise<Llama | { error: string }> {
  llamaPromise ??= (async () => {
    try {
      const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
      return await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
    } catch (e) {
      return { error: (e as Error).message };
    }
  })();
  return llamaPromise;
}

export interface OracleRun {
  /** log-softmax of the logits after each evaluated position that was asked for (V values each). */
  logprobs: Float32Array[];
  /** Greedy continuation (when steps > 0). */
  tokens: number[];
}

export interface OracleOptions {
  /** LoRA GGUF adapters with scales (`createContext({ lora })`). */
  lora?: Array<{ filePath: string; scale?: number }>;
  threads?: number;
  contextSize?: number;
}

/** Load a GGUF into llama.cpp (weights stay memory-mapped). Dispose with `model.dispose()`. */
export async function loadOracleModel(path: string): Promise<LlamaModel> {
  const llama = await getLlamaCpp();
  if ('error' in llama) throw new Error(`node-llama-cpp cannot load: ${llama.error}`);
  return llama.loadModel({ modelPath: path, gpuLayers: 0, useMmap: true });
}

function logSoftmaxFromProbs(p: Map<Token, number>): Float32Array {
  // The map holds every vocab token (no top-k with greedy sampling).
  const out = new Float32Array(p.size).fill(-Infinity);
  for (const [tok, prob] of p) out[tok] = Math.log(prob);
  return out;
}

/**
 * Evaluate `prompt` and then `steps` greedy tokens; return the log-softmax at the last prompt
 * position and after each generated token, and the greedy tokens.
 */
export async function oracleGreedy(model: LlamaModel, prompt: number[], steps: number, opts: OracleOptions = {}): Promise<OracleRun> {
  const ctx = await model.createContext({
    contextSize: opts.contextSize ?? Math.max(64, prompt.length + steps + 8),
    sequences: 1,
    threads: opts.threads ?? 2,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    ...(opts.lora ? { lora: { adapters: opts.lora } } : {}),
  });
  try {
    const seq = ctx.getSequence();
    const logprobs: Float32Array[] = [];
    const tokens: number[] = [];
    const ask = { generateNext: { probabilities: true, token: true, options: { temperature: 0 } } } as const;
    let input: Parameters<typeof seq.controlledEvaluate>[0] = prompt.map((t, i) => (i === prompt.length - 1 ? [t as Token, ask] : (t as Token)));
    for (let s = 0; s <= steps; s++) {
      const out = await seq.controlledEvaluate(input);
      const last = out[input.length - 1];
      if (!last?.next.probabilities) throw new Error('llama.cpp returned no probabilities');
      logprobs.push(logSoftmaxFromProbs(last.next.probabilities));
      if (s === steps) break;
      const next = last.next.token!;
      tokens.push(next);
      input = [[next, ask]];
    }
    return { logprobs, tokens };
  } finally {
    await ctx.dispose();
  }
}

/** llama.cpp's tokenization (no BOS added; specials parsed when `special`). */
export function oracleTokenize(model: LlamaModel, text: string, special = false): number[] {
  return Array.from(model.tokenize(text, special));
}
