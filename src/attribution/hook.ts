/** The serving side of the attribution hook: a finished completion → enqueueAttribution's input. */
import type { ParsedRequest } from '../serving/index.ts';
import { usageAdapters, type ServedModel } from '../serving/models.ts';
import type { EnqueueInput } from './queue.ts';

export function completionInput(p: ParsedRequest, id: string, served: ServedModel, caller: string | null, r: { text: string }, tokens: { text(id: number): string }): EnqueueInput {
  const g = p.generate as { prompt?: string | readonly number[]; messages?: Array<{ role: string; content: string }> };
  let prompt = '';
  if (g.messages) prompt = [...g.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  else if (typeof g.prompt === 'string') prompt = g.prompt;
  else if (g.prompt) prompt = g.prompt.map((t) => tokens.text(t)).join('');
  return {
    inferenceId: id, model: p.model, base: served.base.name, fineTunedModel: served.fineTunedName,
    adapters: usageAdapters(served), caller, prompt, completion: r.text,
  };
}
