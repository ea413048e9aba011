/** llama.cpp as an oracle (node-llama-cpp) and llama.cpp's tokenizer test vectors. */
export { getLlamaCpp, loadOracleModel, oracleGreedy, oracleTokenize, type OracleRun, type OracleOptions } from './llamacpp.ts';
export { vocabFixture, vocabFixturesUnavailable, llamaSourceFile, type VocabCase } from './vocab-fixtures.ts';
