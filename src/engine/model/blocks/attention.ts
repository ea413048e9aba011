/**
 * Per-layer attention setup shared by the inference forward and the training forward: the
 * kernel's AttentionParams for each layer (scale, sliding window, softcap, ALiBi slopes) and the
 * RoPE tables (global, and local for the sliding layers of families with a second theta).
 */
import type { AttentionParams } from '../../kernels/types.ts';
import { isSlidingLayer, type ModelConfig } from '../config.ts';
import { alibiSlopes, ropeTable, type RopeTable } from './rope.ts';

export interface LayerAttention {
  params: AttentionParams[];
  ropeGlobal: RopeTable | null;
  /** Used by layers with a sliding window (same as ropeGlobal unless the family has a local theta). */
  ropeLocal: RopeTable | null;
}

export function layerAttention(cfg: ModelConfig, ropeFreqs: Float32Array | null): LayerAttention {
  const ropeGlobal = ropeTable(cfg, { freqFactors: ropeFreqs });
  const ropeLocal = cfg.ropeLocalTheta !== null && cfg.rope ? ropeTable(cfg, { theta: cfg.ropeLocalTheta, noScaling: true }) : ropeGlobal;
  const slopes = cfg.alibi ? alibiSlopes(cfg.nHeads, cfg.alibiMaxBias) : null;
  const params = Array.from({ length: cfg.nLayers }, (_, il) => ({
    nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, headDim: cfg.headDim,
    scale: cfg.attnScale ?? 1 / Math.sqrt(cfg.headDim),
    slidingWindow: isSlidingLayer(cfg, il) ? cfg.slidingWindow : null,
    softcap: cfg.attnLogitSoftcap, alibiSlopes: slopes,
  }));
  return { params, ropeGlobal, ropeLocal };
}
