// Chat templates of released models (llama.cpp's models/templates, shipped in node-llama-cpp's
// source bundle) rendered through @huggingface/jinja: exact prompts for the families the engine
// loads, pinned to the formats their model cards document.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { OpenLedgerError } from '../util/errors.ts';
import { pickChatTemplate, renderChatTemplate } from './chat-template.ts';
import { llamaCppFiles } from './tokenizer/llamacpp-sources.ts';

const CHAT = [{ role: 'user', content: 'Hi there' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Bye' }];

const GOLDEN: Record<string, string> = {
  'meta-llama-Llama-3.1-8B-Instruct':
    '<BOS><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>'
    + '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>'
    + '<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
  'Qwen-Qwen2.5-7B-Instruct':
    '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n'
    + '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
  'Qwen-Qwen3-0.6B': '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n',
  'deepseek-ai-DeepSeek-R1-Distill-Llama-8B': '<BOS><｜User｜>Hi there<｜Assistant｜>Hello!<｜end▁of▁sentence｜><｜User｜>Bye<｜Assistant｜><think>\n',
  'google-gemma-2-2b-it':
    '<BOS><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n',
  'mistralai-Mistral-Nemo-Instruct-2407': '<BOS>[INST]Hi there[/INST]Hello!<EOS>[INST]Bye[/INST]',
  'microsoft-Phi-3.5-mini-instruct': '<|user|>\nHi there<|end|>\n<|assistant|>\nHello!<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n',
};

describe('chat templates of released models', () => {
  let root: string | null = null;
  before(() => {
    root = llamaCppFiles(Object.keys(GOLDEN).map((n) => `models/templates/${n}.jinja`));
  });
  for (const [name, want] of Object.entries(GOLDEN)) {
    it(name, (t) => {
      if (!root) return t.skip('llama.cpp sources (node-llama-cpp gitRelease.bundle) or git not available');
      const src = readFileSync(join(root, 'models/templates', `${name}.jinja`), 'utf8');
      assert.equal(renderChatTemplate(src, CHAT, { bosToken: '<BOS>', eosToken: '<EOS>' }), want);
    });
  }
  it("a template's own refusal is a request error (Gemma 2 has no system role)", (t) => {
    if (!root) return t.skip('llama.cpp sources not available');
    const src = readFileSync(join(root, 'models/templates/google-gemma-2-2b-it.jinja'), 'utf8');
    assert.throws(() => renderChatTemplate(src, [{ role: 'system', content: 'x' }, ...CHAT]),
      (e: OpenLedgerError) => e.code === 'chat_template_error' && e.status === 400 && /System role not supported/.test(e.message));
  });
});

describe('chat template plumbing', () => {
  it('picks the default of named templates', () => {
    assert.equal(pickChatTemplate('{{x}}'), '{{x}}');
    assert.equal(pickChatTemplate([{ name: 'tool_use', template: 'A' }, { name: 'default', template: 'B' }]), 'B');
    assert.equal(pickChatTemplate([{ name: 'rag', template: 'C' }]), 'C');
    assert.equal(pickChatTemplate(undefined), null);
  });
  it('rejects malformed messages and templates that do not parse', () => {
    assert.throws(() => renderChatTemplate('{{ messages }}', [{ role: 'user' }] as never), (e: OpenLedgerError) => e.code === 'invalid_messages');
    assert.throws(() => renderChatTemplate('{% for %}', CHAT), (e: OpenLedgerError) => e.code === 'invalid_chat_template' && e.type === 'model_error');
  });
  it('passes extra variables through (enable_thinking, tools)', () => {
    const src = "{% if enable_thinking is defined and not enable_thinking %}NO_THINK {% endif %}{{ messages[0]['content'] }}";
    assert.equal(renderChatTemplate(src, CHAT, { extra: { enable_thinking: false } }), 'NO_THINK Hi there');
    assert.equal(renderChatTemplate(src, CHAT), 'Hi there');
  });
});
