/** Test and benchmark models: tiny random models of every family (HF + GGUF), LoRA adapters, the benchmark model, a bandwidth probe. */
export { buildTinyModel, hfToGguf, TINY_FAMILIES, TINY_SLIDING_WINDOW, type TinyFamily, type TinyModel, type TinyModelOptions, type TinyDims, type HfTensor } from './tiny-models.ts';
export { buildTinyLora, mergeTinyLora, type TinyLora, type TinyLoraModule, type TinyLoraOptions } from './tiny-lora.ts';
export { buildTinyVocab, tokenizerJson, CHATML_TEMPLATE, TINY_SPECIALS, type TinyVocab, type TinyPre } from './tiny-vocab.ts';
export { buildBenchModel, weightBytesPerToken, QWEN05_SHAPE } from './bench-model.ts';
export { measureBandwidth, type BandwidthResult } from './bandwidth.ts';
export { Rng } from './rng.ts';
