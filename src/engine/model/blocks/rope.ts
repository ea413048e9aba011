/**
 * RoPE frequency tables. Every scaling scheme is folded into per-pair inverse frequencies plus
 * one magnitude factor, so one `rope` kernel serves them all:
 *
 *   angle_i(p) = p · invFreq[i],  i < dims/2,  base invFreq[i] = θ^(−2i/dims)
 *   linear:  invFreq /= factor
 *   llama3:  per-frequency: kept above the high-frequency wavelength bound, divided by factor below
 *            the low one, interpolated between (or divided by GGUF's rope_freqs.weight when present)
 *   yarn:    ggml's ramp between interpolated (÷factor) and extrapolated frequencies over the
 *            correction dims from betaFast/betaSlow; mscale = attnFactor·(1 + 0.1·ln factor)
 */
import type { ModelConfig } from '../config.ts';

export interface RopeTable {
  invFreq: Float32Array; // (dims/2)
  mscale: number;
  neox: boolean;
}

export function ropeTable(cfg: ModelConfig, opts: { theta?: number; noScaling?: boolean; freqFactors?: Float32Array | null } = {}): RopeTable | null {
  const r = cfg.rope;
  if (!r) return null;
  const dims = r.dims;
  const theta = opts.theta ?? r.theta;
  const half = dims / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(theta, (-2 * i) / dims);
  let mscale = 1;
  const s = opts.noScaling ? null : r.scaling;
  if (opts.freqFactors && !opts.noScaling) {
    // GGUF rope_freqs.weight (llama3 and others): theta / factor per pair, as ggml_rope_ext does.
    for (let i = 0; i < half; i++) inv[i] /= opts.freqFactors[i];
  } else if (s?.type === 'llama3') {
    const orig = s.originalContext ?? 8192;
    const lowF = s.lowFreqFactor ?? 1, highF = s.highFreqFactor ?? 4;
    const lowWave = orig / lowF, highWave = orig / highF;
    for (let i = 0; i < half; i++) {
      const wave = (2 * Math.PI) / inv[i];
      if (wave < highWave) continue;
      if (wave > lowWave) inv[i] /= s.factor;
      else {
        const smooth = (orig / wave - lowF) / (highF - lowF);
        inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
      }
    }
  }
  if (s?.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= s.factor;
  if (s?.type === 'yarn') {
    const freqScale = 1 / s.factor;
    const orig = s.originalContext ?? cfg.contextLength;
    const corr = (nRot: number) => (dims * Math.log(orig / (nRot * 2 * Math.PI))) / (2 * Math.log(theta));
    const low = Math.max(0, Math.floor(corr(s.betaFast ?? 32)));
    const high = Math.min(dims - 1, Math.ceil(corr(s.betaSlow ?? 1)));
    for (let i = 0; i < half; i++) {
      const y = (i - low) / Math.max(0.001, high - low);
      const mix = 1 - Math.min(1, Math.max(0, y)); // 1 = extrapolate (keep), 0 = interpolate
      inv[i] *= freqScale * (1 - mix) + mix;
    }
    mscale = (s.attnFactor ?? 1) * (1 + 0.1 * Math.log(s.factor));
  }
  return { invFreq: Float32Array.from(inv), mscale, neox: r.style === 'neox' };
}

/** ggml's ALiBi slopes for H heads and max bias (8 for BLOOM). */
export function alibiSlopes(H: number, maxBias: number): Float32Array {
  const nLog2 = 2 ** Math.floor(Math.log2(H));
  const m0 = 2 ** (-maxBias / nLog2);
  const m1 = 2 ** (-(maxBias / 2) / nLog2);
  return Float32Array.from({ length: H }, (_, h) => (h < nLog2 ? m0 ** (h + 1) : m1 ** (2 * (h - nLog2) + 1)));
}
