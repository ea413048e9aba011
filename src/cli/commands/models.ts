/** `openledger models add|list|remove` and `openledger run <model> "prompt"`. */
import type { Command } from 'commander';
import { DEFAULT_DATA_DIR } from '../../config/index.ts';
import { ModelCatalog, STARTER_NAME } from '../../models/index.ts';
import { invalid } from '../../util/errors.ts';
import type { Tokenizer } from '../../engine/tokenizer/types.ts';
import { printJson, printTable } from '../output.ts';

const dataDirOption = ['--data-dir <dir>', 'data directory', process.env.OPENLEDGER_DATA_DIR ?? DEFAULT_DATA_DIR] as const;

export function modelsCommands(program: Command) {
  const models = program.command('models').description('the local catalog of base models this node can run');

  models
    .command('add <path>')
    .description('check a model folder (config.json + *.safetensors + tokenizer.json) or a .gguf file and add it to the catalog (weight hash recorded)')
    .option('--name <name>', 'catalog name (default: the file or folder name)')
    .option(...dataDirOption)
    .option('--json', 'print JSON', false)
    .action(async (path: string, o) => {
      const entry = await new ModelCatalog(o.dataDir).add(path, o.name);
      if (o.json) return printJson(entry);
      console.log(`added ${entry.name}: ${entry.family} (${entry.arch}), ${entry.layers} layers, d=${entry.dModel}, vocab ${entry.vocabSize}, ${(entry.weightBytes / 2 ** 20).toFixed(1)} MiB`);
      console.log(`sha256 ${entry.sha256}`);
    });

  models
    .command('list')
    .description('list the catalog')
    .option(...dataDirOption)
    .option('--json', 'print JSON', false)
    .action((o) => {
      const list = new ModelCatalog(o.dataDir).list();
      if (o.json) return printJson(list);
      printTable(list.map((m) => ({ name: m.name, family: m.family, format: m.format, MiB: (m.weightBytes / 2 ** 20).toFixed(1), sha256: m.sha256.slice(0, 16), path: m.path })));
    });

  models
    .command('remove <name>')
    .description('remove a model from the catalog (the files stay where they are)')
    .option(...dataDirOption)
    .action((name: string, o) => {
      new ModelCatalog(o.dataDir).remove(name);
      console.log(`removed ${name}`);
    });

  program
    .command('run <model> [prompt]')
    .description('stream a completion from a model (catalog name or path) in this process; with one argument, that is the prompt and the model is the shipped `starter`')
    .option('--max-tokens <n>', 'most tokens to generate', '128')
    .option('--temperature <t>', '0 = greedy', '0.7')
    .option('--top-k <k>', 'top-k sampling (0 = off)', '40')
    .option('--top-p <p>', 'nucleus sampling (1 = off)', '0.95')
    .option('--min-p <p>', 'min-p sampling (0 = off)', '0.05')
    .option('--repeat-penalty <r>', 'repetition penalty (1 = off)', '1.1')
    .option('--seed <n>', 'seed for reproducible sampling')
    .option('--stop <text...>', 'stop sequences')
    .option('--adapter <path>', 'LoRA adapter: PEFT folder or GGUF LoRA file')
    .option('--chat', "wrap the prompt in the model's chat template as a user message", false)
    .option('--system <text>', 'system message (with --chat)')
    .option('--engine <name>', 'ours | llama.cpp (node-llama-cpp: the same model and GGUF LoRA adapter run in llama.cpp, for comparison)', 'ours')
    .option(...dataDirOption)
    .action(async (model: string, prompt: string | undefined, o) => {
      if (prompt === undefined) [model, prompt] = [STARTER_NAME, model];
      const num = (v: string, name: string) => {
        const x = Number(v);
        if (!Number.isFinite(x)) throw invalid(`--${name} must be a number, got "${v}"`, { param: name });
        return x;
      };
      const { path } = new ModelCatalog(o.dataDir).resolve(model);
      const engineName = String(o.engine);
      if (engineName !== 'ours' && engineName !== 'llama.cpp') {
        throw invalid(`--engine must be ours or llama.cpp, got "${engineName}"`, { param: 'engine' });
      }
      const sampling = {
        temperature: num(o.temperature, 'temperature'),
        topK: num(o.topK, 'top-k'),
        topP: num(o.topP, 'top-p'),
        minP: num(o.minP, 'min-p'),
        repetitionPenalty: num(o.repeatPenalty, 'repeat-penalty'),
        seed: o.seed !== undefined ? num(o.seed, 'seed') : undefined,
      };
      const maxTokens = num(o.maxTokens, 'max-tokens');
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      const chatText = (tokenizer: Tokenizer) =>
        tokenizer.applyChatTemplate([...(o.system ? [{ role: 'system', content: o.system }] : []), { role: 'user', content: prompt! }], { addGenerationPrompt: true });
      if (engineName === 'llama.cpp') {
        const { openModel } = await import('../../engine/model/load.ts');
        const { runLlamaCpp } = await import('./run-llamacpp.ts');
        const { tokenizer } = openModel(path);
        const tokens = o.chat ? tokenizer.encode(chatText(tokenizer), { addSpecial: false }) : tokenizer.encode(prompt, { addSpecial: true });
        const t0 = performance.now();
        const r = await runLlamaCpp({
          modelPath: path, adapterPath: o.adapter, tokens, tokenizer, maxTokens, stop: o.stop, sampling,
          dataDir: o.dataDir, signal: ac.signal, write: (t) => process.stdout.write(t),
        });
        const s = (performance.now() - t0) / 1000;
        process.stdout.write('\n');
        console.error(`[llama.cpp: ${r.promptTokens} prompt + ${r.completionTokens} generated tokens in ${s.toFixed(2)} s, ${r.finishReason}]`);
        process.exit(0);
      }
      const { loadModel, createEngine, generate } = await import('../../engine/index.ts');
      const loaded = await loadModel(path);
      const engine = await createEngine(loaded, { kvTokens: Math.min(loaded.config.contextLength, 4096) });
      const adapter = o.adapter ? await engine.loadAdapter(o.adapter) : null;
      const stream = generate(engine, {
        prompt: o.chat ? chatText(loaded.tokenizer) : prompt,
        addSpecial: !o.chat,
        maxTokens,
        stop: o.stop,
        adapter,
        signal: ac.signal,
        sampling,
      });
      const t0 = performance.now();
      for await (const chunk of stream) process.stdout.write(chunk.text);
      const r = await stream.result;
      const s = (performance.now() - t0) / 1000;
      process.stdout.write('\n');
      console.error(`[${r.promptTokens} prompt + ${r.completionTokens} generated tokens in ${s.toFixed(2)} s, ${(r.completionTokens / s).toFixed(1)} tok/s, ${r.finishReason}]`);
      // The kernel worker pool would keep the process alive; the command is done.
      process.exit(0);
    });
}
